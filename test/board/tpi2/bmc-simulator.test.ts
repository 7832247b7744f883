import assert from 'node:assert/strict';
import { startBmcSimulator, type BmcSimulator } from '../../../src/board/simulator/bmc-server.js';
import { createHttpsFetch, type ClosableFetch } from '../../../src/board/tpi2/https-fetch.js';
import { FakeClock } from '../../../src/util/fake-clock.js';

describe('BMC simulator (docs/hardware.md "Turing Pi 2 / 2.5: the BMC API")', () => {
  let clock: FakeClock;
  let bmc: BmcSimulator;
  let transport: ClosableFetch;

  beforeEach(async () => {
    clock = new FakeClock();
    bmc = await startBmcSimulator({ clock, password: 'turing', power: [true, false, false, false] });
    transport = createHttpsFetch({ ca: bmc.ca });
  });

  afterEach(async () => {
    transport.close();
    await bmc.close();
  });

  async function login(password: string): Promise<{ status: number; text: string }> {
    const response = await transport.fetch(`${bmc.url}/api/bmc/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'root', password }),
    });
    return { status: response.status, text: await response.text() };
  }

  async function get(query: string, authorization?: string) {
    const response = await transport.fetch(`${bmc.url}/api/bmc?${query}`, {
      headers: authorization ? { authorization } : {},
    });
    return { status: response.status, text: await response.text(), challenge: response.headers.get('www-authenticate') };
  }

  it('answers a login with a 64-character session id, and bad credentials with 403 and a text body', async () => {
    const good = await login('turing');
    assert.equal(good.status, 200);
    const session = JSON.parse(good.text) as { id: string; name: string; username: string };
    assert.equal(session.id.length, 64);
    assert.equal(session.name, 'User Session');
    const bad = await login('nope');
    assert.equal(bad.status, 403);
    assert.equal(bad.text, 'credentials incorrect');
  });

  it('asks for credentials with 401 and WWW-Authenticate, and accepts Bearer and Basic', async () => {
    const missing = await get('opt=get&type=power');
    assert.equal(missing.status, 401);
    assert.match(missing.challenge ?? '', /realm=/);
    const token = (JSON.parse((await login('turing')).text) as { id: string }).id;
    const bearer = await get('opt=get&type=power', `Bearer ${token}`);
    assert.deepEqual(JSON.parse(bearer.text), {
      response: [{ result: [{ node1: '1', node2: '0', node3: '0', node4: '0' }] }],
    });
    const basic = await get('opt=get&type=power', `Basic ${Buffer.from('root:turing').toString('base64')}`);
    assert.equal(basic.status, 200);
  });

  it('bans after 5 failures: even the right password is then refused', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login('nope')).status, 403);
    const banned = await login('turing');
    assert.equal(banned.status, 403);
    assert.match(banned.text, /Exceeded allowed authentication attempts/);
    assert.equal(bmc.stats.bans, 1);
    await clock.advance(61_000);
    assert.equal((await login('turing')).status, 200, 'the 1 min ban is over');
  });

  it('counts requests with a stale token as failures', async () => {
    const token = (JSON.parse((await login('turing')).text) as { id: string }).id;
    bmc.restart();
    const stale = await get('opt=get&type=power', `Bearer ${token}`);
    assert.equal(stale.status, 401);
    assert.match(stale.challenge ?? '', /invalid_token/);
    assert.equal(bmc.state.penaltyOf('127.0.0.1') + bmc.state.penaltyOf('::ffff:127.0.0.1'), 1);
  });

  it('answers 400 to a power value other than 0 or 1 and changes nothing', async () => {
    const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
    const answer = await get('opt=set&type=power&node2=1&node3=on', basic);
    assert.equal(answer.status, 400);
    assert.match(answer.text, /Invalid value `on` for parameter `node3`/);
    assert.deepEqual(bmc.state.stored, [true, false, false, false]);
  });

  it('resets with a zero-based index, bypassing the stored state: an off node comes on while power says "0"', async () => {
    const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
    assert.equal((await get('opt=set&type=reset&node=1', basic)).status, 200);
    await clock.advance(1_000);
    assert.equal(bmc.state.physical[1], true);
    const power = JSON.parse((await get('opt=get&type=power', basic)).text) as { response: [{ result: [Record<string, string>] }] };
    assert.equal(power.response[0].result[0].node2, '0');
    assert.equal((await get('opt=set&type=reset&node=4', basic)).status, 400);
  });
});
