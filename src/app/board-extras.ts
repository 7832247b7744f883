import type { BoardDriver } from '../board/types.js';
import type { ResolvedNode } from '../config/nodes.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { Clock } from '../util/clock.js';
import { isoTime } from '../util/iso-time.js';

/** A boot time that moves by less than this between polls is the same boot (polls are not instantaneous). */
const BOOT_JITTER_MS = 5000;

/**
 * What only some boards report: the Turing Pi 2 BMC's power-on time per slot (published as
 * `node/<n>/booted` for nodes without an agent, whose telemetry would say it better). The
 * board's fan and USB are board-controls.ts.
 */
export class BoardExtras {
  private readonly booted = new Map<number, number | null>();

  constructor(
    private readonly driver: BoardDriver,
    private readonly nodes: ResolvedNode[],
    private readonly connection: MqttConnection,
    private readonly topics: Topics,
    private readonly clock: Clock,
  ) {}

  get active(): boolean {
    return this.driver.readNodeTimes !== undefined;
  }

  async poll(): Promise<void> {
    if (this.driver.info.reportsPowerOnTime && this.driver.readNodeTimes) {
      const times = await this.driver.readNodeTimes();
      const now = this.clock.now();
      for (const node of this.nodes) {
        // An agent node's agent says when it booted; auto nodes get the board's time too (harmless once seen).
        if (!node.enabled || node.agent === true) continue;
        const seconds = times.powerOnSeconds[node.number - 1] ?? null;
        const at = seconds === null ? null : now - seconds * 1000;
        const last = this.booted.get(node.number);
        const same =
          last !== undefined && (at === null || last === null ? at === last : Math.abs(at - last) < BOOT_JITTER_MS);
        if (same) continue;
        this.booted.set(node.number, at);
        // "unknown" reads plainly on the topic; the discovery's value_template turns it into the
        // "None" that Home Assistant's timestamp sensor takes for unknown (an empty payload is ignored).
        // Down to the second: the BMC counts whole seconds, so the boot lies in the second before
        // `at`; rounded to the nearest, a node on for under a second was said to boot in the future.
        const payload = at === null ? 'unknown' : isoTime(Math.floor(at / 1000) * 1000);
        await this.connection.publishState(this.topics.nodeBooted(node.number), payload);
      }
    }
  }
}
