/**
 * The shape every retry wait of the extension shares: `initialMs` after the first failure,
 * doubled after each further one, never above `maxMs` (the exponent is capped, so any count of
 * failures, even Infinity, gives a finite wait).
 */
export function doublingDelayMs(initialMs: number, failures: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
}
