import { doublingDelayMs } from '../../backoff';

export interface BackoffPolicy {
  /** First wait after a failure (default 1 s). */
  initialMs: number;
  /** Longest wait between attempts (default 5 min). */
  maxMs: number;
  /** A Retry-After longer than this is cut to it (default 1 h): a wrong header must not stop delivery for days. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 5 * 60_000, maxRetryAfterMs: 60 * 60_000 };

/**
 * The wait before attempt `failures + 1`: exponential (initial × 2^(failures-1), capped) with
 * "equal jitter" (half fixed, half random), so windows that failed together spread out and the
 * wait is never below half the step: no hot loop even with random() = 0. A Retry-After (429,
 * 503) is a floor: never sooner than the collector asked.
 */
export function backoffDelayMs(failures: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number): number {
  const step = doublingDelayMs(policy.initialMs, failures, policy.maxMs);
  const jittered = step / 2 + (step / 2) * Math.min(1, Math.max(0, random()));
  const floor = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, policy.maxRetryAfterMs) : 0;
  return Math.round(Math.max(jittered, floor));
}
