import assert from 'node:assert/strict';
import { checkAgentConfig, ConfigError, parseConfig } from '../../src/config/index.js';

/** The problems parseConfig throws for `object`, as `path: message` lines. */
function problemsOf(object: unknown): string[] {
  try {
    parseConfig(object);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message.split('\n');
  }
  assert.fail('expected the config to be rejected');
}

const schedule = (extra: Record<string, unknown>) => ({
  name: 'night',
  cron: '0 23 * * *',
  action: 'off',
  nodes: [3],
  ...extra,
});

describe('parseConfig', () => {
  describe('defaults', () => {
    it('turns an empty object, null or undefined into the all-defaults simulator config', () => {
      for (const empty of [{}, null, undefined]) {
        const config = parseConfig(empty);
        assert.equal(config.board.type, 'simulator');
        assert.equal(config.board.poll_interval, 5000);
        assert.equal(config.mqtt.url, 'mqtt://127.0.0.1:1883');
        assert.equal(config.mqtt.embedded.port, 1883);
        assert.equal(config.mqtt.tls.reject_unauthorized, true);
        assert.equal(config.power.graceful_timeout, 120_000);
        assert.equal(config.policies.watchdog.offline_after, 600_000);
        assert.deepEqual(config.agent.shutdown_command, ['systemctl', 'poweroff']);
        assert.deepEqual(config.schedules, []);
        assert.equal(config.state_dir, './data');
      }
    });

    it('fills the defaults inside a section that is only partly written', () => {
      const config = parseConfig({ mqtt: { tls: { ca: '/ca.pem' } }, policies: { thermal: { enabled: true } } });
      assert.equal(config.mqtt.tls.ca, '/ca.pem');
      assert.equal(config.mqtt.tls.cert, null);
      assert.equal(config.mqtt.base_topic, 'turingpi');
      assert.equal(config.policies.thermal.max_celsius, 85);
      assert.equal(config.policies.thermal.nodes, 'all');
    });

    it('fills schedule defaults: enabled, host time zone, 15 minutes catch-up', () => {
      const [filled] = parseConfig({ schedules: [schedule({})] }).schedules;
      assert.equal(filled?.enabled, true);
      assert.equal(filled?.timezone, null);
      assert.equal(filled?.catch_up, 15 * 60_000);
    });
  });

  describe('durations', () => {
    const pollInterval = (value: unknown) => parseConfig({ board: { poll_interval: value } }).board.poll_interval;
    const catchUp = (value: unknown) =>
      parseConfig({ schedules: [schedule({ catch_up: value })] }).schedules[0]?.catch_up;

    it('reads 500ms, 5s, 10m and 2h as milliseconds', () => {
      assert.equal(parseConfig({ power: { reboot_off_time: '500ms' } }).power.reboot_off_time, 500);
      assert.equal(pollInterval('5s'), 5000);
      assert.equal(pollInterval('10m'), 600_000);
      assert.equal(catchUp('2h'), 7_200_000);
    });

    it('reads a plain number as milliseconds', () => {
      assert.equal(pollInterval(2500), 2500);
      assert.equal(catchUp(0), 0);
    });

    it('rejects a word that is not a duration, saying how to write one', () => {
      assert.deepEqual(problemsOf({ board: { poll_interval: 'soon' } }), [
        'board.poll_interval: "soon" is not a duration (use 500ms, 5s, 10m, 2h or milliseconds)',
      ]);
    });

    it('rejects a duration out of range, giving the range', () => {
      assert.deepEqual(problemsOf({ board: { poll_interval: '2h' } }), [
        'board.poll_interval: must be between 1s and 1h',
      ]);
      assert.deepEqual(problemsOf({ board: { poll_interval: 10 } }), [
        'board.poll_interval: must be between 1s and 1h',
      ]);
    });

    it('rejects a value of the wrong type with what a duration looks like', () => {
      assert.deepEqual(problemsOf({ board: { poll_interval: true } }), [
        'board.poll_interval: must be a duration: 500ms, 5s, 10m, 2h, or milliseconds',
      ]);
    });
  });

  describe('keys and types', () => {
    it('names an unknown key at every depth, suggesting the near miss', () => {
      const problems = problemsOf({ colour: 1, mqtt: { port: 1883 }, board: { bmc: { pasword: 'x' } } });
      assert.equal(problems.length, 3);
      assert.match(problems[0] ?? '', /^mqtt\.port: unknown key "port"; expected one of: url, embedded,/);
      assert.match(problems[1] ?? '', /^board\.bmc\.pasword: unknown key "pasword" \(did you mean "password"\?\)/);
      assert.match(problems[2] ?? '', /^colour: unknown key "colour"; expected one of: mqtt, homeassistant, board,/);
    });

    it('says which type was expected and which was given, in the order of the schema', () => {
      const problems = problemsOf({ mqtt: { keepalive: '30s', password: 1234 }, homeassistant: { enabled: 'yes' } });
      assert.deepEqual(problems, [
        'mqtt.password: expected a string or null, got a number (put the value in quotes)',
        'mqtt.keepalive: expected a number, got a string',
        'homeassistant.enabled: expected a boolean, got a string (write true or false)',
      ]);
    });

    it('shows a command written as one string as the list it must be', () => {
      const problems = problemsOf({
        agent: { shutdown_command: 'systemctl poweroff', reboot_command: 'sudo -n systemctl reboot now' },
      });
      assert.deepEqual(problems, [
        'agent.shutdown_command: expected a list, got a string (one item per word: [systemctl, poweroff])',
        'agent.reboot_command: expected a list, got a string (one item per word: [sudo, -n, systemctl, reboot, ...])',
      ]);
    });

    it('lists the allowed words of an enumeration', () => {
      assert.deepEqual(problemsOf({ board: { type: 'tpi3' } }), [
        'board.type: must be one of "simulator", "tpi1", "tpi2", "gpio", not "tpi3"',
      ]);
      assert.deepEqual(problemsOf({ mqtt: { protocol_version: 3 } }), [
        'mqtt.protocol_version: must be 4 (MQTT 3.1.1) or 5 (MQTT 5)',
      ]);
    });

    it('gives number ranges', () => {
      assert.deepEqual(problemsOf({ mqtt: { keepalive: 1 } }), ['mqtt.keepalive: must be at least 5, not 1']);
    });

    it('says what a missing required key must hold', () => {
      assert.deepEqual(problemsOf({ schedules: [{ name: 'night', cron: '0 23 * * *' }] }), [
        'schedules.0.action: is required: on | off | reboot | shutdown',
        'schedules.0.nodes: is required: "all" (every enabled, non-protected node) or a list of node numbers, ' +
          'e.g. [2, 3]',
      ]);
    });

    it('reports a bad number inside a node list at its index', () => {
      assert.deepEqual(problemsOf({ schedules: [schedule({ nodes: [3, 0] })] }), [
        'schedules.0.nodes.1: must be at least 1, not 0',
      ]);
    });

    it('never echoes a password given with the wrong type', () => {
      const message = problemsOf({ mqtt: { password: 918273645 } }).join('\n');
      assert.ok(!message.includes('918273645'));
    });
  });

  describe('schedules', () => {
    it('accepts 5 fields, and 6 with seconds first', () => {
      const config = parseConfig({
        schedules: [schedule({ cron: '0 23 * * 1-5' }), schedule({ name: 'sec', cron: '30 0 23 * * MON-FRI' })],
      });
      assert.equal(config.schedules.length, 2);
    });

    it('rejects a cron expression with a value out of range', () => {
      assert.deepEqual(problemsOf({ schedules: [schedule({ cron: '61 * * * *' })] }), [
        'schedules.0.cron: "61 * * * *" is not a valid cron expression: the minute field "61" is out of range (0-59)',
      ]);
    });

    it('rejects other field counts, even those croner would take (7 fields, @daily)', () => {
      for (const cron of ['* * *', '0 0 0 1 1 * 2030', '@daily']) {
        const [problem] = problemsOf({ schedules: [schedule({ cron })] });
        assert.match(problem ?? '', /^schedules\.0\.cron: ".*" has \d fields?; expected 5 \(minute hour/);
      }
    });

    it('rejects an unknown time zone and accepts IANA names', () => {
      assert.deepEqual(problemsOf({ schedules: [schedule({ timezone: 'Mars/Olympus' })] }), [
        'schedules.0.timezone: "Mars/Olympus" is not a known IANA time zone (e.g. Europe/Berlin, ' +
          'America/New_York, UTC)',
      ]);
      assert.equal(
        parseConfig({ schedules: [schedule({ timezone: 'Europe/Berlin' })] }).schedules[0]?.timezone,
        'Europe/Berlin',
      );
    });

    it('rejects a second schedule with the same name', () => {
      assert.deepEqual(problemsOf({ schedules: [schedule({}), schedule({ action: 'on' })] }), [
        'schedules.1.name: "night" is already the name of schedules.0; names must be unique',
      ]);
    });

    it('rejects node numbers the board does not have', () => {
      assert.deepEqual(problemsOf({ board: { type: 'tpi2' }, schedules: [schedule({ nodes: [2, 5] })] }), [
        'schedules.0.nodes.1: node 5 does not exist: a tpi2 board has nodes 1-4',
      ]);
    });
  });

  describe('protected nodes', () => {
    it('rejects the tpi1 master (protected by default) in an off schedule', () => {
      assert.deepEqual(problemsOf({ board: { type: 'tpi1' }, schedules: [schedule({ nodes: [1, 3] })] }), [
        'schedules.0.nodes.0: node 1 is protected and cannot be in a list that switches nodes off (set ' +
          'nodes.1.protected: false if you mean it)',
      ]);
    });

    it('rejects a node marked protected in reboot and shutdown schedules, but not in an on schedule', () => {
      const nodes = { 3: { protected: true } };
      assert.equal(problemsOf({ nodes, schedules: [schedule({ action: 'reboot' })] }).length, 1);
      assert.equal(problemsOf({ nodes, schedules: [schedule({ action: 'shutdown' })] }).length, 1);
      assert.equal(parseConfig({ nodes, schedules: [schedule({ action: 'on' })] }).schedules.length, 1);
    });

    it('allows "all", which leaves protected nodes out', () => {
      assert.equal(
        parseConfig({ board: { type: 'tpi1' }, schedules: [schedule({ nodes: 'all' })] }).schedules.length,
        1,
      );
    });

    it('rejects a protected node in the watchdog and thermal lists', () => {
      const problems = problemsOf({
        board: { type: 'tpi1' },
        policies: { watchdog: { nodes: [1] }, thermal: { nodes: [2, 1] } },
      });
      assert.deepEqual(
        problems.map((p) => p.split(':')[0]),
        ['policies.watchdog.nodes.0', 'policies.thermal.nodes.1'],
      );
    });
  });

  describe('board and nodes', () => {
    it('rejects node keys beyond the board', () => {
      assert.deepEqual(problemsOf({ board: { type: 'tpi1' }, nodes: { 8: { name: 'x' } } }), [
        'nodes.8: node 8 does not exist: a tpi1 board has nodes 1-7',
      ]);
    });

    it("takes a gpio board's nodes from its lines", () => {
      const board = { type: 'gpio', gpio: { 1: { line: 17 }, 3: { line: 22 } } };
      assert.deepEqual(problemsOf({ board, nodes: { 2: {} } }), [
        'nodes.2: node 2 does not exist: board.gpio wires nodes 1, 3',
      ]);
      assert.equal(parseConfig({ board, nodes: { 3: { agent: true } } }).nodes['3']?.agent, true);
    });

    it('requires at least one line on a gpio board, and distinct lines', () => {
      assert.match(
        problemsOf({ board: { type: 'gpio' } })[0] ?? '',
        /^board\.gpio: a gpio board needs at least one node line/,
      );
      assert.deepEqual(problemsOf({ board: { type: 'gpio', gpio: { 1: { line: 17 }, 2: { line: 17 } } } }), [
        "board.gpio.2.line: line 17 is already node 1's line",
      ]);
      // "01" beside "1" is node 1 twice: the driver kept either line
      assert.deepEqual(problemsOf({ board: { type: 'gpio', gpio: { 1: { line: 17 }, '01': { line: 22 } } } }), [
        'board.gpio.01: write the node number as 1, not 01',
      ]);
    });

    it('requires thermal clear_celsius below max_celsius', () => {
      assert.deepEqual(problemsOf({ policies: { thermal: { max_celsius: 70, clear_celsius: 70 } } }), [
        'policies.thermal.clear_celsius: must be below max_celsius (70), got 70',
      ]);
    });
  });

  describe('mqtt', () => {
    // The built-in broker (aedes) speaks MQTT 3.1.1 only: the bridge retried its refusal for ever.
    it('refuses protocol_version 5 with the built-in broker', () => {
      assert.deepEqual(problemsOf({ mqtt: { url: 'embedded', protocol_version: 5 } }), [
        'mqtt.protocol_version: the built-in broker (url: embedded) speaks MQTT 3.1.1 only: write 4, or leave ' +
          'it out',
      ]);
      assert.equal(parseConfig({ mqtt: { url: 'embedded', protocol_version: 4 } }).mqtt.protocol_version, 4);
      assert.equal(parseConfig({ mqtt: { url: 'mqtt://b:1883', protocol_version: 5 } }).mqtt.protocol_version, 5);
    });

    // MQTT 3.1.1 sends a password only after a user name: the bridge retried "not connected" for ever.
    it('refuses mqtt.password without mqtt.username with MQTT 3.1.1', () => {
      const message =
        'mqtt.password: needs mqtt.username too: MQTT 3.1.1 (protocol_version 4) sends no password without one';
      assert.deepEqual(problemsOf({ mqtt: { password: 'secret' } }), [message]);
      assert.deepEqual(problemsOf({ mqtt: { url: 'embedded', password: 'secret' } }), [message]);
      assert.equal(parseConfig({ mqtt: { password: 'secret', protocol_version: 5 } }).mqtt.password, 'secret');
      assert.equal(parseConfig({ mqtt: { username: 'u', password: 'secret' } }).mqtt.password, 'secret');
    });

    // An empty host listened on every address, logged as ":1883", with a watch command without -h.
    it('refuses an empty mqtt.embedded.host', () => {
      assert.deepEqual(problemsOf({ mqtt: { url: 'embedded', embedded: { host: '' } } }), [
        'mqtt.embedded.host: must not be empty',
      ]);
    });
  });

  it('throws a CONFIG error whose message lists every problem, one per line', () => {
    try {
      parseConfig({ board: { poll_interval: '0s', type: 'nope' }, log: { level: 'loud' } });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.problems.length, 3);
      assert.deepEqual(
        error.message.split('\n'),
        error.problems.map((p) => `${p.path}: ${p.message}`),
      );
    }
  });
});

describe('checkAgentConfig', () => {
  it('requires agent.node', () => {
    assert.throws(
      () => checkAgentConfig(parseConfig({})),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems[0]?.path, 'agent.node');
        return true;
      },
    );
  });

  it('accepts a config that names the node', () => {
    assert.doesNotThrow(() => checkAgentConfig(parseConfig({ agent: { node: 3 } })));
  });
});
