import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startBmcSimulator, type BmcSimulator } from '../../src/board/simulator/bmc-server.js';
import {
  addonPaths,
  asAddonOption,
  fingerprintAdvice,
  prepareAddon,
  startAddon,
  type AddonOptions,
} from '../../src/cli/addon.js';
import { checkConfigText, formatProblems } from '../../src/config/index.js';
import { runCli, startCli, tempDir } from '../support/cli.js';
import { requireMosquitto, startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { Recorder } from '../support/recorder.js';

/**
 * The Home Assistant add-on's start (`turingpi-mqtt addon`) outside Docker: /data/options.json in
 * a temp dir, a fake Supervisor API on loopback answering /services/mqtt (with the token check),
 * and the environment variables that point the start at them.
 */
const TOKEN = 'supervisor-token-123';
const MQTT_SECRET = 'broker-secret-456';
const BMC_SECRET = 'bmc-secret-789';

interface FakeSupervisor {
  url: string;
  requests: { url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

async function fakeSupervisor(mqtt: { host: string; port: number }): Promise<FakeSupervisor> {
  const requests: FakeSupervisor['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      res.end(JSON.stringify({ result: 'error', message: 'Unauthorized' }));
    } else if (req.url === '/services/mqtt') {
      res.end(
        JSON.stringify({
          result: 'ok',
          data: {
            addon: 'core_mosquitto',
            host: mqtt.host,
            port: mqtt.port,
            ssl: false,
            protocol: '3.1.1',
            username: 'addons',
            password: MQTT_SECRET,
          },
        }),
      );
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ result: 'error' }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function options(overrides: Partial<AddonOptions> = {}): AddonOptions {
  return {
    board_type: 'tpi2',
    board_id: 'tpi2',
    board_name: 'Turing Pi 2',
    bmc_url: 'https://turingpi.local',
    bmc_username: 'root',
    bmc_password: BMC_SECRET,
    bmc_fingerprint: '',
    base_topic: 'turingpi2',
    nodes: [
      { node: 1, name: 'k3s-server', agent: true, protected: true },
      { node: 2, name: 'k3s-worker-1', agent: true },
    ],
    schedules: [{ name: 'night-off', cron: '0 23 * * *', action: 'shutdown', nodes: '2', timezone: 'Europe/Berlin' }],
    log_level: 'info',
    ...overrides,
  };
}

function dataDir(opts: AddonOptions, supervisorUrl: string, token = TOKEN): NodeJS.ProcessEnv {
  const dir = tempDir('tpm-addon-');
  writeFileSync(path.join(dir, 'options.json'), JSON.stringify(opts));
  return {
    ADDON_OPTIONS: path.join(dir, 'options.json'),
    ADDON_CONFIG: path.join(dir, 'turingpi-mqtt.yaml'),
    ADDON_STATE_DIR: path.join(dir, 'state'),
    SUPERVISOR_URL: supervisorUrl,
    SUPERVISOR_TOKEN: token,
  };
}

describe('the Home Assistant add-on start, against a fake Supervisor', function () {
  this.timeout(30_000);
  let supervisor: FakeSupervisor;

  before(async () => {
    supervisor = await fakeSupervisor({ host: 'core-mosquitto', port: 1883 });
  });
  after(async () => supervisor?.close());

  it(
    'writes the bridge config from the options and the MQTT service: mode 0600, state on /data, no password ' + 'in it',
    async () => {
      const env = dataDir(options(), supervisor.url);
      const { file, env: secrets } = await prepareAddon(addonPaths(env));
      assert.equal(file, env['ADDON_CONFIG']);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes(MQTT_SECRET) && !text.includes(BMC_SECRET), 'a password was written into the file');
      assert.deepEqual(secrets, { MQTT_PASSWORD: MQTT_SECRET, TPI_BMC_PASSWORD: BMC_SECRET });
      assert.deepEqual(supervisor.requests.at(-1), { url: '/services/mqtt', authorization: `Bearer ${TOKEN}` });

      const { config, problems } = checkConfigText(text, file, { env: secrets });
      assert.deepEqual(formatProblems(problems), []);
      assert.equal(config?.mqtt.url, 'mqtt://core-mosquitto:1883');
      assert.equal(config?.mqtt.username, 'addons');
      assert.equal(config?.mqtt.password, MQTT_SECRET);
      assert.equal(config?.mqtt.base_topic, 'turingpi2');
      assert.equal(config?.board.type, 'tpi2');
      assert.equal(config?.board.bmc.password, BMC_SECRET);
      assert.equal(config?.state_dir, env['ADDON_STATE_DIR']);
      assert.equal(config?.nodes['1']?.protected, true);
      assert.deepEqual(config?.schedules[0]?.nodes, [2]);
      assert.ok(statSync(env['ADDON_STATE_DIR'] as string).isDirectory());
    },
  );

  it('an empty BMC password (the option not set yet) is refused with the option named, before any login', async () => {
    const env = dataDir(options({ bmc_password: '', bmc_fingerprint: 'AA:BB' }), supervisor.url);
    const lines: string[] = [];
    await assert.rejects(
      startAddon(env, (line) => lines.push(line)),
      /"BMC password" \(bmc_password\) is empty/,
    );
    assert.deepEqual(lines, [], 'nothing said about starting the bridge');
    assert.notEqual(process.env['MQTT_PASSWORD'], MQTT_SECRET, 'no password put into the environment');
  });

  it('a wrong Supervisor token: a clear refusal, and no config written', async () => {
    const env = dataDir(options(), supervisor.url, 'wrong');
    await assert.rejects(
      prepareAddon(addonPaths(env)),
      /no MQTT broker for this add-on \(Supervisor answered 401\): install and start the Mosquitto broker add-on/,
    );
    assert.throws(() => statSync(env['ADDON_CONFIG'] as string));
  });

  it('schedule nodes that are neither "all" nor numbers are refused with the option named', async () => {
    const env = dataDir(
      options({ schedules: [{ name: 'x', cron: '0 1 * * *', action: 'on', nodes: 'two' }] }),
      supervisor.url,
    );
    await assert.rejects(
      prepareAddon(addonPaths(env)),
      /schedule nodes must be "all" or node numbers like "1, 2", not "two"/,
    );
  });

  describe('a broker other than the Mosquitto add-on', () => {
    it('mqtt_server: used as named, the Supervisor not asked, the password kept out of the file', async () => {
      const before = supervisor.requests.length;
      const env = dataDir(
        options({ mqtt_server: 'mqtt://broker.lan:1884', mqtt_user: 'tp', mqtt_password: MQTT_SECRET }),
        supervisor.url,
      );
      const { file, env: secrets } = await prepareAddon(addonPaths(env));
      assert.equal(supervisor.requests.length, before, 'the Supervisor was asked');
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes(MQTT_SECRET));
      const { config, problems } = checkConfigText(text, file, { env: secrets });
      assert.deepEqual(formatProblems(problems), []);
      assert.equal(config?.mqtt.url, 'mqtt://broker.lan:1884');
      assert.equal(config?.mqtt.username, 'tp');
      assert.equal(config?.mqtt.password, MQTT_SECRET);
      // TLS on its default port; an IPv6 address
      for (const [server, url] of [
        ['mqtts://broker.lan', 'mqtts://broker.lan:8883'],
        ['mqtt://[fd00::5]:1883/', 'mqtt://[fd00::5]:1883'],
      ]) {
        const named = dataDir(options({ mqtt_server: server }), supervisor.url);
        const prepared = await prepareAddon(addonPaths(named));
        const written = readFileSync(prepared.file, 'utf8');
        assert.equal(checkConfigText(written, 'c.yaml', { env: prepared.env }).config?.mqtt.url, url);
      }
    });

    it('refuses a user written into mqtt_server, and another scheme, saying where each goes', async () => {
      for (const [server, expected] of [
        ['mqtt://tp:pw@broker.lan', /holds a user: put it in mqtt_user and mqtt_password/],
        ['http://tp:pw@broker.lan', /holds a user: put it in mqtt_user and mqtt_password/],
        ['mqtt://tp:pw@[broker', /is not a URL like mqtt:\/\/host:1883$/],
        ['http://broker.lan', /must start with mqtt:\/\/ or mqtts:\/\//],
        ['tp:pw@broker.lan:1883', /holds a user/],
        ['tcp:pw-secret', /must start with mqtt:\/\/ or mqtts:\/\/$/],
        ['mqtt:broker.lan', /must name a host/],
        ['mqtt:///broker.lan', /must name a host/],
        ['mqtt://broker.lan:0', /must name a host/],
      ] as const) {
        const env = dataDir(options({ mqtt_server: server }), supervisor.url);
        await assert.rejects(prepareAddon(addonPaths(env)), (error: Error) => {
          assert.match(error.message, expected);
          assert.ok(!/pw@|pw-secret/.test(error.message), 'the password in the URL was repeated');
          return true;
        });
      }
    });

    it('without the Mosquitto add-on and without mqtt_server: says both ways out', async () => {
      // The Supervisor's answer when no add-on provides MQTT (the MQTT integration fills nothing there).
      const none = createServer((_req, res) => {
        res.statusCode = 400;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ result: 'error', message: 'Service not enabled' }));
      });
      await new Promise<void>((resolve) => none.listen(0, '127.0.0.1', resolve));
      try {
        const env = dataDir(options(), `http://127.0.0.1:${(none.address() as { port: number }).port}`);
        await assert.rejects(
          prepareAddon(addonPaths(env)),
          /answered 400\): install and start the Mosquitto broker add-on, or name your broker in the add-on options mq/,
        );
      } finally {
        await new Promise((resolve) => none.close(resolve));
      }
    });
  });

  it('a node listed twice in the options is refused, not merged', async () => {
    const env = dataDir(
      options({
        nodes: [
          { node: 2, name: 'a' },
          { node: 2, agent: true },
        ],
      }),
      supervisor.url,
    );
    await assert.rejects(prepareAddon(addonPaths(env)), /the add-on option nodes lists node 2 twice/);
  });

  describe('the first connection to a BMC (the user has no shell)', () => {
    let bmc: BmcSimulator;
    before(async () => {
      bmc = await startBmcSimulator({ password: BMC_SECRET, power: [true, true, false, false] });
    });
    after(async () => bmc?.close());

    it('shows the fingerprint the BMC presents and the option to paste it into', async () => {
      const advice = await fingerprintAdvice({ board_type: 'tpi2', bmc_url: bmc.url, bmc_fingerprint: '' });
      const { fetchBmcCertificate } = await import('../../src/cli/bmc-trust.js');
      const presented = await fetchBmcCertificate(bmc.url, [], 5000);
      assert.match(advice ?? '', new RegExp(presented.fingerprint));
      assert.match(
        advice ?? '',
        /paste the fingerprint into the add-on option "BMC certificate fingerprint" \(bmc_fingerprint/,
      );
      assert.equal(bmc.stats.successfulLogins + bmc.stats.failedLogins, 0, 'nothing was sent to the BMC');
    });

    it('says nothing once the fingerprint is set, or for the simulator', async () => {
      assert.equal(
        await fingerprintAdvice({ board_type: 'tpi2', bmc_url: bmc.url, bmc_fingerprint: 'AA:BB' }),
        undefined,
      );
      assert.equal(await fingerprintAdvice({ board_type: 'simulator', bmc_url: bmc.url }), undefined);
    });
  });

  describe('the built command `turingpi-mqtt addon` on a real mosquitto', () => {
    let broker: Mosquitto;
    let mqttSupervisor: FakeSupervisor;
    before(async function () {
      const binary = requireMosquitto(this);
      broker = await startMosquitto({ binary });
      mqttSupervisor = await fakeSupervisor({ host: '127.0.0.1', port: broker.port });
    });
    after(async () => {
      await mqttSupervisor?.close();
      await broker?.stop();
    });

    it(
      'board_type simulator: the bridge comes online on the Supervisor broker, with Home Assistant ' + 'discovery',
      async () => {
        const recorder = await Recorder.connect(broker.url, 'tpsim', {
          filters: ['tpsim/#', 'homeassistant/device/#'],
        });
        const env = dataDir(
          options({ board_type: 'simulator', base_topic: 'tpsim', board_id: 'tpsim' }),
          mqttSupervisor.url,
        );
        const proc = startCli(['addon'], { env });
        try {
          // The add-on logs for people (log.format pretty): the lines are read as text.
          await proc.waitForOutput((p) => /bridge online: /.test(p.stdout), 'bridge online', 20_000);
          assert.match(
            proc.stdout,
            /bridge config written to .*turingpi-mqtt\.yaml \(mode 0600\); starting the bridge/,
          );
          await recorder.waitForPayload('tpsim/bridge/state', 'online', 5000);
          await recorder.waitFor('tpsim/node/1/power');
          const discovery = JSON.parse((await recorder.waitFor('homeassistant/device/tpsim/config')).payload) as {
            device: { name: string };
          };
          assert.equal(discovery.device.name, 'Turing Pi 2');
          assert.ok(!(proc.stdout + proc.stderr).includes(MQTT_SECRET));
        } finally {
          await proc.stop();
          await recorder.close();
        }
      },
    );

    it("options that make a bad config: told by the options' names, not the generated file's keys", async () => {
      // The user never sees /data/turingpi-mqtt.yaml; "schedules.0.cron" at its line 21 told them nothing.
      const env = dataDir(
        options({
          board_type: 'simulator',
          schedules: [{ name: 'night-off', cron: '0 25 * * *', action: 'off', nodes: '2' }],
        }),
        mqttSupervisor.url,
      );
      const result = await runCli(['addon'], { env });
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        /^add-on option schedules, entry 1: cron: "0 25 \* \* \*" is not a valid cron expression: the hour field/m,
      );
      assert.ok(!result.stderr.includes('turingpi-mqtt.yaml'), result.stderr);
    });
  });
});

describe('asAddonOption: a problem of the generated config, by option', () => {
  const told = (path: string) => asAddonOption({ path, message: 'm', file: '/data/turingpi-mqtt.yaml', line: 3 });
  it('names the option, the node, or the entry of a list; keeps nothing of the file', () => {
    assert.deepEqual(told('board.name'), { path: 'add-on option board_name', message: 'm' });
    assert.equal(told('board.bmc.fingerprint').path, 'add-on option bmc_fingerprint');
    assert.equal(told('nodes.3.name').path, 'add-on option nodes, node 3: name');
    assert.equal(told('schedules.1.timezone').path, 'add-on option schedules, entry 2: timezone');
    assert.equal(told('schedules.0').path, 'add-on option schedules, entry 1');
    assert.equal(told('power.settle_time').path, 'add-on option power.settle_time');
  });
});
