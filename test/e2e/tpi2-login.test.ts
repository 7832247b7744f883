import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import { startBridge, testBridgeConfig, writeConfig, type CliProcess } from '../support/cli.js';
import type { Mosquitto } from '../support/mosquitto.js';
import type { Recorder } from '../support/recorder.js';
import { until } from '../support/wait.js';
import { startBrokerRun, stopBridgeAndBroker } from './harness.js';

/**
 * A wrong BMC password under a service manager's restart loop, as users meet it (issue 14):
 * the bridge CLI started again and again against the simulated BMC, which bans an address from
 * its 5th failed login in a row and never forgets before a success or a restart of bmcd.
 */

const BASE = 'e2elogin';
const BOARD_ID = 'tp2login';
const RIGHT = 'right-Pass-1';
const WRONG = 'wrong-Pass-1';

interface BmcPayload {
  login: string;
  reason: string | null;
  failures: number;
  firmware: string | null;
  bmcd: string | null;
}

describe('e2e: a wrong BMC password under a restart loop never gets the host banned', function () {
  this.timeout(120_000);

  let broker: Mosquitto;
  let recorder: Recorder;
  let bmc: BmcSimulator;
  let bridge: CliProcess | undefined;
  let dir: string;
  let file: string;
  const topic = (suffix: string): string => `${BASE}/${suffix}`;
  const penalty = (): number => bmc.state.penaltyOf('127.0.0.1') + bmc.state.penaltyOf('::ffff:127.0.0.1');
  const bmcState = (): BmcPayload => JSON.parse(recorder.last(topic('board/bmc'))?.payload ?? 'null') as BmcPayload;

  before(async function () {
    ({ broker, recorder, dir } = await startBrokerRun(this, BASE, 'tpm-e2e-login-'));
    bmc = await startBmcSimulator({ password: RIGHT, power: [true, false, false, false] });
    const config = testBridgeConfig({ dir, url: broker.url, base: BASE, id: BOARD_ID });
    config.board = {
      type: 'tpi2',
      id: BOARD_ID,
      name: 'Login TP2',
      poll_interval: '1s',
      // Pinned as a user pins a real BMC's expired certificate.
      bmc: { url: bmc.url, username: 'root', password: '${TEST_BMC_PASSWORD}', fingerprint: bmc.fingerprint },
    };
    file = writeConfig(dir, config, 'bridge.yaml');
  });

  after(async () => {
    await stopBridgeAndBroker({ bridge, recorder, broker, dir });
    await bmc?.close();
  });

  it(
    'six starts with a wrong password: each stays up with the board offline and the reason; 3 logins in ' + 'all',
    async () => {
      for (let run = 1; run <= 6; run++) {
        const from = recorder.mark();
        bridge = await startBridge(file, { env: { TEST_BMC_PASSWORD: WRONG } });
        assert.ok(bridge.running, `run ${run}: an authentication failure does not end the bridge`);
        await recorder.waitForPayload(topic('board/state'), 'offline', 5000, from);
        const event = await recorder.waitForEvent((e) => e.result === 'error' && /BMC/.test(e.error ?? ''), 5000, from);
        assert.match(
          event.error ?? '',
          run <= 3 ? /refused the login of user "root"/ : /not logging in to the BMC: automatic logins paused/,
        );
        const state = await recorder.waitFor(
          topic('board/bmc'),
          (m) => m.retain === false || m.payload.includes('"login"'),
          5000,
          from,
        );
        const payload = JSON.parse(state.payload) as BmcPayload;
        assert.equal(payload.login, run >= 3 ? 'paused' : 'failed', `run ${run}: ${state.payload}`);
        // A few polls (1 s apart) while it runs, as a service would.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        assert.equal(bmc.stats.logins, Math.min(run, 3), `run ${run}: login attempts so far`);
        const exit = await bridge.stop('SIGTERM');
        assert.equal(exit.code, 0);
        bridge = undefined;
      }
      assert.equal(bmc.stats.logins, 3);
      assert.equal(penalty(), 3, 'the BMC counted 3 failures, 2 short of a ban');
      assert.equal(bmc.stats.bans, 0);
      assert.equal(bmc.stats.bannedRequests, 0);
      const record = readFileSync(path.join(dir, 'state', 'bmc-login.json'), 'utf8');
      assert.ok(!record.includes(WRONG), 'the state file does not hold the password');
    },
  );

  it('the right password afterwards comes online at once', async () => {
    // The user fixed the password in the config.
    const from = recorder.mark();
    const started = Date.now();
    bridge = await startBridge(file, { env: { TEST_BMC_PASSWORD: RIGHT } });
    await recorder.waitForPayload(topic('board/state'), 'online', 5000, from);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(bmc.stats.logins, 4, 'one login, at once');
    await until(() => bmcState()?.login === 'ok', 'board/bmc says ok', 5000);
    assert.deepEqual(
      { ...bmcState(), firmware: undefined, bmcd: undefined },
      { login: 'ok', reason: null, failures: 0, firmware: undefined, bmcd: undefined },
    );
    await recorder.waitForPayload(topic('node/1/power'), 'ON', 5000, from);
  });

  it('a restart of bmcd costs exactly one login, and the board stays online', async () => {
    const logins = bmc.stats.logins;
    const stale = bmc.stats.staleTokens;
    const from = recorder.mark();
    bmc.restart();
    await until(() => bmc.stats.logins > logins, 'a new login', 10_000);
    // Several more polls on the new token.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.equal(bmc.stats.logins - logins, 1);
    assert.equal(bmc.stats.staleTokens - stale, 1);
    assert.equal(penalty(), 0);
    assert.ok(
      !recorder.since(from, topic('board/state')).some((m) => m.payload === 'offline'),
      'the board never went offline',
    );
  });

  it(
    '"Retry BMC login" (bridge/request/bmc/login) makes one login at once, with the reason when it ' + 'fails',
    async () => {
      await bridge!.stop('SIGTERM');
      bridge = await startBridge(file, { env: { TEST_BMC_PASSWORD: WRONG } });
      await until(() => bmcState()?.login === 'failed', 'board/bmc says failed', 5000);
      const logins = bmc.stats.logins;
      const from = recorder.mark();
      const answer = await recorder.request('bmc/login');
      assert.equal(answer.status, 'error');
      const asked = recorder.events(from).find((e) => e.type === 'bmc' && e.result === 'progress');
      assert.equal(asked?.transaction, answer.transaction, "the login's event carries the request's transaction");
      assert.match(
        answer.error ?? '',
        /the BMC login failed: .*refused the login of user "root": credentials incorrect/,
      );
      assert.equal(bmc.stats.logins, logins + 1, 'one attempt, without waiting for the spacing of automatic ones');
      assert.equal(penalty(), 2);
      assert.equal(bmcState().failures, 2);
      const bad = await recorder.request('bmc/login', { force: 'yes' });
      assert.equal(bad.status, 'error');
      assert.match(bad.error ?? '', /"force" must be true or false/);
      assert.equal(bmc.stats.logins, logins + 1);
    },
  );
});
