/**
 * When to poll a run next. Runs change state most often right after they start and right after
 * a transition (QUEUED → PENDING → RUNNING → TERMINATING), so polling is fast then and backs
 * off while nothing changes, bounded by a cap so the end is still seen within seconds.
 */
export interface PollingSchedule {
  /** Reports the state just observed; returns milliseconds to wait before the next poll. */
  next(stateKey: string, observation?: PollObservation): number;
  /** Forget the last state: the next poll is fast (e.g. after a cancel request). */
  reset?(): void;
}

/** When a state was observed, so a schedule can relate it to the run's expected end. */
export interface PollObservation {
  /** Epoch ms of the observation. */
  now: number;
  /** Epoch ms the run started (runs/get start_time). */
  startTime?: number;
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

/** Where the end of a run is expected, in ms since its start. */
export interface EndWindow {
  startMs: number;
  endMs: number;
}

/** At least this much room on either side of what earlier runs showed. */
export const MIN_END_MARGIN_MS = 2000;
/** Room as a share of the median earlier duration: a run may be a little faster or slower than any seen. */
export const END_MARGIN_SHARE = 0.1;
/** Only the newest runs count: a job's duration drifts as its data grows. */
export const MAX_HISTORY = 20;

/**
 * The window in which a run should end, from the durations of the same job's earlier
 * successful runs (newest first): their range, widened by a margin. Undefined without history.
 */
export function expectedEndWindow(previousDurationsMs: readonly number[]): EndWindow | undefined {
  const d = previousDurationsMs
    .filter((x) => Number.isFinite(x) && x > 0)
    .slice(0, MAX_HISTORY)
    .sort((a, b) => a - b);
  if (!d.length) return undefined;
  const median = d.length % 2 ? d[(d.length - 1) / 2] : (d[d.length / 2 - 1] + d[d.length / 2]) / 2;
  const margin = Math.max(MIN_END_MARGIN_MS, END_MARGIN_SHARE * median);
  return { startMs: Math.max(0, d[0] - margin), endMs: d[d.length - 1] + margin };
}

export interface RunPollOptions {
  /** Delays after the first, second, ... unchanged observation. */
  stepsMs?: readonly number[];
  /** Cap per life_cycle_state; `default` for states not listed. */
  capsMs?: Partial<Record<string, number>> & { default?: number };
  /** Durations (ms, start to end) of the same job's earlier successful runs, newest first. */
  previousDurationsMs?: readonly number[];
  /** Cap while the expected end is still ahead of the window. */
  farCapMs?: number;
  /** Cap while RUNNING inside the window where the end is expected. */
  windowCapMs?: number;
  /** Delay while TERMINATING, for the first `terminatingFastPolls` polls; then the usual backoff. */
  terminatingMs?: number;
  terminatingFastPolls?: number;
}

/**
 * Caps per state. A RUNNING run can end at any moment, so its cap stays short enough that its
 * TERMINATING phase (seconds long) is often caught. QUEUED and PENDING (waiting for a slot or a
 * cluster, minutes in practice) rarely end the run, so they back off further. TERMINATING is
 * polled every second at first (see DEFAULT_TERMINATING_MS); its cap only bounds a stuck teardown.
 */
export const DEFAULT_STATE_CAPS_MS: Readonly<Record<string, number>> = {
  QUEUED: 15_000,
  PENDING: 15_000,
  RUNNING: 4500,
  TERMINATING: 5000,
  default: 10_000,
};
export const DEFAULT_FAR_CAP_MS = 30_000;
export const DEFAULT_WINDOW_CAP_MS = 3000;
/** TERMINATING is short and comes right before TERMINATED: poll it every second, ten times. */
export const DEFAULT_TERMINATING_MS = 1000;
export const DEFAULT_TERMINATING_FAST_POLLS = 10;

/**
 * The schedule JobRunner uses: fast at first and after each state change, backing off to a cap
 * that depends on the state. With earlier runs of the same job it also knows when the end is
 * due: far from it, it polls sparsely (never past the window's start); inside it, densely; past
 * it (an overrun), it falls back to the per-state caps.
 */
export class RunPollSchedule implements PollingSchedule {
  private last: string | undefined;
  private unchanged = 0;
  private readonly steps: readonly number[];
  private readonly caps: Readonly<Record<string, number | undefined>>;
  private readonly window: EndWindow | undefined;
  private readonly farCap: number;
  private readonly windowCap: number;
  private readonly terminatingMs: number;
  private readonly terminatingFastPolls: number;

  constructor(options: RunPollOptions = {}) {
    this.steps = options.stepsMs ?? DEFAULT_POLL_STEPS_MS;
    this.caps = { ...DEFAULT_STATE_CAPS_MS, ...options.capsMs };
    this.window = expectedEndWindow(options.previousDurationsMs ?? []);
    this.farCap = options.farCapMs ?? DEFAULT_FAR_CAP_MS;
    this.windowCap = options.windowCapMs ?? DEFAULT_WINDOW_CAP_MS;
    this.terminatingMs = options.terminatingMs ?? DEFAULT_TERMINATING_MS;
    this.terminatingFastPolls = options.terminatingFastPolls ?? DEFAULT_TERMINATING_FAST_POLLS;
  }

  /** The window this schedule expects the end in, if it has history. */
  get endWindow(): EndWindow | undefined {
    return this.window;
  }

  next(stateKey: string, observation?: PollObservation): number {
    if (stateKey !== this.last) {
      this.last = stateKey;
      this.unchanged = 0;
    } else this.unchanged++;
    const life = stateKey.split('/')[0];
    const cap = this.caps[life] ?? this.caps.default ?? DEFAULT_POLL_CAP_MS;
    if (life === 'TERMINATING')
      return this.unchanged < this.terminatingFastPolls ? this.terminatingMs : pollDelayMs(this.unchanged - this.terminatingFastPolls, this.steps, cap);
    const w = this.window;
    if (!w || observation?.startTime === undefined) return pollDelayMs(this.unchanged, this.steps, cap);
    const elapsed = observation.now - observation.startTime;
    const toWindow = w.startMs - elapsed;
    // Far from the expected end: back off further, but wake up when the window opens.
    if (toWindow > this.windowCap) return Math.min(pollDelayMs(this.unchanged, this.steps, Math.max(cap, this.farCap)), toWindow);
    // Inside the window a RUNNING run is about to end; one still waiting for a cluster is not.
    if (elapsed <= w.endMs && life === 'RUNNING') return pollDelayMs(this.unchanged, this.steps, Math.min(cap, this.windowCap));
    return pollDelayMs(this.unchanged, this.steps, cap);
  }

  reset(): void {
    this.last = undefined;
    this.unchanged = 0;
  }
}
