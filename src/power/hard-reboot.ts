import type { BoardDriver } from '../board/types.js';
import type { Config } from '../config/schema.js';
import { sleep, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { nodeOffError } from './steps.js';
import { powerEvent, type EventInput, type NodeAction, type NodeLifecycle, type Origin } from './types.js';
import type { PowerWriter } from './writer.js';

/** What a hard reboot needs of the power service. */
export interface HardRebootDeps {
  driver: BoardDriver;
  power: Config['power'];
  clock: Clock;
  view: NodeLifecycle;
  event(event: EventInput): void;
}

/**
 * A hard reboot of node `n`: the board's own reset where it has one, else off, `reboot_off_time`,
 * on, each write verified by the writer. Resolves once the node is on again; the power service
 * answers for it and keeps the node busy meanwhile.
 */
export async function hardReboot(
  deps: HardRebootDeps,
  writer: PowerWriter,
  n: number,
  action: NodeAction,
  origin: Origin,
): Promise<void> {
  const { view, power, clock, driver } = deps;
  // Read now, as for "already off": a node switched off elsewhere since the last poll is not switched on.
  if ((await writer.look(n)) === false) throw nodeOffError(n);
  view.powerCycling(n, origin.source);
  deps.event(powerEvent(n, action, origin, { result: 'progress', message: 'power cycling' }));
  // A reboot asks for on, from its start, saved before its off: a crash before its on must not
  // leave an older off to restore (a node switched on elsewhere since its last OFF here).
  await writer.commanded(n, true);
  try {
    if (driver.info.nativeReset && driver.reset) {
      await writer.reset(n);
      await sleep(clock, power.reboot_off_time);
      await writer.refresh(n);
    } else {
      await writer.write(n, false, 'off');
      // Not abortable: a reboot under way when a stop is asked finishes first (docs/reliability.md,
      // "What happens to power when the bridge is stopped or killed").
      await sleep(clock, power.reboot_off_time);
      await writer.write(n, true, 'on');
    }
  } catch (error) {
    // Not left rebooting (a poll leaves that to the sequence): unknown until the next poll reads it.
    view.rebootFailed(n, origin.source, `power cycle failed: ${errorMessage(error)}`);
    throw error;
  }
  view.switchedOn(n, origin.source, 'power cycled');
  deps.event(powerEvent(n, action, origin, { result: 'ok', message: 'power cycled' }));
}
