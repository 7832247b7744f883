import { Cron } from 'croner';

/**
 * Why a cron expression is not one docs/configuration.md allows (5 fields, or 6 with seconds
 * first), or undefined when it is. croner alone would also take 7 fields and "@daily".
 */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/).filter((field) => field !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    const count = `${fields.length} field${fields.length === 1 ? '' : 's'}`;
    return `"${expression}" has ${count}; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  }
  try {
    new Cron(expression, { paused: true });
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, '') : String(error);
    return `"${expression}" is not a valid cron expression: ${reason}`;
  }
}

/** Whether the runtime knows this IANA time zone (Intl throws a RangeError for unknown ones). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
