import { nextOccurrence, type Occurrence } from '../../src/schedule/cron.js';
import { parseCron, type CronExpression } from '../../src/util/cron.js';

/**
 * Occurrences firing in (fromMs, toMs], oldest first, at most `limit` of them (the first
 * ones), found by asking nextOccurrence again and again: the tests' way to see a whole series.
 */
export function occurrencesBetween(
  expression: string | CronExpression,
  timeZone: string,
  fromMs: number,
  toMs: number,
  limit = 1000,
): Occurrence[] {
  const cron = typeof expression === 'string' ? parseCron(expression) : expression;
  const found: Occurrence[] = [];
  let after = fromMs;
  while (found.length < limit) {
    const next = nextOccurrence(cron, timeZone, after);
    if (next === null || next.at > toMs) break;
    found.push(next);
    after = next.at;
  }
  return found;
}
