import assert from 'node:assert/strict';
import { checkConfigText, formatProblems, substituteEnv } from '../../src/config/index.js';

describe('substituteEnv', () => {
  const env = { HOST: 'broker.lan', EMPTY: '' };

  it('replaces ${VAR} anywhere in the text', () => {
    assert.deepEqual(substituteEnv('mqtt://${HOST}:1883', env), { value: 'mqtt://broker.lan:1883', substituted: true, problems: [] });
  });

  it('uses the default of ${VAR:-default} when VAR is unset or empty, and VAR otherwise', () => {
    assert.equal(substituteEnv('${PORT:-1883}', env).value, '1883');
    assert.equal(substituteEnv('${EMPTY:-fallback}', env).value, 'fallback');
    assert.equal(substituteEnv('${HOST:-other}', env).value, 'broker.lan');
    assert.equal(substituteEnv('${NOPE:-}', env).value, '');
  });

  it('reports an unset variable without a default', () => {
    assert.deepEqual(substituteEnv('${MQTT_PASSWORD}', env).problems, [
      'environment variable MQTT_PASSWORD is not set (write ${MQTT_PASSWORD:-default} to give a default)',
    ]);
  });

  it('keeps a set but empty variable empty', () => {
    assert.deepEqual(substituteEnv('a${EMPTY}b', env), { value: 'ab', substituted: true, problems: [] });
  });

  it('leaves a lone $ alone and writes $${ as a literal ${', () => {
    assert.equal(substituteEnv('pa$$word$', env).value, 'pa$$word$');
    assert.equal(substituteEnv('$${HOST}', env).value, '${HOST}');
  });

  it('reports a malformed reference', () => {
    assert.match(substituteEnv('${1ABC}', env).problems[0] ?? '', /is not a variable reference: use \$\{NAME\}/);
    assert.match(substituteEnv('${HOST', env).problems[0] ?? '', /has no closing "}"/);
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
    const text = 'mqtt:\n  keepalive: ${KEEPALIVE:-45}\n  password: ${PASSWORD}\nhomeassistant:\n  enabled: ${HA}\n';
    const { config } = checkConfigText(text, 'c.yaml', { env: { PASSWORD: '12345', HA: 'false' } });
    assert.equal(config?.mqtt.keepalive, 45);
    assert.equal(config?.mqtt.password, '12345'); // a string key stays a string, digits or not
    assert.equal(config?.homeassistant.enabled, false);
  });

  it('places a missing variable at its value\'s line and column', () => {
    const text = 'mqtt:\n  url: mqtt://broker:1883\n  password: ${MQTT_PASSWORD}\n';
    const { config, problems } = checkConfigText(text, 'c.yaml', { env: {} });
    assert.equal(config, undefined);
    assert.deepEqual(formatProblems(problems), [
      'c.yaml:3:13 mqtt.password: environment variable MQTT_PASSWORD is not set (write ${MQTT_PASSWORD:-default} to give a default)',
    ]);
  });

  it('explains that an unquoted reference in a flow list breaks the YAML', () => {
    const { problems } = checkConfigText('agent:\n  shutdown_command: [${DRAIN}, x]\n', 'c.yaml', { env: { DRAIN: 'd' } });
    assert.match(formatProblems(problems)[0] ?? '', /^c\.yaml:2:\d+: YAML syntax error: .*\(in \[ \] or \{ \}, quote a \$\{VAR\}: "\$\{VAR\}"\)$/);
  });

  it('substitutes inside lists (quoted in a flow list, where { is YAML syntax)', () => {
    const text = 'agent:\n  node: 2\n  shutdown_command: ["${DRAIN:-/usr/local/bin/drain}", --then-poweroff]\n';
    const { config } = checkConfigText(text, 'c.yaml', { env: {} });
    assert.deepEqual(config?.agent.shutdown_command, ['/usr/local/bin/drain', '--then-poweroff']);
  });
});
