import { cronProblem, timeZoneProblem, upcomingRuns } from '../util/cron.js';
import type { RawProblem } from './issues.js';
import type { ResolvedNode } from './nodes.js';
import type { Config, ScheduleConfig } from './schema.js';

const DAY = 24 * 60 * 60 * 1000;
/**
 * Runs within a day from which a schedule that cuts power is probably a slip in its fields: an
 * hourly or per-minute one. Not lower: croner (used here for the count) repeats the hour of a
 * fall-back change, which the scheduler runs once, so a schedule of four runs a day can count six.
 */
const MANY_RUNS = 8;

/**
 * Schedules that are valid but most likely not what was meant (docs/schedules.md): each of these
 * was met by a newcomer whose `validate` said nothing, and the bridge then failed (or acted) at
 * every run.
 */
export function scheduleWarnings(config: Config, nodes: ResolvedNode[]): RawProblem[] {
  const warnings: RawProblem[] = [];
  config.schedules.forEach((schedule, index) => {
    const path = ['schedules', index];
    warnings.push(...nodeWarnings(schedule, path, nodes));
    if (cronProblem(schedule.cron) !== undefined) return;
    if (schedule.timezone !== null) {
      if (timeZoneProblem(schedule.timezone) !== undefined) return;
      const spelt = zoneSpelling(schedule.timezone);
      // The zone is part of a schedule's identity: set right later, it would count as a new schedule.
      if (spelt !== schedule.timezone)
        warnings.push({ segments: [...path, 'timezone'], message: `write it "${spelt}", as the zone is named` });
    }
    const runs = upcomingRuns(schedule.cron, schedule.timezone, MANY_RUNS);
    const first = runs[0];
    const last = runs[MANY_RUNS - 1];
    if (!first) {
      warnings.push({ segments: [...path, 'cron'], message: `"${schedule.cron}" never matches a date` });
    } else if (schedule.action !== 'on' && last && last.getTime() - first.getTime() < DAY) {
      const next = runs.slice(0, 3).map((run) => run.toISOString());
      warnings.push({
        segments: [...path, 'cron'],
        message:
          `"${schedule.cron}" runs ${schedule.action} at least ${MANY_RUNS} times within a day (next, in UTC: ` +
          `${next.join(', ')}): check the fields (with 6, the first is seconds)`,
      });
    }
  });
  return warnings;
}

/** Nodes a schedule names that it cannot act on, run after run. */
function nodeWarnings(schedule: ScheduleConfig, path: (string | number)[], nodes: ResolvedNode[]): RawProblem[] {
  if (schedule.nodes === 'all') return [];
  const warnings: RawProblem[] = [];
  schedule.nodes.forEach((number, at) => {
    const node = nodes.find((n) => n.number === number);
    if (!node) return;
    if (!node.enabled) {
      warnings.push({
        segments: [...path, 'nodes', at],
        message: `node ${number} is disabled (nodes.${number}.enabled: false): every run fails for it`,
      });
    } else if (schedule.action === 'shutdown' && node.agent === false) {
      warnings.push({
        segments: [...path, 'nodes', at],
        message:
          `node ${number} has no agent (nodes.${number}.agent: false): a shutdown is refused for it at every ` +
          'run; use action: off to cut its power',
      });
    }
  });
  return warnings;
}

/** The zone as the runtime spells it, where only the letters' case differs ("europe/paris"). */
function zoneSpelling(zone: string): string {
  const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  // Only the case: ICU also maps some names to older ones (Asia/Kolkata), which is no slip.
  return canonical.toLowerCase() === zone.toLowerCase() ? canonical : zone;
}
