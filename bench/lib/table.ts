/** One row of the benchmark table: a measure of the extension beside its baseline. */
export interface Row {
  area: string;
  measure: string;
  value: string;
  baseline?: string;
  /** What the baseline is. */
  baselineIs?: string;
  /** value / baseline, when both are numbers. */
  ratio?: string;
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);
export const p95 = (xs: readonly number[]) => quantile(xs, 0.95);
export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export const ms = (x: number, digits = 1) => `${x.toFixed(digits)} ms`;
export const ratio = (a: number, b: number, digits = 2) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(digits)}×` : '–');
export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}
export const perSecond = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;

export function renderTable(rows: readonly Row[]): string {
  const esc = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|');
  return [
    '| area | measure | extension | baseline | baseline is | ratio |',
    '|---|---|---:|---:|---|---:|',
    ...rows.map((r) => `| ${esc(r.area)} | ${esc(r.measure)} | ${esc(r.value)} | ${esc(r.baseline)} | ${esc(r.baselineIs)} | ${esc(r.ratio)} |`),
  ].join('\n');
}
