import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkConfigText,
  ConfigError,
  formatProblems,
  loadConfig,
  loadConfigFile,
  runValidate,
} from '../../src/config/index.js';

/** The formatted problems of YAML text named c.yaml. */
function problemLines(text: string): string[] {
  return formatProblems(checkConfigText(text, 'c.yaml', { env: {} }).problems);
}

describe('config files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tpm-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string, mode = 0o600): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  describe('locating problems', () => {
    it('points at an unknown key itself, at every depth', () => {
      const text = [
        'mqtt:', //                     1
        '  url: mqtt://broker:1883', // 2
        '  port: 1883', //              3
        'board:', //                    4
        '  bmc:', //                    5
        '    pasword: x', //            6
        'schedules:', //                7
        '  - name: night', //           8
        '    cron: "0 23 * * *"', //    9
        '    action: off', //           10
        '    nodes: [3]', //            11
        '    timezon: UTC', //          12
        'colour: blue', //              13
      ].join('\n');
      const lines = problemLines(text);
      assert.equal(lines.length, 4);
      assert.match(lines[0] ?? '', /^c\.yaml:3:3 mqtt\.port: unknown key "port"/);
      assert.match(
        lines[1] ?? '',
        /^c\.yaml:6:5 board\.bmc\.pasword: unknown key "pasword" \(did you mean "password"\?\)/,
      );
      assert.match(
        lines[2] ?? '',
        /^c\.yaml:12:5 schedules\.0\.timezon: unknown key "timezon" \(did you mean "timezone"\?\)/,
      );
      assert.match(lines[3] ?? '', /^c\.yaml:13:1 colour: unknown key "colour"/);
      // two letters swapped is one slip, as people type
      assert.match(
        problemLines('agnet:\n  node: 3\n')[0] ?? '',
        /agnet: unknown key "agnet" \(did you mean "agent"\?\)/,
      );
      assert.match(problemLines('mqtt:\n  bsae_topic: x\n')[0] ?? '', /\(did you mean "base_topic"\?\)/);
      assert.doesNotMatch(problemLines('colour: blue\n')[0] ?? '', /did you mean/);
    });

    it('points at a bad value', () => {
      assert.deepEqual(problemLines('board:\n  type: tpi1\n  poll_interval: 2ms\n'), [
        'c.yaml:3:18 board.poll_interval: must be between 1s and 1h',
      ]);
    });

    it('names a number that is no usable number by its value: .inf, .nan, 1e400, 1.5 for a whole number', () => {
      // It said "expected a number, got a number".
      assert.deepEqual(problemLines('mqtt:\n  keepalive: .inf\n'), [
        'c.yaml:2:14 mqtt.keepalive: expected a number, got .inf (infinity)',
      ]);
      assert.deepEqual(problemLines('mqtt:\n  keepalive: .nan\n'), [
        'c.yaml:2:14 mqtt.keepalive: expected a number, got .nan (not a number)',
      ]);
      assert.deepEqual(problemLines('agent:\n  node: 1e400\n'), [
        'c.yaml:2:9 agent.node: expected a number or null, got .inf (infinity)',
      ]);
      assert.deepEqual(problemLines('mqtt:\n  keepalive: 1.5\n'), [
        'c.yaml:2:14 mqtt.keepalive: expected a whole number, got 1.5',
      ]);
    });

    it('gives a number too large one problem, with the bound of its key', () => {
      // It gave two: "at most 9007199254740991" (any whole number's) and "at most 3600".
      assert.deepEqual(problemLines('mqtt:\n  keepalive: 99999999999999999999999\n'), [
        'c.yaml:2:14 mqtt.keepalive: must be at most 3600, not 1e+23',
      ]);
      assert.deepEqual(problemLines('board:\n  type: tpi1\n  i2c_bus: -99999999999999999999\n'), [
        'c.yaml:3:12 board.i2c_bus: must be at least 0, not -100000000000000000000',
      ]);
    });

    it('refuses a board.bmc.url that is no URL, without echoing it', () => {
      // https://[bmc passed; the BMC client then failed with "Invalid URL".
      for (const url of ['https://[bmc', 'https://root:pa#ss@tpi', 'https://tpi:70000']) {
        const lines = problemLines(`board:\n  type: tpi2\n  bmc:\n    url: "${url}"\n    insecure: true\n`);
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0] ?? '', /^c\.yaml:4:10 board\.bmc\.url: is not a URL/);
        assert.doesNotMatch(lines[0] ?? '', /pa#ss/);
      }
    });

    it('refuses a user or password in board.bmc.url, pointing at the keys of the login, without echoing them', () => {
      // The login was board.bmc.username/password: one written into the URL was silently unused
      // (the start then said the password was not set), or sent as well as a Basic header.
      for (const url of ['https://root:s3cret@tpi', 'https://root@tpi', 'https://:s3cret@tpi']) {
        const lines = problemLines(`board:\n  type: tpi2\n  bmc:\n    url: "${url}"\n    insecure: true\n`);
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0] ?? '', /^c\.yaml:4:10 board\.bmc\.url: .*board\.bmc\.username and board\.bmc\.password/);
        assert.doesNotMatch(lines[0] ?? '', /s3cret/);
      }
    });

    it('points at the enclosing map for a missing required key', () => {
      const text = 'schedules:\n  - name: night\n    cron: "0 23 * * *"\n    nodes: all\n';
      assert.deepEqual(problemLines(text), [
        'c.yaml:2:5 schedules.0.action: is required: on | off | reboot | shutdown',
      ]);
    });

    it('points at a bad cron expression and a bad time zone in flow maps', () => {
      const text = [
        'board: { type: tpi1 }',
        'schedules:',
        '  - { name: a, cron: "0 25 * * *", action: on, nodes: all }',
        '  - { name: b, cron: "0 1 * * *", timezone: Mars/Base, action: off, nodes: [3, 1] }',
      ].join('\n');
      const lines = problemLines(text);
      assert.match(lines[0] ?? '', /^c\.yaml:3:22 schedules\.0\.cron: "0 25 \* \* \*" is not a valid cron expression/);
      assert.match(lines[1] ?? '', /^c\.yaml:4:45 schedules\.1\.timezone: "Mars\/Base" is not a known IANA time zone/);
    });

    it('points at a protected node once the schema passes', () => {
      const text =
        'board: { type: tpi1 }\nschedules:\n  - { name: b, cron: "0 1 * * *", action: off, nodes: [3, 1] }\n';
      assert.deepEqual(problemLines(text), [
        'c.yaml:3:59 schedules.0.nodes.1: node 1 is protected and cannot be in a list that switches nodes off ' +
          '(set nodes.1.protected: false if you mean it)',
      ]);
    });

    it('points at the key of a node the board does not have', () => {
      assert.deepEqual(problemLines('board:\n  type: tpi2\nnodes:\n  2: { agent: true }\n  6:\n'), [
        'c.yaml:5:3 nodes.6: node 6 does not exist: a tpi2 board has nodes 1-4',
      ]);
    });

    it('gives the line and column of a YAML syntax error; of an unclosed { or [, where it opens', () => {
      // The parser reports an unclosed flow map where the next line begins: 4:1 here, 14:1 for a
      // newcomer whose `}` was missing on line 12. The place to fix is the opener.
      assert.deepEqual(problemLines('mqtt:\n  url: x\nboard: {type: tpi1\n'), [
        'c.yaml:3:8: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
      ]);
      assert.deepEqual(problemLines('nodes:\n  2: { name: a, agent: { x: 1 }\n  3: { name: b }\n'), [
        'c.yaml:2:6: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
      ]);
      assert.match(problemLines('board:\n  gpio: [1, 2\nlog: {}\n')[0] ?? '', /^c\.yaml:2:9: .*end with a \]/);
      // brackets and quotes inside strings and comments are not the opener
      assert.match(
        problemLines('nodes:\n  2: { name: "a}", agent: true  # }\n  3: { name: b }\n')[0] ?? '',
        /^c\.yaml:2:6: .*end with a \}/,
      );
      assert.match(problemLines('nodes:\n  2: { name: "{a" }\n  3: { name: b\n')[0] ?? '', /^c\.yaml:3:6: /);
      assert.match(problemLines('{ mqtt: { url: x }\n')[0] ?? '', /^c\.yaml:1:1: .*end with a \}/);
      assert.match(
        problemLines('board:\n  name: "Rack \\" 1\n  id: rack  # "quoted"\n')[0] ?? '',
        /^c\.yaml:2:9: YAML syntax error: Missing closing "quote/,
      );
      const [duplicate] = problemLines('log:\n  level: info\n  level: debug\n');
      assert.match(duplicate ?? '', /^c\.yaml:3:3 log\.level: written twice in its map/);
    });

    it('counts no column for a byte order mark (editors show none)', () => {
      // A file saved with a BOM had every problem of its first line one column to the right.
      assert.match(problemLines('\uFEFFboardd: 1\n')[0] ?? '', /^c\.yaml:1:1 boardd: unknown key/);
      assert.deepEqual(problemLines('\uFEFFmqtt: { keepalive: x }\n'), [
        'c.yaml:1:20 mqtt.keepalive: expected a number, got a string',
      ]);
    });

    it('reports a file that is not a map', () => {
      assert.deepEqual(problemLines('- mqtt\n- board\n'), [
        'c.yaml:1:1: the file must be a map of sections (mqtt, board, nodes, ...)',
      ]);
    });

    it('follows anchors and merge keys', () => {
      const text = [
        'schedules:',
        '  - &weekday { name: off-1, cron: "0 23 * * 1-5", action: off, nodes: [3] }',
        '  - { <<: *weekday, name: off-2, nodes: [4] }',
      ].join('\n');
      const { config, problems } = checkConfigText(text, 'c.yaml', { env: {} });
      assert.deepEqual(problems, []);
      assert.deepEqual(
        config?.schedules.map((s) => [s.name, s.cron, s.nodes]),
        [
          ['off-1', '0 23 * * 1-5', [3]],
          ['off-2', '0 23 * * 1-5', [4]],
        ],
      );
    });
  });

  it('warns of a broker certificate left unchecked over TLS, as of an unchecked BMC certificate', () => {
    const warned = (url: string): string[] =>
      checkConfigText(`mqtt:\n  url: ${url}\n  tls:\n    reject_unauthorized: false\n`, 'c.yaml', { env: {} }).warnings;
    assert.ok(
      warned('mqtts://broker.lan:8883').some((w) =>
        /^c\.yaml:4:26 mqtt\.tls\.reject_unauthorized: is false: the broker's certificate is not checked/.test(w),
      ),
      warned('mqtts://broker.lan:8883').join('\n'),
    );
    assert.deepEqual(warned('mqtt://broker.lan:1883'), [], 'no TLS, no certificate to check');
  });

  describe('YAML that would echo a password', () => {
    // A password that begins with * or ! is YAML syntax unless quoted: yaml's messages quoted it.
    function check(text: string): { problems: string[]; warnings: string[] } {
      const checked = checkConfigText(text, 'c.yaml', { env: {} });
      return { problems: formatProblems(checked.problems), warnings: checked.warnings };
    }

    it('an unquoted password beginning with *: refused at its place, without its text', () => {
      const { problems } = check('mqtt:\n  username: bob\n  password: *Hunter2x\n');
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', /^c\.yaml:3:13: .*alias.*quote the value/);
      assert.doesNotMatch(problems.join('\n'), /Hunter2x/);
    });

    it('an unquoted password beginning with !: its warning leaves the text out', () => {
      const { warnings } = check('mqtt:\n  password: !Hunter2x\n');
      assert.ok(
        warnings.some((w) => /^c\.yaml:2:13: .*tag.*quote the value/.test(w)),
        warnings.join('\n'),
      );
      assert.doesNotMatch(warnings.join('\n'), /Hunter2x/);
    });

    it('an unquoted password beginning with &: a warning at its place (the value was what follows it)', () => {
      // `password: &Hunter2x` is an anchor on an empty value: the login went without a password, unsaid.
      const { warnings } = check('mqtt:\n  password: &Hunter2x\n');
      assert.ok(
        warnings.some((w) => /^c\.yaml:2:13: an anchor .*quote the value/.test(w)),
        warnings.join('\n'),
      );
      assert.doesNotMatch(warnings.join('\n'), /Hunter2x/);
      // An anchor an alias uses is no slip.
      const shared =
        'schedules:\n  - &a { name: a, cron: "0 1 * * *", action: on, nodes: [2] }\n  - { <<: *a, name: b }\n';
      assert.deepEqual(check(shared).warnings, []);
    });

    it('a bad escape in a double-quoted password: refused without its text', () => {
      const { problems } = check('mqtt:\n  password: "Hunter2\\qx"\n');
      assert.ok(problems.length > 0);
      assert.doesNotMatch(problems.join('\n'), /\\q/);
    });

    it('any other YAML message that quotes the text: refused or warned about without it', () => {
      // Each of these values (unquoted, after `password: `) makes yaml name the text in its message.
      const values = ['|Hunter2x', '>Hunter2x', '|2Hunter2x', '>+ Hunter2x', '}Hunter2x', ']Hunter2x', '!a!Hunter2x'];
      for (const value of values) {
        const { problems, warnings } = check(`mqtt:\n  username: bob\n  password: ${value}\n`);
        assert.ok(problems.length > 0, value);
        assert.match(problems[0] ?? '', /^c\.yaml:3:\d+: /, value);
        assert.doesNotMatch([...problems, ...warnings].join('\n'), /Hunter2x/, value);
      }
      // A block scalar's header: the message says what the | or > did.
      assert.match(check('mqtt:\n  password: |Hunter2x\n').problems[0] ?? '', /begins with \| or >.*quote the value/);
      // A directive is a line of its own: `%Hunter2x` at the start of a line.
      const directive = check('%Hunter2x\n---\nmqtt: {}\n');
      assert.doesNotMatch([...formatProblems([]), ...directive.problems, ...directive.warnings].join('\n'), /Hunter2x/);
    });

    it('an item of a { } map without ": ": refused without its text (a `,` or a `:` with no space split it)', () => {
      for (const text of [
        'mqtt: { username: bob, password:Hunter2x }\n',
        'mqtt: { username: bob, password: abc,Hunter2x }\n',
        '{ mqtt: { username: bob, password: abc, Hunter2x } }\n',
      ]) {
        const { problems } = check(text);
        assert.equal(problems.length, 1, `${text}: ${problems.join('\n')}`);
        assert.match(problems[0] ?? '', /^c\.yaml:1:\d+ mqtt: an item with no value .*quote the value/, text);
        assert.doesNotMatch(problems.join('\n'), /Hunter2x/, text);
      }
      // A misspelt key with a value is still named, as a key.
      assert.match(check('mqtt: { pasword: x }\n').problems[0] ?? '', /unknown key "pasword"/);
    });

    it('a key that is a list or a map: refused without its text, and nothing printed by yaml itself', () => {
      const printed: string[] = [];
      const onWarning = (warning: Error): void => void printed.push(warning.message);
      process.on('warning', onWarning);
      try {
        const { problems } = check('mqtt: { username: bob, [Hunter2x]: 1 }\n');
        assert.equal(problems.length, 1, problems.join('\n'));
        assert.match(problems[0] ?? '', /^c\.yaml:1:\d+ mqtt: a key that is a list or a map/);
        assert.doesNotMatch(problems.join('\n'), /Hunter2x/);
      } finally {
        process.off('warning', onWarning);
      }
      assert.deepEqual(printed, []);
    });
  });

  describe('a key written twice', () => {
    it('is named by its path, at its second place', () => {
      // It was "c.yaml:4:3: YAML syntax error: Map keys must be unique", which named no key.
      const text = 'board:\n  type: tpi1\n  id: a\n  type: tpi2\nschedules:\n  - { name: a, name: b }\n';
      assert.deepEqual(problemLines(text), [
        'c.yaml:4:3 board.type: written twice in its map (a key is given once)',
        'c.yaml:6:16 schedules.0.name: written twice in its map (a key is given once)',
      ]);
    });
  });

  describe('a file of two YAML documents', () => {
    it('says so in its own terms, where the second begins', () => {
      // It said "Source contains multiple documents; please use YAML.parseAllDocuments()".
      assert.deepEqual(problemLines('board:\n  type: tpi1\n---\nboard:\n  type: tpi2\n'), [
        'c.yaml:3:1: YAML syntax error: a second document (---): a config file is one YAML document',
      ]);
    });
  });

  describe('URLs', () => {
    it('an mqtt.url that is neither of the schemes nor a URL: one problem', () => {
      const lines = problemLines('mqtt:\n  url: mqtt://u:pw@host:1 }\n');
      assert.deepEqual(lines, ['c.yaml:2:8 mqtt.url: must be mqtt://, mqtts://, ws://, wss:// URL or "embedded"']);
    });
  });

  describe('loadConfig', () => {
    it('reads an empty file as the all-defaults config', async () => {
      const config = await loadConfig(await file('empty.yaml', ''));
      assert.equal(config.board.type, 'simulator');
      assert.equal(config.mqtt.base_topic, 'turingpi');
    });

    it('reads a file of comments only as the all-defaults config', async () => {
      const config = await loadConfig(await file('comments.yaml', '# nothing yet\n'));
      assert.equal(config.power.on_stagger, 2000);
    });

    it('throws a ConfigError whose message lists every problem as FILE:LINE:COL path: message', async () => {
      const path = await file('bad.yaml', 'mqtt:\n  keepalive: 1\nlog:\n  level: loud\n');
      await assert.rejects(loadConfig(path), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG');
        assert.deepEqual(error.message.split('\n'), [
          `${path}:2:14 mqtt.keepalive: must be at least 5, not 1`,
          `${path}:4:10 log.level: must be one of "trace", "debug", "info", "warn", "error", "silent", not "loud"`,
        ]);
        assert.deepEqual(error.problems[0], {
          file: path,
          path: 'mqtt.keepalive',
          message: 'must be at least 5, not 1',
          line: 2,
          col: 14,
        });
        return true;
      });
    });

    it('says so when the file does not exist', async () => {
      const path = join(dir, 'missing.yaml');
      await assert.rejects(loadConfig(path), { message: `${path}: cannot read the config file: no such file` });
    });

    it('uses the injected environment', async () => {
      const path = await file('env.yaml', 'mqtt:\n  base_topic: ${BASE:-turingpi}\n');
      assert.equal((await loadConfig(path, { env: { BASE: 'rack2' } })).mqtt.base_topic, 'rack2');
    });

    it('with role agent, requires agent.node and says where', async () => {
      const path = await file('agent.yaml', 'agent:\n  interval: 30s\n');
      await assert.rejects(loadConfig(path, { role: 'agent' }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /agent\.yaml:2:3 agent\.node: the agent needs the number of the node it runs on/);
        return true;
      });
    });
  });

  describe('warnings', () => {
    const withPassword = 'mqtt:\n  username: bridge\n  password: hunter2\n';

    it('warns when a file holding a password is readable by other users', async () => {
      const path = await file('open.yaml', withPassword, 0o644);
      const { warnings } = await loadConfigFile(path);
      assert.deepEqual(warnings, [`${path} is readable by other users and holds a password: chmod 600 ${path}`]);
    });

    it('warns for a BMC password readable by the group', async () => {
      const path = await file('group.yaml', 'board:\n  type: tpi2\n  bmc: { password: turing }\n', 0o640);
      const { warnings } = await loadConfigFile(path);
      assert.ok(warnings.includes(`${path} is readable by other users and holds a password: chmod 600 ${path}`));
    });

    it('does not warn for a private file, a file without a password, or a password from the environment', async () => {
      assert.deepEqual((await loadConfigFile(await file('private.yaml', withPassword, 0o600))).warnings, []);
      assert.deepEqual(
        (await loadConfigFile(await file('nopass.yaml', 'mqtt:\n  username: bridge\n', 0o644))).warnings,
        [],
      );
      const fromEnv = await file('fromenv.yaml', 'mqtt:\n  username: bridge\n  password: ${MQTT_PASSWORD}\n', 0o644);
      assert.deepEqual((await loadConfigFile(fromEnv, { env: { MQTT_PASSWORD: 'x' } })).warnings, []);
    });

    it('warns that an empty file (or one of comments only) runs a simulated board, not hardware', async () => {
      for (const text of ['', '# my board\n', '{}\n']) {
        const path = await file('empty.yaml', text);
        assert.deepEqual((await loadConfigFile(path)).warnings, [
          `${path}: holds no settings: every key takes its default, which is a simulated board ` +
            '(board.type: simulator), not hardware',
        ]);
      }
    });

    it('names the kinds of value agent takes, and places a missing agent section nowhere', async () => {
      const bad = await file('agent-word.yaml', 'nodes:\n  2: { agent: yes-please }\n');
      await assert.rejects(loadConfigFile(bad), (error: Error) => {
        assert.equal(error.message.trim(), `${bad}:2:15 nodes.2.agent: must be true, false or "auto"`);
        return true;
      });
      // The agent role with a bridge's file: no agent section at all. It was placed at the file's first key.
      const bridgeFile = await file('bridge.yaml', '# a bridge\n\nmqtt:\n  url: mqtt://broker:1883\n');
      await assert.rejects(loadConfigFile(bridgeFile, { role: 'agent' }), (error: Error) => {
        assert.match(error.message, new RegExp(`^${bridgeFile} agent\\.node: the agent needs the number`, 'm'));
        return true;
      });
    });

    it('names each certificate or key file that cannot be read, by its key: the start would fail on it', async () => {
      // Found walking the docs: validate said "valid" for a board.bmc.ca that did not exist.
      const pem = await file('bmc.pem', '-----BEGIN CERTIFICATE-----\n', 0o600);
      const text =
        'mqtt:\n  tls: { ca: /nonexistent/ca.pem, key: /nonexistent/client.key }\n' +
        `board:\n  type: tpi2\n  bmc: { ca: /nonexistent/bmc.pem, fingerprint: null }\n`;
      const path = await file('files.yaml', text, 0o600);
      const { warnings } = await loadConfigFile(path);
      const unreadable = (key: string, missing: string): string =>
        `${path} ${key}: cannot read ${missing} (no such file) here: the start fails unless the service can read it`;
      assert.deepEqual(
        warnings.filter((w) => w.includes('cannot read')),
        [
          unreadable('mqtt.tls.ca', '/nonexistent/ca.pem'),
          unreadable('mqtt.tls.key', '/nonexistent/client.key'),
          unreadable('board.bmc.ca', '/nonexistent/bmc.pem'),
        ],
      );
      const readable = await file('readable.yaml', `board:\n  type: tpi2\n  bmc: { ca: ${pem} }\n`, 0o600);
      assert.deepEqual(
        (await loadConfigFile(readable)).warnings.filter((w) => w.includes('cannot read')),
        [],
      );
    });

    it('counts a password written into mqtt.url, not one substituted into it', async () => {
      const mqttUrl = await file('url.yaml', 'mqtt:\n  url: mqtt://bridge:Sup3r@S3cretTail@broker.lan\n', 0o644);
      assert.deepEqual((await loadConfigFile(mqttUrl)).warnings, [
        `${mqttUrl} is readable by other users and holds a password: chmod 600 ${mqttUrl}`,
      ]);
      const substituted = await file('suburl.yaml', 'mqtt:\n  url: mqtt://bridge:${MQTT_PASSWORD}@broker.lan\n', 0o644);
      assert.deepEqual((await loadConfigFile(substituted, { env: { MQTT_PASSWORD: 'Sup3rS3cret' } })).warnings, []);
    });

    it('does not call an empty password a password (issue 17: the tour warned about one)', async () => {
      const empty = await file('empty.yaml', 'mqtt:\n  username: bridge\n  password: ""\n', 0o644);
      assert.deepEqual((await loadConfigFile(empty)).warnings, []);
    });

    it('warns, with the place, about a tpi2 BMC without a password and without a pinned certificate', async () => {
      const path = await file('tpi2.yaml', 'board:\n  type: tpi2\n  bmc:\n    url: https://tpi.lan\n');
      const { warnings } = await loadConfigFile(path);
      assert.equal(warnings.length, 2);
      // the key is missing: the place is the map it belongs in
      assert.match(
        warnings[0] ?? '',
        new RegExp(`^${path}:4:5 board\\.bmc\\.password: is not set: BMC firmware 2\\.x`),
      );
      assert.match(warnings[1] ?? '', /board\.bmc\.fingerprint: is not set: .*turingpi-mqtt bmc trust -c FILE/);
      const pinned = await file(
        'tpi2-pinned.yaml',
        `board:\n  type: tpi2\n  bmc:\n    password: \${P}\n    fingerprint: "${'ab'.repeat(32)}"\n`,
      );
      assert.deepEqual((await loadConfigFile(pinned, { env: { P: 'x' } })).warnings, []);
    });

    it('warns that a simulated Turing Pi 2 does not use the BMC address and login written for it', async () => {
      // demo-tpi2.yaml with a real BMC's address written in: the demo ran, the BMC was never asked.
      const path = await file(
        'sim-bmc.yaml',
        'board:\n  type: simulator\n  simulate: { model: tpi2 }\n' +
          '  bmc:\n    url: https://10.0.0.5\n    password: ${P}\n',
      );
      const { warnings } = await loadConfigFile(path, { env: { P: 'Sup3rS3cret' } });
      assert.deepEqual(
        warnings.map((w) => w.replace(/^.*?:\d+:\d+ /, '')),
        ['board.bmc.url', 'board.bmc.password'].map(
          (key) =>
            `${key}: is not used: a simulated board reaches no BMC (a simulated Turing Pi 2 runs its own); ` +
            'to reach yours, set board.type: tpi2',
        ),
      );
      assert.ok(!warnings.join('\n').includes('Sup3rS3cret'));
      // the demo's own file pins the simulator's certificate only: nothing to say
      const demo = await file('demo.yaml', 'board:\n  type: simulator\n  simulate: { model: tpi2 }\n');
      assert.deepEqual((await loadConfigFile(demo)).warnings, []);
    });

    it('only warns of an unset variable in the BMC login of a board without a BMC; a tpi2 is refused', async () => {
      // demo-tpi2.yaml with the password line of a real board's file: the start was refused for a
      // variable that nothing on a simulated board reads.
      const bmc = '  bmc:\n    username: ${TPI_BMC_USER}\n    password: ${TPI_BMC_PASSWORD}\n';
      const simulated = await file('sim-unset.yaml', `board:\n  type: simulator\n  simulate: { model: tpi2 }\n${bmc}`);
      const { config, warnings } = await loadConfigFile(simulated, { env: {} });
      assert.equal(config.board.bmc.password, null);
      const unused = 'unused, as only a Turing Pi 2 (board.type: tpi2) reaches a BMC';
      assert.deepEqual(
        warnings.map((w) => w.replace(/^.*?:\d+:\d+ /, '')),
        [
          `board.bmc.username: environment variable TPI_BMC_USER is not set: ${unused}`,
          `board.bmc.password: environment variable TPI_BMC_PASSWORD is not set (or empty): ${unused}`,
        ],
      );
      // A Turing Pi 1 or a GPIO cluster reaches no BMC either.
      for (const board of ['  type: tpi1\n', '  type: gpio\n  gpio: { "1": { line: 17 } }\n']) {
        const other = checkConfigText(`board:\n${board}${bmc}`, 'c.yaml', { env: {} });
        assert.deepEqual(other.problems, [], board);
        assert.equal(other.warnings.filter((w) => w.includes(unused)).length, 2, board);
      }
      // With the broker's password unset too, only that one refuses the start.
      const both = checkConfigText(
        `mqtt:\n  password: \${MQTT_PASSWORD}\nboard:\n  type: simulator\n${bmc}`,
        'c.yaml',
        { env: {} },
      );
      assert.deepEqual(
        both.problems.map((p) => p.path),
        ['mqtt.password'],
      );
      const real = await file('tpi2-unset.yaml', `board:\n  type: tpi2\n${bmc}`);
      await assert.rejects(loadConfigFile(real, { env: { TPI_BMC_USER: 'root' } }), (error: Error) => {
        assert.match(error.message, /board\.bmc\.password: environment variable TPI_BMC_PASSWORD is not set/);
        return true;
      });
    });

    it('refuses an http:// BMC (firmware 1.x), or an address without https://, saying what to write', async () => {
      // "turingpi.local" alone was told only that firmware 1.x is unsupported.
      for (const url of ['http://tpi.lan', 'turingpi.local']) {
        const written = await file('tpi2-url.yaml', `board:\n  type: tpi2\n  bmc:\n    url: ${url}\n`);
        await assert.rejects(loadConfigFile(written), (error: Error) => {
          assert.match(
            error.message,
            new RegExp(
              'board\\.bmc\\.url: must be an https:// URL, e\\.g\\. https://turingpi\\.local ' +
                '.*firmware 1\\.x.*not supported.*never sent in clear',
            ),
          );
          return true;
        });
      }
    });
  });

  describe('runValidate', () => {
    function collector() {
      const lines: string[] = [];
      return { lines, write: (text: string) => lines.push(text) };
    }

    it('prints "FILE: valid" and returns 0 for a valid file', async () => {
      const path = await file('ok.yaml', 'board: { type: tpi1 }\n');
      const out = collector();
      assert.equal(await runValidate(path, out), 0);
      assert.deepEqual(out.lines, [`${path}: valid\n`]);
    });

    it('prints warnings after "valid"', async () => {
      const path = await file('warn.yaml', 'mqtt: { username: bridge, password: secret }\n', 0o644);
      const out = collector();
      assert.equal(await runValidate(path, out), 0);
      assert.equal(out.lines.length, 2);
      assert.match(out.lines[1] ?? '', /^warning: .* is readable by other users/);
    });

    it('prints every problem and returns 2 for an invalid file', async () => {
      const path = await file('invalid.yaml', 'mqtt:\n  port: 1\nboard:\n  poll_interval: 0\n');
      const out = collector();
      assert.equal(await runValidate(path, out), 2);
      assert.equal(out.lines.length, 2);
      assert.match(out.lines[0] ?? '', new RegExp(`^${path}:2:3 mqtt\\.port: unknown key "port"`));
      assert.equal(out.lines[1], `${path}:4:18 board.poll_interval: must be between 1s and 1h\n`);
    });

    it('returns 2 for a missing file', async () => {
      const out = collector();
      assert.equal(await runValidate(join(dir, 'nope.yaml'), out), 2);
      assert.match(out.lines[0] ?? '', /cannot read the config file: no such file/);
    });
  });
});
