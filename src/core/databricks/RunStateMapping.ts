import type { RunState } from './types';

/**
 * How a run's state reads to the user. CONTRACTS.md (Jobs API 2.2, runs/get): a run is done
 * when life_cycle_state is TERMINATED or SKIPPED; INTERNAL_ERROR is also final and a failure.
 */

export type RunOutcome = 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface RunClassification {
  done: boolean;
  /** Set when done. */
  outcome?: RunOutcome;
}

export function isRunDone(state: RunState | undefined): boolean {
  const life = state?.life_cycle_state;
  return life === 'TERMINATED' || life === 'SKIPPED' || life === 'INTERNAL_ERROR';
}

export function classifyRun(state: RunState | undefined): RunClassification {
  const life = state?.life_cycle_state;
  if (!isRunDone(state)) return { done: false };
  if (life === 'INTERNAL_ERROR') return { done: true, outcome: 'failed' };
  if (life === 'SKIPPED') return { done: true, outcome: 'skipped' };
  switch (state?.result_state) {
    case 'SUCCESS':
      return { done: true, outcome: 'succeeded' };
    case 'CANCELED':
    case 'UPSTREAM_CANCELED':
      return { done: true, outcome: 'cancelled' };
    case 'EXCLUDED':
    case 'DISABLED':
      return { done: true, outcome: 'skipped' };
    // SUCCESS_WITH_FAILURES: some tasks failed; a partial result is not a success.
    default:
      return { done: true, outcome: 'failed' };
  }
}

/** The access-log outcome of a finished run. */
export function accessOutcome(outcome: RunOutcome): 'success' | 'failure' | 'cancelled' {
  return outcome === 'succeeded' ? 'success' : outcome === 'failed' ? 'failure' : 'cancelled';
}

const LIFE_TEXT: Record<string, string> = {
  QUEUED: 'Queued',
  PENDING: 'Starting',
  RUNNING: 'Running',
  TERMINATING: 'Finishing',
  BLOCKED: 'Blocked by an upstream run',
  WAITING_FOR_RETRY: 'Waiting to retry',
  SKIPPED: 'Skipped',
  INTERNAL_ERROR: 'Failed (internal error)',
};

const RESULT_TEXT: Record<string, string> = {
  SUCCESS: 'Succeeded',
  FAILED: 'Failed',
  TIMEDOUT: 'Timed out',
  CANCELED: 'Cancelled',
  MAXIMUM_CONCURRENT_RUNS_REACHED: 'Skipped (too many concurrent runs)',
  EXCLUDED: 'Excluded',
  SUCCESS_WITH_FAILURES: 'Succeeded with failures',
  UPSTREAM_FAILED: 'Upstream task failed',
  UPSTREAM_CANCELED: 'Upstream task cancelled',
  DISABLED: 'Disabled',
};

/** The table's own entry (never an inherited one such as `constructor`), else the name itself. */
function textOf(table: Record<string, string>, key: string): string {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : key;
}

/**
 * One short line for a tree item or a notification, e.g. "Running" or "Failed: <message>".
 * Robust to a state restored from storage with fields of the wrong type.
 */
export function runStateText(state: RunState | undefined): string {
  const life = typeof state?.life_cycle_state === 'string' ? state.life_cycle_state : undefined;
  if (!life) return 'Unknown state';
  let text: string;
  if (life === 'TERMINATED') text = typeof state?.result_state === 'string' && state.result_state ? textOf(RESULT_TEXT, state.result_state) : 'Finished';
  else text = textOf(LIFE_TEXT, life);
  const msg = typeof state?.state_message === 'string' ? state.state_message.trim() : undefined;
  const { outcome } = classifyRun(state);
  // The service's message explains failures and waits; "In run" and the like add nothing.
  if (msg && (outcome === 'failed' || life === 'QUEUED' || life === 'BLOCKED' || life === 'WAITING_FOR_RETRY')) text += `: ${msg}`;
  return text;
}

/** A codicon id for vscode.ThemeIcon (e.g. `new ThemeIcon(runStateIcon(state))`). */
export function runStateIcon(state: RunState | undefined): string {
  const { done, outcome } = classifyRun(state);
  if (done) {
    if (state?.result_state === 'SUCCESS_WITH_FAILURES') return 'warning';
    return outcome === 'succeeded' ? 'pass' : outcome === 'failed' ? 'error' : outcome === 'cancelled' ? 'circle-slash' : 'debug-step-over';
  }
  switch (state?.life_cycle_state) {
    case 'QUEUED':
    case 'WAITING_FOR_RETRY':
      return 'clock';
    case 'BLOCKED':
      return 'debug-pause';
    case 'PENDING':
    case 'RUNNING':
    case 'TERMINATING':
      return 'sync~spin';
    default:
      return 'question';
  }
}

/** A key that changes whenever the user-visible state changes; drives PollSchedule resets. */
export function runStateKey(state: RunState | undefined): string {
  return `${state?.life_cycle_state ?? '?'}/${state?.result_state ?? ''}`;
}
