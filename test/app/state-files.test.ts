import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultBridgeState } from '../../src/app/bridge-state.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { BASE, bridgeFixture, createCountedTpi1, filesIn, readBridgeState, until } from './helpers.js';

/**
 * What the bridge finds in state_dir at start (docs/configuration.md `state_dir`): a damaged file never stops it
 * (kept aside, defaults used, a warning), and an operation a crash left half done is reported.
 */
describe('bridge: state_dir at start', function () {
  this.timeout(20_000);
  const env = bridgeFixture('test');
  let stateDir: string;

  beforeEach(async () => {
    stateDir = env.stateDir;
    mkdirSync(stateDir, { recursive: true });
  });

  /**
   * Starts with `bridge.json` holding `text` and restore_on_start: last, expecting a refusal of
   * code STATE whose message matches each of `said`; the file is left as it was, no power written.
   */
  async function refusedWithBridgeJson(text: string, said: RegExp[]): Promise<void> {
    writeFileSync(path.join(stateDir, 'bridge.json'), text);
    const clock = new FakeClock(Date.now());
    const board = createCountedTpi1(clock);
    await assert.rejects(
      env.start({ clock, bus: board.countingBus, sections: { power: { restore_on_start: 'last' } } }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STATE', error.message);
        for (const pattern of said) assert.match(error.message, pattern);
        return true;
      },
    );
    assert.equal(readFileSync(path.join(stateDir, 'bridge.json'), 'utf8'), text, 'bridge.json left as it was');
    assert.equal(board.powerWrites(), 0, 'no power written');
  }

  it(
    'starts with garbage in bridge.json and schedules.json: warns, keeps the bad files aside, goes ' + 'online',
    async () => {
      const garbage = '{"version": 1, "maintenance": tru\u0000\u0001 not json';
      const schedulesGarbage = '\u0089PNG\r\n\u001a\n nothing like JSON';
      writeFileSync(path.join(stateDir, 'bridge.json'), garbage);
      writeFileSync(path.join(stateDir, 'schedules.json'), schedulesGarbage);
      const clock = new FakeClock(Date.now());
      const board = createCountedTpi1(clock);

      await env.start({
        clock,
        bus: board.countingBus,
        sections: { schedules: [{ name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', action: 'off', nodes: [5] }] },
      });
      await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online');

      const warnings = env.run.log.messages(40);
      for (const name of ['bridge.json', 'schedules.json']) {
        assert.ok(
          warnings.some((w) => w.includes(name) && /not valid|empty/.test(w) && w.includes('.corrupt-')),
          `a warning names ${name} and where it was kept; warnings:\n${warnings.join('\n')}`,
        );
      }
      const files = filesIn(stateDir);
      const keptBridge = files.filter((f) => f.startsWith('bridge.json.corrupt-'));
      const keptSchedules = files.filter((f) => f.startsWith('schedules.json.corrupt-'));
      assert.equal(keptBridge.length, 1, `bridge.json kept aside once (${files.join(', ')})`);
      assert.equal(keptSchedules.length, 1, `schedules.json kept aside once (${files.join(', ')})`);
      assert.equal(
        readFileSync(path.join(stateDir, keptBridge[0]!), 'utf8'),
        garbage,
        'the bad bridge.json is kept as it was',
      );
      assert.equal(
        readFileSync(path.join(stateDir, keptSchedules[0]!), 'utf8'),
        schedulesGarbage,
        'the bad schedules.json is kept as it was',
      );

      // The bridge works from defaults and writes good files again.
      const state = readBridgeState(stateDir);
      assert.equal(state.version, 1);
      assert.equal(state.maintenance, false);
      await env.rec.waitForPayload(`${BASE}/bridge/maintenance`, 'OFF');
      await env.rec.waitFor(`${BASE}/schedule/nightly`, (m) => JSON.parse(m.payload).enabled === true);
      const response = await env.rec.request('power', { node: 4, action: 'off' });
      assert.equal(response.status, 'ok', JSON.stringify(response));
      assert.equal(board.ds4520.nodePowered(4), false);
    },
  );

  it(
    'with restore_on_start: last, acts only on commanded values that are true or false, and ignores a damaged ' +
      'discovery index',
    async () => {
      // Valid JSON of the right outline, damaged inside (a hand edit, another version's format).
      const state = {
        ...defaultBridgeState(),
        commanded: { '2': 'off', '3': 0, '5': false, '6': null, '9': false, x: true },
        discovery: { 'homeassistant/device/lab_node2/config': 'switch', 'homeassistant/device/lab/config': ['sensor'] },
      };
      writeFileSync(path.join(stateDir, 'bridge.json'), JSON.stringify(state));
      const clock = new FakeClock(Date.now());
      const board = createCountedTpi1(clock);

      await env.start({
        clock,
        bus: board.countingBus,
        sections: { power: { restore_on_start: 'last' } },
      });
      await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online');
      assert.deepEqual(board.changes, [{ node: 5, on: false }], 'only node 5 (commanded false) was switched');
      const published = env.rec.since(0, (t) => t.startsWith('homeassistant/'));
      assert.deepEqual(
        published.map((m) => `${m.topic} ${m.payload}`),
        [],
        'nothing published from a damaged discovery index',
      );
      const saved = readBridgeState(stateDir);
      // Node 9 is well-formed (this board just has no node 9: restore passes it by); the rest is dropped.
      assert.deepEqual(saved.commanded, { '5': false, '9': false }, 'the damaged values are not written back');
      assert.deepEqual(saved.discovery, {});
    },
  );

  it('refuses a bridge.json of a newer release (a downgrade): says so, leaves the file as it is', async () => {
    // What a newer release might write: a version of its own, maintenance on, node 5 asked off.
    const newer = JSON.stringify({ ...defaultBridgeState(), version: 2, maintenance: true, commanded: { '5': false } });
    await refusedWithBridgeJson(newer, [/bridge\.json/, /newer release/, /version 2/]);
    assert.deepEqual(filesIn(stateDir), ['bridge.json'], 'nothing kept aside, nothing else written');
  });

  it('refuses a schedules.json of a newer release before restore_on_start switched anything', async () => {
    const asked = JSON.stringify({ ...defaultBridgeState(), commanded: { '5': false } });
    const newer = JSON.stringify({ version: 3, schedules: {} });
    writeFileSync(path.join(stateDir, 'bridge.json'), asked);
    writeFileSync(path.join(stateDir, 'schedules.json'), newer);
    const clock = new FakeClock(Date.now());
    const board = createCountedTpi1(clock);
    const sections = {
      power: { restore_on_start: 'last' },
      schedules: [{ name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', action: 'off', nodes: [5] }],
    };

    const start = env.start({ clock, bus: board.countingBus, sections });
    await assert.rejects(start, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STATE', error.message);
      assert.match(error.message, /schedules\.json.*newer release.*version 3/);
      return true;
    });
    assert.equal(readFileSync(path.join(stateDir, 'schedules.json'), 'utf8'), newer, 'schedules.json left as it was');
    assert.deepEqual(filesIn(stateDir).sort(), ['bridge.json', 'schedules.json'], 'nothing kept aside');
    assert.equal(board.powerWrites(), 0, 'node 5 not switched off by the restore');
  });

  it('refuses a state_dir it cannot write with code STATE, naming it, before the board is touched', async () => {
    // A state_dir below a file cannot be created: as a directory of another user cannot be written.
    const blocked = path.join(stateDir, 'a-file');
    writeFileSync(blocked, 'not a directory');
    const clock = new FakeClock(Date.now());
    const board = createCountedTpi1(clock);
    let configWrites = 0;
    const bus = {
      ...board.countingBus,
      writeByte: (address: number, register: number, byte: number) => {
        configWrites++;
        return board.countingBus.writeByte(address, register, byte);
      },
    };

    const start = env.start({ clock, bus }, path.join(blocked, 'state'));
    await assert.rejects(start, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STATE', error.message);
      assert.match(error.message, /state_dir .*a-file\/state cannot be written/);
      return true;
    });
    assert.equal(configWrites, 0, 'nothing written to the board (not even SEE)');
  });

  it("refuses a state_dir holding another board's state: two boards' bridges given one directory", async () => {
    // It was taken as this board's: node 5 switched off as the other board last asked, its
    // interrupted actions reported here, its Home Assistant entities cleared.
    const other = JSON.stringify({ ...defaultBridgeState(), board_id: 'rack-b', commanded: { '5': false } });
    await refusedWithBridgeJson(other, [
      /holds the state of board "rack-b" \(board\.id\), not of this board "lab"/,
      /a state_dir of its own/,
    ]);
  });

  it('keeps its board.id in bridge.json, taking a file of an older release (none kept) as its own', async () => {
    const older = { ...defaultBridgeState() } as Record<string, unknown>;
    delete older.board_id;
    writeFileSync(path.join(stateDir, 'bridge.json'), JSON.stringify(older));
    const clock = new FakeClock(Date.now());
    await env.start({ clock, bus: createCountedTpi1(clock).countingBus });
    await env.rec.waitForPayload(`${BASE}/bridge/state`, 'online');
    assert.equal(readBridgeState(stateDir).board_id, 'lab');
  });

  it('reports an operation a crash left in bridge.json as interrupted, and removes it', async () => {
    const crashed = defaultBridgeState();
    crashed.in_flight = [{ node: 5, action: 'shutdown', source: 'schedule', started_at: '2026-11-20T03:00:00.000Z' }];
    crashed.last_started_at = '2026-11-20T02:00:00.000Z';
    writeFileSync(path.join(stateDir, 'bridge.json'), JSON.stringify(crashed));
    const clock = new FakeClock(Date.now());
    const board = createCountedTpi1(clock);

    await env.start({ clock, bus: board.countingBus });
    const event = await env.rec.waitForEvent((e) => e.source === 'startup' && e.result === 'error');
    assert.equal(event.node, 5);
    assert.equal(event.action, 'shutdown');
    assert.match(event.error ?? '', /interrupted/);
    assert.match(event.error ?? '', /node 5/);
    await until(() => readBridgeState(stateDir).in_flight.length === 0, 'the in_flight entry removed from bridge.json');
    assert.equal(
      readBridgeState(stateDir).last_started_at,
      new Date(clock.now()).toISOString(),
      'this run recorded its start',
    );
    assert.equal(board.changes.length, 0, 'the interrupted shutdown is not resumed: no power change');
    assert.ok(
      env.run.log.messages(40).some((m) => m.includes('node 5') && m.includes('interrupted')),
      'and it is logged as a warning',
    );
  });
});
