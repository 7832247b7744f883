import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBridge, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import type { Mosquitto } from '../support/mosquitto.js';
import type { Recorder, RecordedMessage } from '../support/recorder.js';
import { until } from '../support/wait.js';
import { startBrokerRun, stopBridgeAndBroker } from './harness.js';

/**
 * A 6-field cron schedule (seconds first) switching a simulated node through real MQTT
 * (issue 3, "an integration test where a 6-field schedule switches a simulated node"): the
 * built bridge CLI, a real mosquitto, a simulated Turing Pi 1.
 */

const BASE = 'e2es';
const NAME = 'nap';
/** Runs with the same cron as NAME; proves occurrences came and went while NAME was disabled. */
const CANARY = 'canary';
const CRON = '*/3 * * * * *';

interface SchedulePayload {
  enabled: boolean;
  cron: string;
  timezone: string;
  action: string;
  nodes: number[] | 'all';
  next_run: string | null;
  last_run: string | null;
  last_result: string | null;
}

const parse = (m: RecordedMessage): SchedulePayload => JSON.parse(m.payload) as SchedulePayload;

describe('e2e: a 6-field cron schedule switches a simulated node through real MQTT', function () {
  this.timeout(30_000);

  let broker: Mosquitto;
  let recorder: Recorder;
  let bridge: CliProcess | undefined;
  let dir: string;

  const topic = (suffix: string): string => `${BASE}/${suffix}`;
  const scheduleTopic = `${BASE}/schedule/${NAME}`;
  const canaryTopic = `${BASE}/schedule/${CANARY}`;

  before(async function () {
    ({ broker, recorder, dir } = await startBrokerRun(this, BASE, 'tpm-e2e-schedule-'));
    const config = testBridgeConfig({
      dir,
      url: broker.url,
      base: BASE,
      id: 'e2es',
      overrides: { homeassistant: { enabled: false } },
    });
    // catch_up 0: only occurrences that come while the bridge runs, none made up at start.
    config.schedules = [
      { name: NAME, cron: CRON, timezone: 'UTC', action: 'off', nodes: [5], catch_up: 0 },
      { name: CANARY, cron: CRON, timezone: 'UTC', action: 'on', nodes: [6], catch_up: 0 },
    ] as unknown as Record<string, unknown>;
    bridge = await startBridge(writeConfig(dir, config, 'bridge.yaml'));
  });

  after(async () => {
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
  });

  /**
   * Switches node 5 on by command and waits until the bridge is done with it. The read-back and
   * the ok event are published before the bridge has recorded the end of the operation in
   * state_dir (bridge.json in_flight); until then the node is "busy" and another command is
   * refused, so that is waited for too.
   */
  async function switchNode5On(): Promise<number> {
    const from = recorder.mark();
    await recorder.command(5, 'ON');
    await recorder.waitForPayload(topic('node/5/power'), 'ON', 5000, from);
    await recorder.waitForEvent((e) => e.node === 5 && e.source === 'mqtt' && e.result === 'ok', 2000, from);
    await until(() => !inFlight().includes(5), 'node 5 to leave in_flight in bridge.json');
    return from;
  }

  function inFlight(): number[] {
    try {
      return (
        JSON.parse(readFileSync(path.join(dir, 'state', 'bridge.json'), 'utf8')) as { in_flight: { node: number }[] }
      ).in_flight.map((e) => e.node);
    } catch {
      return [-1]; // being replaced (atomic rename): not known yet
    }
  }

  /** Waits for the end of the next run of NAME (the event that says it is done). */
  async function justAfterARun(): Promise<void> {
    await recorder.waitForEvent(
      (e) =>
        e.type === 'schedule' &&
        e.source === 'schedule' &&
        e.result !== 'progress' &&
        (e.message ?? e.error ?? '').includes(`schedule ${NAME}`),
      5000,
      recorder.mark(),
    );
  }

  it('switches node 5 off at its next occurrence, with schedule events and its state updated', async () => {
    const initial = parse(await recorder.waitFor(scheduleTopic, () => true, 5000));
    assert.deepEqual(
      {
        enabled: initial.enabled,
        cron: initial.cron,
        timezone: initial.timezone,
        action: initial.action,
        nodes: initial.nodes,
      },
      { enabled: true, cron: CRON, timezone: 'UTC', action: 'off', nodes: [5] },
    );
    assert.ok(initial.next_run !== null, 'an enabled schedule shows its next run');

    // Right after a run, so the ON does not meet a run under way (the node would be busy).
    await justAfterARun();
    const onSentAt = Date.now();
    const from = await switchNode5On();
    const off = await recorder.waitForPayload(topic('node/5/power'), 'OFF', 5000, from);

    const nodeEvent = await recorder.waitForEvent(
      (e) => e.node === 5 && e.source === 'schedule' && e.result !== 'progress',
      2000,
      from,
    );
    assert.equal(nodeEvent.result, 'ok', JSON.stringify(nodeEvent));
    assert.equal(nodeEvent.action, 'off');
    const done = await recorder.waitForEvent(
      (e) =>
        e.type === 'schedule' &&
        e.source === 'schedule' &&
        e.result !== 'progress' &&
        (e.message ?? e.error ?? '').includes(`schedule ${NAME}`),
      2000,
      from,
    );
    assert.equal(done.result, 'ok', JSON.stringify(done));
    assert.match(done.message ?? '', new RegExp(NAME));

    // The state of the run that switched it off: last_run is that occurrence, the result ok.
    const state = parse(
      await recorder.waitFor(
        scheduleTopic,
        (m) => Date.parse(parse(m).last_run ?? '') > onSentAt && parse(m).last_result === 'ok',
        3000,
        from,
      ),
    );
    assert.equal(state.last_result, 'ok');
    assert.equal(state.enabled, true);
    // The run happened at a whole multiple of 3 s (6-field cron, seconds first), just before the OFF.
    const ran = Date.parse(state.last_run!);
    assert.equal(new Date(ran).getUTCSeconds() % 3, 0, state.last_run!);
    assert.ok(
      off.at - ran >= 0 && off.at - ran < 2000,
      `run at ${state.last_run}, OFF received ${off.at - ran} ms later`,
    );
    assert.ok(state.next_run !== null && Date.parse(state.next_run) > ran);
  });

  it('schedule/<name>/set OFF disables it: its occurrences pass and node 5 stays on', async () => {
    // Just after a run, so that no run is under way while it is disabled.
    await justAfterARun();
    const from = recorder.mark();
    await recorder.publish(topic(`schedule/${NAME}/set`), 'OFF');
    const disabled = parse(await recorder.waitFor(scheduleTopic, (m) => !parse(m).enabled, 3000, from));
    assert.equal(disabled.next_run, null, 'a disabled schedule has no next run');
    await recorder.waitForEvent((e) => e.type === 'schedule' && e.source === 'mqtt' && e.result === 'ok', 2000, from);
    // A wrong word is named as it was sent, not in capitals.
    await recorder.publish(topic(`schedule/${NAME}/set`), 'maybe');
    const wrong = await recorder.waitForEvent((e) => e.type === 'schedule' && e.result === 'error', 2000, from);
    assert.equal(wrong.error, 'unknown schedule command "maybe": use ON, OFF or RUN');

    const disabledAt = Date.now();
    const afterDisable = await switchNode5On();
    // Two occurrences of the same cron come and go after the disable: the canary runs at both.
    const canaryRuns = new Set<string>();
    await recorder.waitFor(
      canaryTopic,
      (m) => {
        const run = parse(m).last_run;
        if (run !== null && Date.parse(run) > disabledAt) canaryRuns.add(run);
        return canaryRuns.size >= 2;
      },
      10_000,
      from,
    );

    assert.deepEqual(
      recorder.since(afterDisable, topic('node/5/power')).map((m) => m.payload),
      ['ON'],
      'node 5 was not switched off again',
    );
    assert.deepEqual(
      recorder.events(afterDisable).filter((e) => e.node === 5 && e.source !== 'mqtt'),
      [],
      'no schedule touched node 5 after the ON',
    );
    const state = parse(recorder.last(scheduleTopic)!);
    assert.equal(state.enabled, false);
    assert.equal(state.last_run, disabled.last_run, 'the disabled schedule did not run');
  });

  it(
    'schedule/<name>/set ON enables it again: the occurrences it missed are not made up, the next one ' + 'runs',
    async () => {
      const from = recorder.mark();
      const enabledAt = Date.now();
      await recorder.publish(topic(`schedule/${NAME}/set`), 'ON');
      const enabled = parse(await recorder.waitFor(scheduleTopic, (m) => parse(m).enabled, 3000, from));
      assert.ok(
        enabled.next_run !== null && Date.parse(enabled.next_run) > enabledAt,
        `next run ${enabled.next_run} is in the future`,
      );

      const off = await recorder.waitForPayload(topic('node/5/power'), 'OFF', 5000, from);
      const state = parse(
        await recorder.waitFor(
          scheduleTopic,
          (m) => parse(m).last_run !== enabled.last_run && parse(m).last_result !== null,
          3000,
          from,
        ),
      );
      assert.equal(state.last_result, 'ok');
      assert.equal(state.last_run, enabled.next_run, 'the run was the occurrence announced as next, not a missed one');
      assert.ok(
        off.at >= Date.parse(enabled.next_run!),
        'node 5 was switched off at that occurrence, not at the enable',
      );
    },
  );

  it('bridge/request/schedule/run runs it now and answers with the transaction', async () => {
    // Between two occurrences (the schedule is enabled again), with node 5 on.
    await justAfterARun();
    const from = await switchNode5On();
    const answer = await recorder.request('schedule/run', { name: NAME });
    assert.equal(answer.status, 'ok', JSON.stringify(answer));
    assert.equal(typeof answer.transaction, 'string', 'the response carries the request transaction');
    const data = answer.data as SchedulePayload;
    assert.equal(data.last_result, 'ok');
    await recorder.waitForPayload(topic('node/5/power'), 'OFF', 3000, from);
    const nodeEvent = await recorder.waitForEvent(
      (e) => e.node === 5 && e.source === 'schedule' && e.result === 'ok',
      2000,
      from,
    );
    assert.equal(nodeEvent.action, 'off');
    // Every event of the run it asked for carries its transaction (docs/topics.md).
    assert.equal(nodeEvent.transaction, answer.transaction);
    // The schedule's own occurrences go on meanwhile: the run asked for is the one "run by request".
    const runEvents = recorder
      .events(from)
      .filter((e) => e.type === 'schedule' && e.source === 'schedule' && e.node === undefined)
      .filter((e) => e.message?.includes('run by request') || (e.result === 'ok' && e.transaction !== undefined));
    assert.equal(runEvents.length, 2, JSON.stringify(runEvents));
    for (const e of runEvents) assert.equal(e.transaction, answer.transaction, JSON.stringify(e));

    // An unknown schedule: an error answer, same transaction rule.
    const unknown = await recorder.request('schedule/run', { name: 'nope' });
    assert.equal(unknown.status, 'error');
    assert.match(unknown.error ?? '', /unknown schedule/);
    // No name at all is said so, not called a schedule named "undefined".
    const nameless = await recorder.request('schedule/enable', { enabled: true });
    assert.equal(nameless.error, '"name" is missing: the name of a schedule');
    const numbered = await recorder.request('schedule/enable', { name: 5, enabled: true });
    assert.equal(numbered.error, '"name" must be a string');
  });
});
