import assert from 'node:assert/strict';
import { NodeModel } from '../../src/app/node-model.js';
import { Poller, type PollPart } from '../../src/app/poller.js';
import type { OpenedBoard } from '../../src/board/factory.js';
import type { PowerReading } from '../../src/board/types.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { topics } from '../../src/mqtt/topics.js';
import type { EventInput } from '../../src/power/types.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { captureLogger } from '../support/log-capture.js';

/** A poller over a board whose power reading the test decides (or makes fail), on a fake clock. */
function rig(extras: PollPart[] = []) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const nodes = resolveNodes(parseConfig({ board: { type: 'simulator' } }));
  const model = new NodeModel(nodes, clock);
  const reads: number[] = [];
  const board = {
    fail: undefined as string | undefined,
    power: [true, true, false, true, false, false, true] as (boolean | null)[],
  };
  const opened = {
    driver: {
      readPower: async (): Promise<PowerReading> => {
        reads.push(clock.now());
        if (board.fail) throw new Error(board.fail);
        return { power: [...board.power] };
      },
    },
    ensureOpen: async () => undefined,
  } as unknown as OpenedBoard;
  const states: string[] = [];
  const t = topics('tp');
  const connection = {
    publishState: async (topic: string, payload: string) => {
      if (topic === t.boardState && states.at(-1) !== payload) states.push(payload);
      return true;
    },
  } as unknown as MqttConnection;
  const events: EventInput[] = [];
  const log = captureLogger('info');
  const poller = new Poller({
    board: opened,
    nodes,
    model,
    connection,
    topics: t,
    clock,
    logger: log.logger,
    event: (e) => events.push(e),
    intervalMs: 1000,
    extras,
    boardClock: { poll: async () => undefined },
    followers: [],
  });
  return { clock, model, reads, board, poller, states, events, log };
}

describe('poller (app/poller.ts)', () => {
  it('reads the board every poll_interval once started, hands the reading to the node model, and counts', async () => {
    const { clock, model, reads, poller, states } = rig();
    await poller.poll();
    assert.equal(model.state(1), 'on');
    assert.equal(model.state(3), 'off');
    await clock.advance(3500);
    assert.equal(reads.length, 1, 'no loop before start()');
    poller.start();
    await clock.advance(3500);
    assert.equal(reads.length, 4);
    assert.deepEqual(
      reads.slice(1).map((at) => at - reads[0]! - 3500),
      [1000, 2000, 3000],
    );
    assert.equal(poller.status().polls, 4);
    assert.equal(poller.status().read_at, new Date(reads.at(-1)!).toISOString());
    assert.deepEqual(states, ['online']);
    poller.stop();
    await clock.advance(5000);
    assert.equal(reads.length, 4, 'no reading after stop()');
  });

  it('backs off while the board does not answer (up to a minute), says offline at the third failure', async () => {
    const { clock, reads, board, poller, states, events, log } = rig();
    await poller.poll();
    poller.start();
    board.fail = 'bus gone';
    await clock.advance(200_000);
    const gaps = reads.slice(1).map((at, i) => at - reads[i]!);
    assert.deepEqual(gaps.slice(0, 9), [1000, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    assert.deepEqual(states, ['online', 'offline']);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.error, 'the board does not answer: bus gone');
    assert.deepEqual(log.messages(40), [
      'reading the board failed (1x): bus gone',
      'reading the board failed (3x): bus gone',
    ]);
    board.fail = undefined;
    await clock.advance(60_000);
    assert.deepEqual(states, ['online', 'offline', 'online']);
    assert.ok(log.messages(30).includes('the board answers again'));
    const after = reads.length;
    await clock.advance(3000);
    assert.equal(reads.length, after + 3, 'back to poll_interval once it answers');
    poller.stop();
  });

  it('a failing extra (booted times, fan, USB) is logged once while it repeats; the board stays online', async () => {
    let failing = true;
    const extra: PollPart = {
      poll: async () => {
        if (failing) throw new Error('fan unreadable');
      },
    };
    const { clock, poller, states, log } = rig([extra]);
    await poller.poll();
    poller.start();
    await clock.advance(5000);
    failing = false;
    await clock.advance(1000);
    failing = true;
    await clock.advance(1000);
    assert.deepEqual(states, ['online']);
    const warned = log.messages(40).filter((m) => m.startsWith("reading the board's extras failed"));
    assert.deepEqual(warned, [
      "reading the board's extras failed: fan unreadable",
      "reading the board's extras failed: fan unreadable",
    ]);
    poller.stop();
  });
});
