import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * config/schema.json for editors (docs/configuration.md), generated from the zod schema so that the
 * two never disagree. `io: 'input'` describes what users write (durations as "5s" or numbers),
 * not what the program holds after parsing.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'turingpi-mqtt configuration',
    description:
      'Configuration of turingpi-mqtt (bridge and agent). Keys are snake_case; unknown keys are errors. ' +
      '${VAR} and ${VAR:-default} in string values are replaced from the environment.',
    ...rest,
  };
}

/** The file's text: stable key order, two-space indent, final newline. */
function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/** Where the schema ships: config/schema.json at the package root (from src/config or dist/src/config). */
function defaultSchemaPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const twoUp = resolve(here, '../..');
  const root = basename(twoUp) === 'dist' ? dirname(twoUp) : twoUp;
  return resolve(root, 'config/schema.json');
}

async function writeConfigSchema(path = defaultSchemaPath()): Promise<string> {
  await writeFile(path, configJsonSchemaText());
  return path;
}

// Run as a script: `node dist/src/config/write-schema.js` or `npx tsx src/config/write-schema.ts`.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const written = await writeConfigSchema(process.argv[2]);
  process.stdout.write(`wrote ${written}\n`);
}
