import { Cron } from 'croner';

/**
 * The one check of cron expressions and time zones: the config's validation and the
 * scheduler use these same functions, so an expression the config accepts is one the
 * scheduler runs, with the same message when it is not.
 */

/** croner as every expression here is read: 5 or 6 fields, day-of-month OR day-of-week (Vixie cron). */
const CRONER_OPTIONS = { mode: '5-or-6-parts', domAndDow: false } as const;

/** A parsed expression; parse once with `parseCron`, then ask it many times. */
export interface CronExpression {
  readonly source: string;
  /** Whether the expression has a seconds field (6 fields). */
  readonly hasSeconds: boolean;
  /** croner, run in UTC on wall times (schedule/cron.ts maps them to instants). */
  readonly matcher: Cron;
}

/**
 * Parses a 5-field (minute hour day-of-month month day-of-week) or 6-field (seconds first)
 * expression; croner alone would also take 7 fields and "@daily". Besides numbers, lists
 * (1,15), ranges (1-5), steps (*\/15, 0-30/10) and names (JAN-DEC, SUN-SAT; 7 is Sunday too),
 * croner's L (last), W (nearest weekday), # (nth weekday) and ? (same as *) work.
 * Day-of-month and day-of-week combine like Vixie cron: when both are restricted, a day
 * matching either one fires. Throws an Error whose message a person understands.
 */
export function parseCron(expression: string): CronExpression {
  const source = expression.trim();
  const fields = source.split(/\s+/).filter((field) => field !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    const count = `${fields.length} field${fields.length === 1 ? '' : 's'}`;
    throw new Error(
      `"${expression}" has ${count}; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`,
    );
  }
  try {
    const matcher = new Cron(fields.join(' '), { timezone: 'UTC', ...CRONER_OPTIONS });
    return { source, hasSeconds: fields.length === 6, matcher };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^CronPattern:\s*/, '');
    throw new Error(`"${expression}" is not a valid cron expression: ${inOurWords(reason, fields)}`, { cause: error });
  }
}

/** The fields as people name them, with the values each takes; croner's own names after them. */
const FIELDS = [
  { name: 'seconds', range: '0-59', croner: ['second'] },
  { name: 'minute', range: '0-59', croner: ['minute'] },
  { name: 'hour', range: '0-23', croner: ['hour'] },
  // "nearestWeekdays": the day of a W ("15W")
  { name: 'day-of-month', range: '1-31', croner: ['day', 'nearestWeekdays'] },
  { name: 'month', range: '1-12 or JAN-DEC', croner: ['month'] },
  { name: 'day-of-week', range: '0-7 or SUN-SAT', croner: ['dayOfWeek'] },
] as const;

/**
 * croner's message in the user's terms: the field by its name, with what the user wrote in it.
 * croner counts a 5-field expression's fields from its own seconds, names the field by number,
 * shows it with the names already turned into numbers ("MOM-5" for MOM-FRI), and reports an
 * out-of-range day or month one lower than written ("day: 31" for 32).
 */
function inOurWords(reason: string, fields: string[]): string {
  const written = (index: number): string | undefined => fields[fields.length === 6 ? index : index - 1];
  const illegal = /^configuration entry (\d) \(.*\) contains illegal characters\.?$/.exec(reason);
  const outOfRange = /^Invalid value for (\w+): /.exec(reason);
  const index = illegal
    ? Number(illegal[1])
    : outOfRange
      ? FIELDS.findIndex((field) => (field.croner as readonly string[]).includes(outOfRange[1] ?? ''))
      : -1;
  const field = FIELDS[index];
  const text = written(index);
  if (!field || text === undefined) return reason;
  return illegal
    ? `the ${field.name} field "${text}" holds something cron does not know (${field.range})`
    : `the ${field.name} field "${text}" is out of range (${field.range})`;
}

/**
 * The next `count` runs of an expression parseCron takes, in `timeZone` (the host's when null), as
 * croner counts them: for the config's checks (the scheduler maps wall times itself, schedule/cron.ts).
 */
export function upcomingRuns(expression: string, timeZone: string | null, count: number): Date[] {
  const fields = expression.trim().split(/\s+/).join(' ');
  const zone = timeZone === null ? {} : { timezone: timeZone };
  return new Cron(fields, { paused: true, ...CRONER_OPTIONS, ...zone }).nextRuns(count);
}

/** Why an expression is not one parseCron takes, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  try {
    parseCron(expression);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Why the runtime does not know this IANA time zone, or undefined when it does. */
export function timeZoneProblem(timeZone: string): string | undefined {
  try {
    // Intl throws a RangeError for a zone it does not know.
    new Intl.DateTimeFormat('en-US', { timeZone });
    return undefined;
  } catch {
    return `"${timeZone}" is not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`;
  }
}
