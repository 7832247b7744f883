import assert from 'node:assert/strict';
import { checkConfigText, formatProblems, substituteEnv } from '../../src/config/index.js';

describe('substituteEnv', () => {
  const env = { HOST: 'broker.lan', EMPTY: '' };

  it('replaces ${VAR} anywhere in the text', () => {
    assert.deepEqual(substituteEnv('mqtt://${HOST}:1883', env), {
      value: 'mqtt://broker.lan:1883',
      substituted: true,
      problems: [],
      unset: [],
    });
  });

  it('uses the default of ${VAR:-default} when VAR is unset or empty, and VAR otherwise', () => {
    assert.equal(substituteEnv('${PORT:-1883}', env).value, '1883');
    assert.equal(substituteEnv('${EMPTY:-fallback}', env).value, 'fallback');
    assert.equal(substituteEnv('${HOST:-other}', env).value, 'broker.lan');
    assert.equal(substituteEnv('${NOPE:-}', env).value, '');
  });

  it('reports an unset variable without a default by its name', () => {
    assert.deepEqual(substituteEnv('${MQTT_PASSWORD}', env), {
      value: '',
      substituted: true,
      problems: [],
      unset: ['MQTT_PASSWORD'],
    });
  });

  it('for a secret: counts an empty variable as unset and refuses a default', () => {
    assert.deepEqual(substituteEnv('${EMPTY}', env, { secret: true }).unset, ['EMPTY']);
    assert.deepEqual(substituteEnv('${EMPTY}', env).unset, []);
    const defaulted = substituteEnv('${TPI_BMC_PASSWORD:-turing}', env, { secret: true });
    assert.equal(defaulted.value, '');
    assert.match(
      defaulted.problems[0] ?? '',
      /gives a password a default: a missing TPI_BMC_PASSWORD would log in with it/,
    );
    assert.doesNotMatch(defaulted.problems[0] ?? '', /turing\b/);
  });

  it('keeps a set but empty variable empty', () => {
    assert.deepEqual(substituteEnv('a${EMPTY}b', env), { value: 'ab', substituted: true, problems: [], unset: [] });
  });

  it('leaves a lone $ alone and writes $${ as a literal ${', () => {
    assert.equal(substituteEnv('pa$$word$', env).value, 'pa$$word$');
    assert.equal(substituteEnv('$${HOST}', env).value, '${HOST}');
  });

  it('reports a malformed reference', () => {
    assert.match(substituteEnv('${1ABC}', env).problems[0] ?? '', /is not a variable reference: use \$\{NAME\}/);
    assert.match(substituteEnv('${HOST', env).problems[0] ?? '', /has no closing "}"/);
  });

  it('never quotes the text around a bad reference: it may be a password', () => {
    const messages = [
      ...substituteEnv('Sup3r${S3cretTail', env).problems,
      ...substituteEnv('Sup3r${S3cret-Tail}x', env).problems,
      ...substituteEnv('mqtt://u:Sup3r${ S3cretTail }@host', env).problems,
    ];
    assert.equal(messages.length, 3);
    for (const message of messages) {
      assert.doesNotMatch(message, /Sup3r|S3cret|Tail|host/, message);
      assert.match(message, /at character \d+/);
    }
  });
});

describe('environment variables in a config file', () => {
  it('replaces references in string values, not in keys', () => {
    const text = 'mqtt:\n  url: mqtt://${HOST}:1883\n  username: ${USER:-turingpi}\nboard:\n  name: "${NAME}"\n';
    const { config, problems } = checkConfigText(text, 'c.yaml', { env: { HOST: 'broker.lan', NAME: 'Rack 1' } });
    assert.deepEqual(problems, []);
    assert.equal(config?.mqtt.url, 'mqtt://broker.lan:1883');
    assert.equal(config?.mqtt.username, 'turingpi');
    assert.equal(config?.board.name, 'Rack 1');
  });

  it('reads a reference as the number or boolean the key needs', () => {
    const text =
      'mqtt:\n  keepalive: ${KEEPALIVE:-45}\n  username: u\n  password: ${PASSWORD}\n' +
      'homeassistant:\n  enabled: ${HA}\n';
    const { config } = checkConfigText(text, 'c.yaml', { env: { PASSWORD: '12345', HA: 'false' } });
    assert.equal(config?.mqtt.keepalive, 45);
    assert.equal(config?.mqtt.password, '12345'); // a string key stays a string, digits or not
    assert.equal(config?.homeassistant.enabled, false);
  });

  it("places a missing variable at its value's line and column", () => {
    const text = 'mqtt:\n  url: mqtt://broker:1883\n  password: ${MQTT_PASSWORD}\n';
    const { config, problems } = checkConfigText(text, 'c.yaml', { env: {} });
    assert.equal(config, undefined);
    assert.deepEqual(formatProblems(problems), [
      'c.yaml:3:13 mqtt.password: environment variable MQTT_PASSWORD is not set (or empty): set it where the ' +
        'service runs ' +
        '(docs/configuration.md; a password gets no default)',
    ]);
  });

  it('suggests a default only where the value is not a secret', () => {
    const { problems } = checkConfigText('mqtt:\n  url: mqtt://${BROKER}:1883\n', 'c.yaml', { env: {} });
    assert.match(
      formatProblems(problems)[0] ?? '',
      /BROKER is not set: set it where the service runs \(docs\/configuration\.md; or write \$\{BROKER:-default\}/,
    );
  });

  it('refuses a default for a password, and an empty password variable, at start', () => {
    const defaulted = checkConfigText(
      'board:\n  type: tpi2\n  bmc:\n    password: ${TPI_BMC_PASSWORD:-root}\n',
      'c.yaml',
      { env: {} },
    );
    assert.equal(defaulted.config, undefined);
    assert.match(
      formatProblems(defaulted.problems)[0] ?? '',
      /^c\.yaml:4:15 board\.bmc\.password: \$\{TPI_BMC_PASSWORD:-\.\.\.\} gives a password a default/,
    );
    const empty = checkConfigText('board:\n  type: tpi2\n  bmc:\n    password: ${TPI_BMC_PASSWORD}\n', 'c.yaml', {
      env: { TPI_BMC_PASSWORD: '' },
    });
    assert.equal(empty.config, undefined);
    assert.match(formatProblems(empty.problems)[0] ?? '', /TPI_BMC_PASSWORD is not set \(or empty\)/);
  });

  it(
    "with unsetVariables 'warn' (validate): an unset variable is a warning, the key is left out, the rest is " +
      'checked',
    () => {
      const text = 'mqtt:\n  password: ${MQTT_PASSWORD}\n  keepalive: ${KEEPALIVE}\nboard:\n  type: nope\n';
      const warned = checkConfigText(text, 'c.yaml', { env: {}, unsetVariables: 'warn' });
      assert.deepEqual(
        warned.problems.map((p) => p.path),
        ['board.type'],
      );
      const ok = checkConfigText(text.replace('nope', 'simulator'), 'c.yaml', { env: {}, unsetVariables: 'warn' });
      assert.ok(ok.config);
      assert.equal(ok.config.mqtt.password, null);
      assert.equal(ok.config.mqtt.keepalive, 30);
      assert.deepEqual(ok.warnings, [
        'c.yaml:2:13 mqtt.password: environment variable MQTT_PASSWORD is not set (or empty) here: set it where ' +
          'the service runs, or its start is refused',
        'c.yaml:3:14 mqtt.keepalive: environment variable KEEPALIVE is not set here: set it where the service ' +
          'runs, or its start is refused',
      ]);
    },
  );

  it("with unsetVariables 'broker' (the power command): only what the broker needs must be set", () => {
    // Found walking the docs: `power 3 on` refused to run until the BMC's password, which it never
    // uses and which lives in the bridge's root-only environment file, was set in the user's shell.
    const text =
      'mqtt:\n  url: mqtt://broker:1883\n  username: tp\n  password: ${MQTT_PASSWORD}\n' +
      'board:\n  type: tpi2\n  bmc:\n    url: https://turingpi.local\n    password: ${TPI_BMC_PASSWORD}\n';
    const ok = checkConfigText(text, 'c.yaml', { env: { MQTT_PASSWORD: 'm' }, unsetVariables: 'broker' });
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.config?.mqtt.password, 'm');
    const noBroker = checkConfigText(text, 'c.yaml', { env: { TPI_BMC_PASSWORD: 'b' }, unsetVariables: 'broker' });
    assert.deepEqual(formatProblems(noBroker.problems), [
      // the power command is not a service: the variable belongs in the shell that runs it
      'c.yaml:4:13 mqtt.password: environment variable MQTT_PASSWORD is not set (or empty): set it in the ' +
        'shell that runs this command (docs/configuration.md; a password gets no default)',
    ]);
  });

  it('explains that an unquoted reference in a flow list breaks the YAML', () => {
    const { problems } = checkConfigText('agent:\n  shutdown_command: [${DRAIN}, x]\n', 'c.yaml', {
      env: { DRAIN: 'd' },
    });
    assert.match(
      formatProblems(problems)[0] ?? '',
      /^c\.yaml:2:\d+: YAML syntax error: .*\(in \[ \] or \{ \}, quote a \$\{VAR\}: "\$\{VAR\}"\)$/,
    );
  });

  it('substitutes inside lists (quoted in a flow list, where { is YAML syntax)', () => {
    const text = 'agent:\n  node: 2\n  shutdown_command: ["${DRAIN:-/usr/local/bin/drain}", --then-poweroff]\n';
    const { config } = checkConfigText(text, 'c.yaml', { env: {} });
    assert.deepEqual(config?.agent.shutdown_command, ['/usr/local/bin/drain', '--then-poweroff']);
  });
});
