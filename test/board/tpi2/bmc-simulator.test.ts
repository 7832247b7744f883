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
    return {
      status: response.status,
      text: await response.text(),
      challenge: response.headers.get('www-authenticate'),
    };
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

  const penalty = (): number => bmc.state.penaltyOf('127.0.0.1') + bmc.state.penaltyOf('::ffff:127.0.0.1');
  const token = async (): Promise<string> => (JSON.parse((await login('turing')).text) as { id: string }).id;

  it('bans from the 5th failure in a row, however slow: failures have no time window', async () => {
    for (let i = 0; i < 4; i++) {
      assert.equal((await login('nope')).status, 403);
      // A day between failures changes nothing: only a success or a restart of bmcd clears them.
      await clock.advance(86_400_000);
    }
    assert.equal(penalty(), 4);
    assert.equal(bmc.stats.bans, 0);
    const fifth = await login('nope');
    assert.equal(fifth.status, 403);
    assert.match(fifth.text, /Exceeded allowed authentication attempts/);
    assert.equal(bmc.stats.bans, 1);
  });

  it(
    'refuses a banned address even with the right password, without counting that, for 60 s x 2^min(n-5, ' + '10)',
    async () => {
      for (let i = 0; i < 5; i++) await login('nope');
      const banned = await login('turing');
      assert.equal(banned.status, 403);
      assert.match(banned.text, /Exceeded allowed authentication attempts/);
      assert.equal(penalty(), 5, 'a refusal during a ban is not a failure');
      // API calls of a banned address: 401 with the same words, whatever the credentials.
      const basic = await get('opt=get&type=power', `Basic ${Buffer.from('root:turing').toString('base64')}`);
      assert.equal(basic.status, 401);
      assert.match(basic.text, /Exceeded allowed authentication attempts/);
      await clock.advance(59_000);
      assert.equal((await login('turing')).status, 403, 'the 5th failure bans for 1 min');
      await clock.advance(1_500);
      // The 6th failure bans for 2 min, the 7th for 4, ... from the moment of the failure.
      const expected = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024];
      for (const minutes of expected) {
        assert.equal((await login('nope')).status, 403);
        await clock.advance(minutes * 60_000 - 1_000);
        assert.match((await login('turing')).text, /Exceeded allowed/, `still banned within ${minutes} min`);
        await clock.advance(1_500);
      }
      assert.equal(penalty(), 5 + expected.length);
      assert.equal(
        (await login('turing')).status,
        200,
        'the ban is over: the right password works and clears the count',
      );
      assert.equal(penalty(), 0);
    },
  );

  it('clears the count on a success: a login, or a request with a good token', async () => {
    for (let i = 0; i < 4; i++) await login('nope');
    const good = await token();
    assert.equal(penalty(), 0);
    for (let i = 0; i < 4; i++) await login('nope');
    assert.equal((await get('opt=get&type=power', `Bearer ${good}`)).status, 200);
    assert.equal(penalty(), 0);
  });

  it('counts an unknown token, not an expired one, and never a missing header', async () => {
    const old = await token();
    await clock.advance(10_800_000);
    const expired = await get('opt=get&type=power', `Bearer ${old}`);
    assert.equal(expired.status, 401);
    assert.match(expired.text, /token expired/);
    assert.equal(penalty(), 0, 'an expired token is not counted');
    // Once expired, the token is forgotten: sent again, it is unknown, and that is counted.
    assert.equal((await get('opt=get&type=power', `Bearer ${old}`)).status, 401);
    assert.equal(penalty(), 1);
    assert.equal((await get('opt=get&type=power')).status, 401);
    assert.equal(penalty(), 1, 'no Authorization header: asked for credentials, not counted');
  });

  it('does not count credentials it cannot read: a login body without both fields, Basic without a colon', async () => {
    // bmcd parses before it judges: a login body that is not {username, password} (strings) and
    // Basic credentials without "user:" are parse errors, refused and never penalized.
    for (const body of [{ username: 'root' }, { username: 'root', password: 7 }, {}]) {
      const response = await transport.fetch(`${bmc.url}/api/bmc/authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 403, JSON.stringify(body));
    }
    assert.equal(penalty(), 0, 'a login body that cannot be read is not a failed login');
    const noColon = await get('opt=get&type=power', `Basic ${Buffer.from('rootturing').toString('base64')}`);
    assert.equal(noColon.status, 401);
    assert.equal(penalty(), 0, 'Basic credentials without a colon are not counted');
    assert.equal((await login('nope')).status, 403);
    assert.equal(penalty(), 1, 'a wrong password is');
  });

  it('forgets every token and every failure when bmcd restarts', async () => {
    const before = await token();
    for (let i = 0; i < 4; i++) await login('nope');
    bmc.restart();
    assert.equal(penalty(), 0);
    const stale = await get('opt=get&type=power', `Bearer ${before}`);
    assert.equal(stale.status, 401);
    assert.match(stale.challenge ?? '', /invalid_token/);
    assert.match(stale.text, /is not registered/);
    assert.equal(penalty(), 1);
  });

  it('answers 400 to a power value other than 0 or 1 and changes nothing', async () => {
    const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
    const answer = await get('opt=set&type=power&node2=1&node3=on', basic);
    assert.equal(answer.status, 400);
    assert.match(answer.text, /Invalid value `on` for parameter `node3`/);
    assert.deepEqual(bmc.state.stored, [true, false, false, false]);
  });

  it('answers a power set that names no node with a 500, as bmcd does, and changes nothing', async () => {
    // bmcd's activate_slot: ensure!(mask != 0), an anyhow error under the context "set power state".
    const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
    for (const query of ['opt=set&type=power', 'opt=set&type=power&node5=1', 'opt=set&type=power&node=1']) {
      const answer = await get(query, basic);
      assert.equal(answer.status, 500, query);
      assert.deepEqual(JSON.parse(answer.text), {
        response: [{ result: 'Failed to set power state: Condition failed: `mask != 0` (0 vs 0)' }],
      });
    }
    assert.deepEqual(bmc.state.stored, [true, false, false, false]);
    assert.equal(bmc.stats.powerSets, 0);
  });

  it('reads the node of a reset as bmcd does: an i32 cast to u8, so 256 is node 1', async () => {
    const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
    // bmcd's get_node_param: i32::from_str, then `value as u8` into a NodeId (0-3).
    assert.equal((await get('opt=set&type=reset&node=256', basic)).status, 200);
    assert.equal(bmc.stats.resets, 1);
    assert.equal(bmc.state.physical[0], false, 'node 1 is in its power cycle');
    const tooBig = await get('opt=set&type=reset&node=2147483648', basic);
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.text, /Parameter `node` is not a number/);
    const negative = await get('opt=set&type=reset&node=-1', basic);
    assert.equal(negative.status, 400);
    assert.match(negative.text, /out of range 0\.\.3 of node IDs/);
    assert.equal(bmc.stats.resets, 1);
  });

  it(
    'resets with a zero-based index, bypassing the stored state: an off node comes on while power says ' + '"0"',
    async () => {
      const basic = `Basic ${Buffer.from('root:turing').toString('base64')}`;
      assert.equal((await get('opt=set&type=reset&node=1', basic)).status, 200);
      await clock.advance(1_000);
      assert.equal(bmc.state.physical[1], true);
      const power = JSON.parse((await get('opt=get&type=power', basic)).text) as {
        response: [{ result: [Record<string, string>] }];
      };
      assert.equal(power.response[0].result[0].node2, '0');
      assert.equal((await get('opt=set&type=reset&node=4', basic)).status, 400);
    },
  );
});
