import type { BoardDriver } from '../board/types.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { HaPublisher } from './ha-publisher.js';

export interface BoardFactsDeps {
  driver: BoardDriver;
  connection: MqttConnection;
  topics: Topics;
  logger: Logger;
  /** `bridge/info` as it is now. */
  info(): object;
  ha: HaPublisher | undefined;
}

/**
 * The facts about the board that `bridge/info` and discovery show (firmware, fans, USB modes,
 * ...). A Turing Pi 2 whose BMC answers only after the start tells them late: at the poll after
 * that, both are published again.
 */
export class BoardFacts {
  private facts: string;

  constructor(private readonly deps: BoardFactsDeps) {
    this.facts = this.current();
  }

  /** Never throws: a failure is logged, and the next change tries again. */
  async poll(): Promise<void> {
    const facts = this.current();
    if (facts === this.facts) return;
    this.facts = facts;
    const { connection, topics, info, ha, logger } = this.deps;
    try {
      await connection.publishState(topics.bridgeInfo, JSON.stringify(info()));
      await ha?.refresh();
    } catch (error) {
      logger.warn(`republishing the board's facts failed: ${errorMessage(error)}`);
    }
  }

  private current(): string {
    const { firmware, bmcd, revision, hasFans, usbModes, reportsPowerOnTime, nodeNames } = this.deps.driver.info;
    return JSON.stringify([firmware, bmcd, revision, hasFans, usbModes, reportsPowerOnTime, nodeNames]);
  }
}
