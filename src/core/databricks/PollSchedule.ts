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
  /** The shortest delay, and the first one after reset(). */
  minMs?: number;
  /** Delay as a share of the run's age: a run that has gone on for a while has a while to go. */
  elapsedShare?: number;
  /** Cap per life_cycle_state; `default` for states not listed. */
  capsMs?: Partial<Record<string, number>> & { default?: number };
  /** Durations (ms, start to end) of the same job's earlier successful runs, newest first. */
  previousDurationsMs?: readonly number[];
  /** Cap while the expected end is still ahead of its window. */
  farCapMs?: number;
  /** Before the window, the delay as a share of the run's age (up to `farCapMs`). */
  farShare?: number;
  /** Interval while RUNNING inside the window where the end is expected. */
  windowIntervalMs?: number;
  /** Delay while TERMINATING, for the first `terminatingFastPolls` polls; then the usual backoff. */
  terminatingMs?: number;
  terminatingFastPolls?: number;
  /**
   * The request budget: by any moment, this schedule has asked for no more polls (plus
   * `priorRequests`) than a poll every `budgetIntervalMs` from its first poll would have sent.
   * 0 turns it off.
   */
  budgetIntervalMs?: number;
  /** Requests made for this run before its first poll (JobRunner's history lookup): they count against the budget. */
  priorRequests?: number;
}

/**
 * Caps per state. A RUNNING run can end at any moment, but its TERMINATING phase (seconds long)
 * announces the end, and TERMINATING is polled every second: a RUNNING cap of 8 s catches a 2 s
 * teardown one time in four and otherwise sees the end within 6 s. QUEUED and PENDING (waiting
 * for a slot or a cluster, minutes in practice) rarely end the run. The TERMINATING cap only
 * bounds a stuck teardown.
 */
export const DEFAULT_STATE_CAPS_MS: Readonly<Record<string, number>> = {
  QUEUED: 15_000,
  PENDING: 15_000,
  RUNNING: 8000,
  TERMINATING: 5000,
  default: 10_000,
};
export const DEFAULT_MIN_POLL_MS = 1000;
export const DEFAULT_ELAPSED_SHARE = 0.3;
export const DEFAULT_FAR_CAP_MS = 30_000;
export const DEFAULT_FAR_SHARE = 1;
export const DEFAULT_WINDOW_INTERVAL_MS = 5000;
/** TERMINATING is short and comes right before TERMINATED: poll it every second, ten times. */
export const DEFAULT_TERMINATING_MS = 1000;
export const DEFAULT_TERMINATING_FAST_POLLS = 10;
/** Never more requests than polling every 3 s would send: the baseline this schedule must beat. */
export const DEFAULT_BUDGET_INTERVAL_MS = 3000;
/** JobRunner asks runs/list for the job's earlier runs before it polls. */
export const DEFAULT_PRIOR_REQUESTS = 1;

/**
 * The schedule JobRunner uses. The delay grows with the run's age (a share of the time since it
 * started, within [min, cap of the state]): a run that started seconds ago may end any moment,
 * one that has run for ten minutes is unlikely to end in the next ten seconds. TERMINATING, the
 * announcement of the end, is polled every second.
 *
 * With earlier runs of the same job it also knows when the end is due: before that window it
 * waits as long again as the run has lasted, at most 30 s (an early failure is still seen);
 * inside it, RUNNING is polled every 5 s on a grid aligned to the window's end; past it (an
 * overrun), the age rule applies again.
 *
 * A request budget bounds it all: never more polls than a fixed poller sleeping 3 s between
 * polls would have sent by then, counting the history lookup. Short runs cost at most what fixed
 * polling costs; long runs save most of their requests.
 */
export class RunPollSchedule implements PollingSchedule {
  private last: string | undefined;
  private unchanged = 0;
  private fast = false;
  private polls = 0;
  /** Time since the first poll: observation times, or the sum of the delays returned. */
  private origin: number | undefined;
  private clock = 0;
  /** The sum of the delays returned: what a fixed poller would have slept by now. */
  private slept = 0;
  private readonly min: number;
  private readonly share: number;
  private readonly caps: Readonly<Record<string, number | undefined>>;
  private readonly window: EndWindow | undefined;
  private readonly farCap: number;
  private readonly farShare: number;
  private readonly windowInterval: number;
  private readonly terminatingMs: number;
  private readonly terminatingFastPolls: number;
  private readonly budgetInterval: number;
  private readonly priorRequests: number;

  constructor(options: RunPollOptions = {}) {
    this.min = Math.max(1, options.minMs ?? DEFAULT_MIN_POLL_MS);
    this.share = Math.max(0, options.elapsedShare ?? DEFAULT_ELAPSED_SHARE);
    this.caps = { ...DEFAULT_STATE_CAPS_MS, ...options.capsMs };
    this.window = expectedEndWindow(options.previousDurationsMs ?? []);
    this.farCap = options.farCapMs ?? DEFAULT_FAR_CAP_MS;
    this.farShare = Math.max(0, options.farShare ?? DEFAULT_FAR_SHARE);
    this.windowInterval = Math.max(this.min, options.windowIntervalMs ?? DEFAULT_WINDOW_INTERVAL_MS);
    this.terminatingMs = options.terminatingMs ?? DEFAULT_TERMINATING_MS;
    this.terminatingFastPolls = options.terminatingFastPolls ?? DEFAULT_TERMINATING_FAST_POLLS;
    this.budgetInterval = Math.max(0, options.budgetIntervalMs ?? DEFAULT_BUDGET_INTERVAL_MS);
    this.priorRequests = Math.max(0, options.priorRequests ?? DEFAULT_PRIOR_REQUESTS);
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
    this.polls++;
    if (observation) {
      this.origin ??= observation.now;
      this.clock = Math.max(this.clock, observation.now - this.origin);
    }
    const age = observation?.startTime !== undefined ? Math.max(0, observation.now - observation.startTime) : this.clock;
    let delay = this.fast ? this.min : this.wanted(stateKey.split('/')[0], age);
    this.fast = false;
    // The budget: the next poll is request number polls + prior + 1, which a fixed poller sends
    // after sleeping (polls + prior) intervals. Counted in sleep, not wall time: a fixed poller
    // sleeps its interval after each answer, so slow answers give it no extra polls, nor this one.
    if (this.budgetInterval > 0) delay = Math.max(delay, this.budgetInterval * (this.polls + this.priorRequests) - this.slept);
    delay = Math.round(Math.max(this.min, delay));
    this.slept += delay;
    if (!observation) this.clock += delay;
    return delay;
  }

  private wanted(life: string, age: number): number {
    const cap = this.caps[life] ?? this.caps.default ?? DEFAULT_POLL_CAP_MS;
    if (life === 'TERMINATING' && this.unchanged < this.terminatingFastPolls) return this.terminatingMs;
    const byAge = Math.min(cap, Math.max(this.min, this.share * age));
    const w = this.window;
    if (!w || age >= w.endMs || life === 'TERMINATING') return byAge;
    if (age < w.startMs) {
      // Far from the expected end: sparse polls, the first one in the window on the grid.
      const firstGridPoint = w.endMs - Math.floor((w.endMs - w.startMs) / this.windowInterval) * this.windowInterval;
      return Math.min(Math.max(byAge, this.farShare * age), this.farCap, firstGridPoint - age);
    }
    // Inside the window a RUNNING run is about to end; one still waiting for a cluster is not.
    if (life !== 'RUNNING') return byAge;
    const toGrid = (w.endMs - age) % this.windowInterval;
    return toGrid >= this.min ? toGrid : toGrid + this.windowInterval;
  }

  /** Forget the last state: the next poll is fast (e.g. after a cancel request), within the budget. */
  reset(): void {
    this.last = undefined;
    this.unchanged = 0;
    this.fast = true;
  }
}
