import type { BoardDriver, FanReading, UsbReading } from '../board/types.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { EventInput } from '../power/types.js';
import { errorMessage } from '../util/errors.js';
import { Mutex } from '../util/mutex.js';
import type { CommandTable } from './command-table.js';
import { InputError, payloadText, quote, type CommandPayload } from './input.js';

/**
 * The board's own controls beyond node power (docs/topics.md, docs/turing-pi-2.md): the fan of a
 * Turing Pi 2.5 as a percentage, and where the board's USB goes. Each state is read at every
 * poll and published retained when it changes; each set is verified by reading it back, and
 * bad input changes nothing and gets one error event.
 */

/** `<b>/board/fan`. */
export interface FanState {
  percentage: number;
  level: number;
  max_level: number;
}

/** A cooling level as a percentage of the highest level (rounded, so each level maps back to itself). */
export function levelToPercentage(level: number, maxLevel: number): number {
  return maxLevel > 0 ? Math.round((level * 100) / maxLevel) : 0;
}

/** A percentage as the nearest cooling level; anything above 0 % is at least level 1 (the fan runs). */
export function percentageToLevel(percentage: number, maxLevel: number): number {
  if (percentage <= 0) return 0;
  return Math.min(maxLevel, Math.max(1, Math.round((percentage * maxLevel) / 100)));
}

export function fanState(fan: FanReading): FanState {
  return { percentage: levelToPercentage(fan.speed, fan.maxSpeed), level: fan.speed, max_level: fan.maxSpeed };
}

/** The select's option for a USB state, e.g. "Node 2 (device)". */
export function usbOption(node: number, mode: 'host' | 'device'): string {
  return `Node ${node} (${mode})`;
}

/** `Node 2 (device)`, or JSON `{"node": 2, "mode": "device"}`. */
export function parseUsbCommand(
  text: string,
  modes: readonly ('host' | 'device')[],
  nodes: number,
): { node: number; mode: 'host' | 'device' } {
  const trimmed = text.trim();
  let node: unknown;
  let mode: unknown;
  if (trimmed.startsWith('{')) {
    try {
      ({ node, mode } = JSON.parse(trimmed) as { node?: unknown; mode?: unknown });
    } catch {
      throw new InputError('USB command is not valid JSON');
    }
  } else {
    const match = /^node\s*([0-9]{1,4})\s*\(\s*([a-z]+)\s*\)$/i.exec(trimmed);
    if (match) [node, mode] = [Number(match[1]), match[2]!.toLowerCase()];
  }
  const options = Array.from({ length: nodes }, (_, i) => modes.map((m) => usbOption(i + 1, m))).flat();
  const known = typeof node === 'number' && Number.isInteger(node) && node >= 1 && node <= nodes;
  if (!known || !modes.includes(mode as 'host')) {
    throw new InputError(`unknown USB command ${quote(trimmed)}: use one of ${options.join(', ')}`);
  }
  return { node: node as number, mode: mode as 'host' | 'device' };
}

export interface BoardControlsDeps {
  driver: BoardDriver;
  connection: MqttConnection;
  topics: Topics;
  event(input: EventInput): void;
}

export class BoardControls {
  /** The last level above 0, for ON: the fan comes back as it was. */
  private lastRunningLevel: number | null = null;
  /**
   * Commands run one after another, in the order they arrived: HA's fan sends ON and then the
   * percentage at once, and each reads the state the one before it left.
   */
  private readonly queue = new Mutex();

  constructor(private readonly deps: BoardControlsDeps) {}

  private get fan(): boolean {
    const { driver } = this.deps;
    return driver.info.hasFans && driver.readFan !== undefined && driver.setFanLevel !== undefined;
  }

  private get usbModes(): ('host' | 'device')[] {
    const { driver } = this.deps;
    if (!driver.readUsb || !driver.setUsb) return [];
    return (driver.info.usbModes ?? []).filter((m): m is 'host' | 'device' => m === 'host' || m === 'device');
  }

  /** Taken whatever the board: a board that was down at start may have a fan once it answers. */
  commands(): CommandTable {
    const { topics } = this.deps;
    return {
      [topics.fanSet]: (_topic, payload) => this.inOrder(() => this.onFanSet(payload)),
      [topics.usbSet]: (_topic, payload) => this.inOrder(() => this.onUsbSet(payload)),
    };
  }

  private inOrder(command: () => Promise<void>): Promise<void> {
    return this.queue.run(command);
  }

  /** Called on every poll after the board answered: publishes what changed. */
  async poll(): Promise<void> {
    if (this.fan) await this.publishFan(await this.deps.driver.readFan!());
    if (this.usbModes.length > 0) await this.publishUsb(await this.deps.driver.readUsb!());
  }

  private async publishFan(fan: FanReading): Promise<void> {
    if (fan.speed > 0) this.lastRunningLevel = fan.speed;
    await this.deps.connection.publishState(this.deps.topics.fan, JSON.stringify(fanState(fan)));
  }

  private async publishUsb(usb: UsbReading): Promise<void> {
    const state = { node: usb.node, mode: usb.mode, route: usb.route };
    await this.deps.connection.publishState(this.deps.topics.usb, JSON.stringify(state));
  }

  /** `ON`, `OFF` or a percentage 0-100 (Home Assistant's fan sends both to the one topic). */
  private async onFanSet(payload: CommandPayload): Promise<void> {
    const { driver, event } = this.deps;
    let level: number;
    try {
      if (!this.fan) {
        throw new InputError('this board has no fan the bridge can set (a Turing Pi 2.5 with BMC firmware 2.1 has)');
      }
      const raw = payloadText(payload).trim();
      const word = raw.toUpperCase();
      const current = await driver.readFan!();
      if (word === 'OFF') level = 0;
      else if (word === 'ON') level = current.speed > 0 ? current.speed : (this.lastRunningLevel ?? current.maxSpeed);
      else if (/^[0-9]{1,3}(\.[0-9]+)?$/.test(word) && Number(word) <= 100) {
        level = percentageToLevel(Number(word), current.maxSpeed);
      } else throw new InputError(`unknown fan command ${quote(raw)}: use ON, OFF or a percentage 0-100`);
      if (level === current.speed) {
        await this.publishFan(current);
        return;
      }
    } catch (error) {
      event({ type: 'fan', source: 'mqtt', result: 'error', error: errorMessage(error) });
      return;
    }
    try {
      const after = await driver.setFanLevel!(level);
      await this.publishFan(after);
      const message = `fan set to level ${after.speed} of ${after.maxSpeed} (${fanState(after).percentage} %)`;
      event({ type: 'fan', source: 'mqtt', result: 'ok', message });
    } catch (error) {
      event({ type: 'fan', source: 'mqtt', result: 'error', error: `setting the fan failed: ${errorMessage(error)}` });
    }
  }

  private async onUsbSet(payload: CommandPayload): Promise<void> {
    const { driver, event } = this.deps;
    let command: { node: number; mode: 'host' | 'device' };
    try {
      const modes = this.usbModes;
      if (modes.length === 0) {
        const why = "a Turing Pi 2.5's nodes all sit on its USB hub";
        throw new InputError(`the BMC offers no USB switch on this board (${why})`);
      }
      command = parseUsbCommand(payloadText(payload), modes, driver.info.nodes);
    } catch (error) {
      event({ type: 'usb', source: 'mqtt', result: 'error', error: errorMessage(error) });
      return;
    }
    try {
      const before = await driver.readUsb!();
      if (before.node === command.node && before.mode === command.mode && before.route === 'port') {
        // Already so: a set would only detach and re-attach the node's USB devices.
        await this.publishUsb(before);
        return;
      }
      const after = await driver.setUsb!(command.node, command.mode);
      await this.publishUsb(after);
      const message = `USB port routed to node ${after.node} (${after.mode})`;
      event({ type: 'usb', node: command.node, source: 'mqtt', result: 'ok', message });
    } catch (error) {
      const reason = `switching the USB failed: ${errorMessage(error)}`;
      event({ type: 'usb', node: command.node, source: 'mqtt', result: 'error', error: reason });
    }
  }
}
