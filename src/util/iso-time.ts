/**
 * An instant as ISO 8601 UTC text, exactly as `Date.prototype.toISOString` writes it
 * (`2026-12-06T11:22:33.456Z`; years outside 0-9999 as `+012345`/`-000001`), built from the
 * UTC fields. Why not toISOString itself: in node 20, V8 looks up the host's time zone and
 * its display name through ICU before writing it, though the text shows no zone, and that
 * first lookup brings about 0.9 MiB of ICU's code and data into the process for good
 * (docs/performance.md, "Where the memory went"). The UTC getters never consult a time zone.
 * Throws a RangeError for an invalid time, as toISOString does.
 */
export function isoTime(ms: number | Date): string {
  const date = ms instanceof Date ? ms : new Date(ms);
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid time value');
  const year = date.getUTCFullYear();
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return (
    `${yearText}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}` +
    `.${pad(date.getUTCMilliseconds(), 3)}Z`
  );
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
