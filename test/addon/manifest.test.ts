import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { repoPath } from '../support/paths.js';

/**
 * addon/ against what Home Assistant's Supervisor requires of an add-on, as far as it can be
 * checked without a Supervisor: the required keys, the architectures, the MQTT service, options
 * that fit their schema, translations for every option, the base images per architecture.
 */
const read = (file: string): Record<string, unknown> =>
  parse(readFileSync(repoPath(file), 'utf8')) as Record<string, unknown>;
const config = read('addon/config.yaml');
const options = config['options'] as Record<string, unknown>;
const schema = config['schema'] as Record<string, unknown>;

/**
 * Whether a value fits one of the Supervisor's schema types
 * (str, bool, int(a,b), url, password, match(...), list(a|b)).
 */
function fits(type: string, value: unknown): boolean {
  const optional = type.endsWith('?');
  const t = optional ? type.slice(0, -1) : type;
  if (optional && (value === '' || value === undefined)) return true;
  if (t === 'str' || t === 'password') return typeof value === 'string';
  if (t === 'bool') return typeof value === 'boolean';
  if (t === 'url') return typeof value === 'string' && URL.canParse(value);
  const int = /^int(?:\((-?\d*),(-?\d*)\))?$/.exec(t);
  if (int)
    return (
      Number.isInteger(value) &&
      (int[1] ? (value as number) >= Number(int[1]) : true) &&
      (int[2] ? (value as number) <= Number(int[2]) : true)
    );
  const list = /^list\((.*)\)$/.exec(t);
  if (list) return (list[1] ?? '').split('|').includes(String(value));
  const match = /^match\((.*)\)$/.exec(t);
  if (match) return typeof value === 'string' && new RegExp(match[1] ?? '').test(value);
  throw new Error(`unknown schema type ${type}`);
}

describe('addon/ (Home Assistant add-on manifest)', () => {
  it('config.yaml has the keys the Supervisor requires, the version of the package, aarch64 and amd64', () => {
    for (const key of ['name', 'version', 'slug', 'description', 'arch'])
      assert.ok(config[key], `config.yaml: ${key} missing`);
    assert.match(String(config['slug']), /^[a-z0-9_]+$/);
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    assert.equal(config['version'], pkg.version);
    assert.deepEqual([...(config['arch'] as string[])].sort(), ['aarch64', 'amd64']);
  });

  it('needs the MQTT service (the Supervisor hands out the broker and its credentials)', () => {
    assert.deepEqual(config['services'], ['mqtt:need']);
  });

  it('has a schema entry for every option and an option for every schema entry, each default fitting its type', () => {
    assert.deepEqual(Object.keys(options).sort(), Object.keys(schema).sort());
    for (const [key, type] of Object.entries(schema)) {
      if (Array.isArray(type)) {
        assert.ok(Array.isArray(options[key]), `${key}: a list in the schema, not in the options`);
        for (const [field, fieldType] of Object.entries(type[0] as Record<string, string>)) {
          assert.doesNotThrow(() => fits(fieldType, ''), `${key}.${field}: ${fieldType}`);
        }
        continue;
      }
      assert.ok(
        fits(String(type), options[key]),
        `${key}: default ${JSON.stringify(options[key])} does not fit ${String(type)}`,
      );
    }
    assert.equal(schema['bmc_password'], 'password?', 'the BMC password is a password field');
    assert.deepEqual(String(schema['board_type']), 'list(tpi2|simulator)');
  });

  it('translations/en.yaml names and describes every option, and nothing else', () => {
    const translations = read('addon/translations/en.yaml')['configuration'] as Record<
      string,
      { name?: string; description?: string }
    >;
    assert.deepEqual(Object.keys(translations).sort(), Object.keys(schema).sort());
    for (const [key, t] of Object.entries(translations))
      assert.ok(t.name && t.description, `${key}: name and description`);
  });

  it('build.yaml gives a Home Assistant base image for each architecture, and the Dockerfile builds on it', () => {
    const build = read('addon/build.yaml')['build_from'] as Record<string, string>;
    for (const arch of config['arch'] as string[])
      assert.match(build[arch] ?? '', new RegExp(`^ghcr\\.io/home-assistant/${arch}-base:`));
    const dockerfile = readFileSync(repoPath('addon/Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG BUILD_FROM$/m);
    assert.match(dockerfile, /^FROM \$\{?BUILD_FROM\}?$/m);
    assert.match(dockerfile, /^CMD \["turingpi-mqtt", "addon"\]$/m);
  });

  it('repository.yaml names the repository', () => {
    const repository = read('repository.yaml');
    assert.ok(repository['name'] && repository['url']);
  });

  it('DOCS.md tells where the fingerprint goes, by the option name', () => {
    const docs = readFileSync(repoPath('addon/DOCS.md'), 'utf8');
    assert.match(docs, /BMC certificate fingerprint/);
    assert.equal(
      (read('addon/translations/en.yaml')['configuration'] as Record<string, { name: string }>)['bmc_fingerprint']
        ?.name,
      'BMC certificate fingerprint',
    );
  });
});
