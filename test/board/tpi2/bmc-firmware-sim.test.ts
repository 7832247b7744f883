import assert from 'node:assert/strict';
import {
  startBmcSimulator,
  type BmcSimulator,
  type BmcSimulatorOptions,
} from '../../../src/board/simulator/bmc-server.js';
import { createHttpsFetch, type ClosableFetch } from '../../../src/board/tpi2/https-fetch.js';
import { FakeClock } from '../../../src/util/fake-clock.js';

/**
 * The simulated BMC answers as the firmware's own handlers do (bmcd's legacy API at v2.0.5 and
 * v2.3.4, docs/turing-pi-2.md): the calls each release has and lacks, and their shapes.
 */
describe('BMC simulator: firmware releases 2.0.5 and 2.1.0, boards 2.4 and 2.5', () => {
  const BASIC = `Basic ${Buffer.from('root:turing').toString('base64')}`;
  let clock: FakeClock;
  let bmc: BmcSimulator | undefined;
  let transport: ClosableFetch | undefined;

  async function start(options: Partial<BmcSimulatorOptions>): Promise<void> {
    bmc = await startBmcSimulator({ clock, password: 'turing', power: [true, false, false, false], ...options });
    transport = createHttpsFetch({ ca: bmc.ca });
  }

  async function get(query: string): Promise<{ status: number; body: { response: [{ result: unknown }] } }> {
    const response = await transport!.fetch(`${bmc!.url}/api/bmc?${query}`, { headers: { authorization: BASIC } });
    return { status: response.status, body: JSON.parse(await response.text()) as { response: [{ result: unknown }] } };
  }

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 2, 1, 12));
  });

  afterEach(async () => {
    transport?.close();
    await bmc?.close();
    bmc = undefined;
  });

  it(
    '2.0.5: about without board facts, node_info and cooling answer 400, usb routes UsbA without ' + 'bus_type',
    async () => {
      await start({ release: '2.0.5', board: '2.4' });
      const about = await get('opt=get&type=about');
      assert.equal(about.status, 200);
      const facts = about.body.response[0].result as Record<string, string>;
      assert.deepEqual(Object.keys(facts).sort(), ['api', 'build_version', 'buildroot', 'buildtime', 'version']);
      assert.equal(facts.version, '2.0.5');
      for (const type of ['node_info', 'cooling', 'usb_node1']) {
        const answer = await get(`opt=get&type=${type}`);
        assert.equal(answer.status, 400, type);
        assert.deepEqual(answer.body, { response: [{ result: `Invalid \`type\` parameter ${type}` }] });
      }
      assert.deepEqual((await get('opt=get&type=usb')).body.response[0].result, [
        { mode: 'Device', node: 'Node 1', route: 'UsbA' },
      ]);
    },
  );

  it('2.1.0: about with bmcd 2.3.4 in version, the OS release in build_version, and the board', async () => {
    await start({ release: '2.1.0', board: '2.5' });
    const facts = (await get('opt=get&type=about')).body.response[0].result as Record<string, string>;
    assert.equal(facts.version, '2.3.4');
    assert.equal(facts.build_version, '2024.05.1');
    assert.equal(facts.board_model, 'Turing Pi 2');
    assert.equal(facts.board_revision, '2.5.1');
    assert.deepEqual((await get('opt=get&type=cooling')).body.response[0].result, [
      { device: 'system fan', speed: 3, max_speed: 6 },
    ]);
    assert.deepEqual((await get('opt=get&type=usb')).body.response[0].result, [
      { mode: 'Device', node: 'Node 1', route: 'AlternativePort', bus_type: 'Usb hub' },
    ]);
    const host = await get('opt=set&type=usb&node=1&mode=0');
    assert.equal(host.status, 500, "the 2.5 board's hub refuses host mode");
    assert.match(String(host.body.response[0].result), /not supported by the current hardware/);
  });

  it('2.1.0 on a 2.4 board: cooling is [], usb is a single bus', async () => {
    await start({ release: '2.1.0', board: '2.4' });
    assert.deepEqual((await get('opt=get&type=cooling')).body.response[0].result, []);
    assert.equal(
      ((await get('opt=get&type=usb')).body.response[0].result as [{ bus_type: string }])[0].bus_type,
      'Single bus',
    );
    const fan = await get('opt=set&type=cooling&device=system%20fan&speed=2');
    assert.equal(fan.status, 500);
    assert.match(String(fan.body.response[0].result), /does not exist/);
  });

  it('cooling set takes a level up to max_speed and refuses more', async () => {
    await start({ release: '2.1.0', board: '2.5' });
    assert.equal((await get('opt=set&type=cooling&device=system%20fan&speed=6')).status, 200);
    assert.equal(bmc!.firmware.fanLevel, 6);
    const over = await get('opt=set&type=cooling&device=system%20fan&speed=7');
    assert.equal(over.status, 500);
    assert.match(String(over.body.response[0].result), /exceeds maximum speed of '6'/);
    assert.equal(bmc!.firmware.fanLevel, 6);
  });

  it('usb mode 3 makes bmcd panic: no answer, and every session token is gone', async () => {
    await start({ release: '2.1.0', board: '2.4' });
    const login = await transport!.fetch(`${bmc!.url}/api/bmc/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'root', password: 'turing' }),
    });
    const token = (JSON.parse(await login.text()) as { id: string }).id;
    await assert.rejects(get('opt=set&type=usb&node=0&mode=3'));
    assert.equal(bmc!.stats.crashes, 1);
    const stale = await transport!.fetch(`${bmc!.url}/api/bmc?opt=get&type=power`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(stale.status, 401, 'the restarted bmcd does not know the token');
  });

  it(
    'node_info: power_on_time of the stored power in BMC seconds, wrapping as u64 when the clock steps ' + 'back',
    async () => {
      await start({ release: '2.1.0', board: '2.5' });
      await clock.advance(42_000);
      const read = async (): Promise<string> => {
        const response = await transport!.fetch(`${bmc!.url}/api/bmc?opt=get&type=node_info`, {
          headers: { authorization: BASIC },
        });
        return response.text();
      };
      assert.match(await read(), /^\{"response":\[\{"result":\[\{"name":null,"module_name":null,"power_on_time":42,/);
      bmc!.state.clockOffsetMs = -10_000_000;
      // 42 - 10000 seconds as an unsigned 64-bit number, written exactly.
      assert.ok((await read()).includes(`"power_on_time":${(2n ** 64n - 9958n).toString()},`));
    },
  );

  it('node_info: a power set on, or a restart of bmcd, renews power_on_time of nodes 2-4 already on', async () => {
    // bmcd 2.3.4 update_power_on_times compares the stored bit (1 << idx) with the new state (0/1):
    // for nodes 2-4 an "on" never equals it, and bmcd's start activates the stored power again.
    await start({ release: '2.1.0', board: '2.5', power: [true, true, true, false] });
    await clock.advance(600_000);
    const times = async (): Promise<unknown[]> => {
      const { result } = (await get('opt=get&type=node_info')).body.response[0];
      return (result as { power_on_time: unknown }[]).map((node) => node.power_on_time);
    };
    assert.deepEqual(await times(), [600, 600, 600, null]);
    assert.equal((await get('opt=set&type=power&node1=1&node3=1')).status, 200);
    assert.deepEqual(await times(), [600, 600, 0, null]);
    await clock.advance(60_000);
    bmc!.restart();
    assert.deepEqual(await times(), [660, 0, 0, null]);
  });

  for (const release of ['2.0.5', '2.1.0'] as const) {
    it(
      `${release}: every get bmcd ${release === '2.0.5' ? '2.0.5' : '2.3.4'} has answers 200, every other ` +
        `type 400`,
      async () => {
        await start({ release, board: '2.4' });
        const common = ['power', 'about', 'usb', 'nodeinfo', 'other', 'info', 'sdcard'];
        const only23 = ['node_info', 'cooling', 'usb_node1'];
        for (const type of [...common, ...(release === '2.1.0' ? only23 : [])]) {
          assert.equal((await get(`opt=get&type=${type}`)).status, 200, type);
        }
        for (const type of [...(release === '2.0.5' ? only23 : []), 'fan', 'temperature', 'bmc']) {
          const answer = await get(`opt=get&type=${type}`);
          assert.deepEqual(
            [answer.status, answer.body.response[0].result],
            [400, `Invalid \`type\` parameter ${type}`],
            type,
          );
        }
      },
    );
  }
});
