/** Small statistics for the benchmark's figures. */

/** The p-th percentile (0-100) of `values`, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A figure beside its floor: the ratio is what the README quotes. */
export interface Comparison {
  name: string;
  unit: string;
  value: number;
  floor: number | null;
  ratio: number | null;
  note?: string;
  /** The bound on the ratio, where it sets one, and whether this run meets it. */
  target?: number;
  met?: boolean;
}

/** `compare`, with the ratio the issue allows at most. */
export function bounded(
  name: string,
  unit: string,
  value: number,
  floor: number,
  target: number,
  note?: string,
): Comparison {
  const row = compare(name, unit, value, floor, note);
  // The exact ratio, not the printed one: 1.154 is printed 1.15x and does not meet 1.15.
  return { ...row, target, met: floor > 0 && value / floor <= target };
}

export function compare(name: string, unit: string, value: number, floor: number | null, note?: string): Comparison {
  return {
    name,
    unit,
    value: round(value, 3),
    floor: floor === null ? null : round(floor, 3),
    ratio: floor === null || floor === 0 ? null : round(value / floor, 2),
    ...(note ? { note } : {}),
  };
}

/** The comparisons as an aligned text table. */
export function table(rows: readonly Comparison[]): string {
  const cells = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.floor === null ? '-' : `${fmt(r.floor)} ${r.unit}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target === undefined ? '' : `<= ${r.target}x ${r.met ? 'met' : 'NOT met'}`,
    r.note ?? '',
  ]);
  const header = ['figure', 'value', 'floor', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => (i === 0 || i >= 4 ? x.padEnd(widths[i] ?? 0) : x.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function fmt(value: number): string {
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
