import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import type { CommandSource } from '../power/types.js';
import type { BridgeState } from './bridge-state.js';
import { commandWord, type CommandTable } from './command-table.js';
import type { EventSink } from './event-sink.js';

export interface MaintenanceDeps {
  state: BridgeState;
  connection: MqttConnection;
  topics: Topics;
  event: EventSink;
}

/**
 * Maintenance mode (docs/topics.md, `bridge/maintenance`): kept in state_dir across restarts;
 * while on, the schedules and the policies pause (they ask `paused`).
 */
export class Maintenance {
  private readonly listeners: ((on: boolean) => void)[] = [];

  constructor(private readonly deps: MaintenanceDeps) {}

  /** Told of every change once it is saved and published (the thermal policy acts when maintenance ends). */
  listen(listener: (on: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Arrow: handed to the scheduler and the policies as their isPaused. */
  readonly paused = (): boolean => this.deps.state.data.maintenance;

  commands(): CommandTable {
    return {
      [this.deps.topics.maintenanceSet]: async (_topic, payload) => {
        const word = commandWord(payload, 'maintenance', ['ON', 'OFF'], this.deps.event);
        if (word) await this.set(word === 'ON', 'mqtt');
      },
    };
  }

  /** Publishes the state kept from the last run. */
  async start(): Promise<void> {
    await this.deps.connection.publishState(this.deps.topics.maintenance, this.paused() ? 'ON' : 'OFF');
  }

  async set(on: boolean, source: CommandSource): Promise<void> {
    const { state, connection, topics, event } = this.deps;
    await state.update((d) => {
      d.maintenance = on;
    });
    await connection.publishState(topics.maintenance, on ? 'ON' : 'OFF');
    const message = on ? 'maintenance on: schedules and policies paused' : 'maintenance off';
    event({ type: 'maintenance', source, result: 'ok', message });
    for (const listener of this.listeners) listener(on);
  }
}
