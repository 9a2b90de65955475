/**
 * When to poll a run next. Runs change state most often right after they start and right after
 * a transition (QUEUED → PENDING → RUNNING → TERMINATING), so polling is fast then and backs
 * off while nothing changes, bounded by a cap so the end is still seen within seconds.
 */
export interface PollingSchedule {
  /** Reports the state just observed; returns milliseconds to wait before the next poll. */
  next(stateKey: string): number;
}

export interface AdaptivePollOptions {
  /** Delays after the first, second, ... unchanged observation. */
  stepsMs?: readonly number[];
  /** Upper bound once the steps run out. */
  capMs?: number;
}

export const DEFAULT_POLL_STEPS_MS: readonly number[] = [1000, 1000, 2000, 3000, 5000, 8000];
export const DEFAULT_POLL_CAP_MS = 10_000;

/** The delay after `unchanged` consecutive observations of the same state (0 = just changed). */
export function pollDelayMs(unchanged: number, stepsMs: readonly number[] = DEFAULT_POLL_STEPS_MS, capMs = DEFAULT_POLL_CAP_MS): number {
  const step = unchanged < stepsMs.length ? stepsMs[Math.max(0, unchanged)] : capMs;
  return Math.min(step, capMs);
}

export class AdaptivePollSchedule implements PollingSchedule {
  private last: string | undefined;
  private unchanged = 0;
  private readonly steps: readonly number[];
  private readonly cap: number;

  constructor(options: AdaptivePollOptions = {}) {
    this.steps = options.stepsMs ?? DEFAULT_POLL_STEPS_MS;
    this.cap = options.capMs ?? DEFAULT_POLL_CAP_MS;
  }

  next(stateKey: string): number {
    if (stateKey !== this.last) {
      this.last = stateKey;
      this.unchanged = 0;
    } else this.unchanged++;
    return pollDelayMs(this.unchanged, this.steps, this.cap);
  }

  /** Forget the last state: the next poll is fast (e.g. after a cancel request). */
  reset(): void {
    this.last = undefined;
    this.unchanged = 0;
  }
}

/** A constant interval; the baseline the benchmark compares against. */
export class FixedPollSchedule implements PollingSchedule {
  constructor(private readonly intervalMs: number) {}
  next(): number {
    return this.intervalMs;
  }
}
