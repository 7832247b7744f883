/**
 * An instant as ISO 8601 UTC text, exactly as `Date.prototype.toISOString` writes it
 * (`2026-12-06T11:22:33.456Z`; years outside 0-9999 as `+012345`/`-000001`), built from the
 * UTC fields. Why not toISOString itself: in node 20, V8 looks up the host's time zone and
 * its display name through ICU before writing it, though the text shows no zone, and that
 * first lookup brings about 0.9 MiB of ICU's code and data into the process for good
 * (docs/performance-log.md, "Where the memory went"). The UTC getters never consult a time zone.
 * Throws a RangeError for an invalid time, as toISOString does.
 */
export function isoTime(ms: number | Date): string {
  const time = ms instanceof Date ? ms.getTime() : timeClip(ms);
  if (Number.isNaN(time)) throw new RangeError('Invalid time value');
  const second = Math.floor(time / 1000);
  // Every command writes the same second twice or more (its state's `since`, its event's `time`):
  // the text up to the seconds is kept from the last call instead of built again.
  if (second !== last.second) last = { second, text: textToSecond(new Date(second * 1000)) };
  return `${last.text}.${pad(time - second * 1000, 3)}Z`;
}

let last = { second: Number.NaN, text: '' };

/** `YYYY-MM-DDTHH:MM:SS` of a valid date, UTC. */
function textToSecond(date: Date): string {
  const year = date.getUTCFullYear();
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return (
    `${yearText}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`
  );
}

/** The time value `new Date(ms)` would hold (the standard's TimeClip): NaN outside its range. */
function timeClip(ms: number): number {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return Number.NaN;
  return Math.trunc(ms) + 0; // + 0: never -0
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
