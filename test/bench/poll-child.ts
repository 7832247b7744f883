import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollFigures } from './in-process.js';

/**
 * The poll figures in a process of their own (see measureInProcessPolls):
 *   node --expose-gc poll-child.js URL WORK_DIR POLLS
 * prints them as JSON.
 */
const [url, work, polls] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!url || !work || !polls || !gc) {
  process.stderr.write('usage: node --expose-gc poll-child.js URL WORK_DIR POLLS\n');
  process.exit(2);
}
pollFigures(dirname(fileURLToPath(import.meta.url)), url, work, Number(polls), gc).then(
  (figures) => {
    process.stdout.write(JSON.stringify(figures));
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
