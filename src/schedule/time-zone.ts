/**
 * Wall-clock time in an IANA time zone, with Intl only (no time-zone data of our own).
 *
 * A "wall time" here is a plain number: the milliseconds Date.UTC would give for the local
 * year, month, day, hour, minute and second. It is a label, not an instant: around
 * daylight-saving changes one wall time can be no instant (spring-forward gap) or two
 * instants (fall-back overlap). `instantOfWallTime` settles both the way docs/schedules.md says.
 */

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The time zone the host is set to (what a schedule without `timezone` uses). */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The local wall time (whole seconds) of an instant in a zone. */
export function wallTimeOf(instantMs: number, timeZone: string): number {
  const wholeSeconds = Math.floor(instantMs / SECOND) * SECOND;
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(wholeSeconds))) parts[part.type] = part.value;
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  const wall = Date.UTC(
    year,
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  if (year >= 0 && year < 100) return new Date(wall).setUTCFullYear(year);
  return wall;
}

/** Offset of the zone from UTC at an instant, in ms (east positive), to the second. */
function offsetAt(instantMs: number, timeZone: string): number {
  const wholeSeconds = Math.floor(instantMs / SECOND) * SECOND;
  return wallTimeOf(wholeSeconds, timeZone) - wholeSeconds;
}

/**
 * The instant a wall time stands for, by the rules of docs/schedules.md:
 * - a wall time that exists once: that instant;
 * - a wall time repeated by fall-back: the earlier instant (its first occurrence);
 * - a wall time skipped by spring-forward: the first instant after the gap, which is the
 *   moment of the change (e.g. Europe/Berlin 2026-03-29 02:30 -> 03:00 local = 01:00Z).
 * The mapping never goes backwards: a later wall time never maps to an earlier instant.
 */
export function instantOfWallTime(wallMs: number, timeZone: string): number {
  // Offsets a day either side are those before and after any change near this wall time.
  const offsetBefore = offsetAt(wallMs - DAY, timeZone);
  const offsetAfter = offsetAt(wallMs + DAY, timeZone);
  // No change of offset within a day either side (nearly always): one instant.
  if (offsetBefore === offsetAfter) return wallMs - offsetBefore;
  const candidates = new Set([offsetBefore, offsetAfter, offsetAt(wallMs, timeZone)]);
  let earliest: number | undefined;
  for (const offset of candidates) {
    const instant = wallMs - offset;
    if (wallTimeOf(instant, timeZone) === wallMs && (earliest === undefined || instant < earliest)) earliest = instant;
  }
  if (earliest !== undefined) return earliest;
  return startOfGapAfter(wallMs, timeZone, offsetBefore, offsetAfter);
}

/** The first instant whose wall time is past a skipped wall time: the moment of the change. */
function startOfGapAfter(wallMs: number, timeZone: string, offsetBefore: number, offsetAfter: number): number {
  // With the old offset the wall time lies after the change, with the new one before it.
  let before = wallMs - Math.max(offsetBefore, offsetAfter); // wall time there is < wallMs
  let after = wallMs - Math.min(offsetBefore, offsetAfter); // wall time there is > wallMs
  while (after - before > SECOND) {
    const middle = before + Math.floor((after - before) / 2 / SECOND) * SECOND;
    if (wallTimeOf(middle, timeZone) > wallMs) after = middle;
    else before = middle;
  }
  return after;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `2026-03-29T02:30:00`: a wall time as ISO 8601 without an offset. */
export function formatWallTime(wallMs: number): string {
  const date = new Date(wallMs);
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

/** `2026-03-29T03:00:00+02:00`: an instant as ISO 8601 with the zone's offset, whole seconds. */
export function formatInstant(instantMs: number, timeZone: string): string {
  const offsetMinutes = Math.round(offsetAt(instantMs, timeZone) / 60000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${formatWallTime(wallTimeOf(instantMs, timeZone))}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
