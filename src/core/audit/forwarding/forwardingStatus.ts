import type { CheckResult } from '../../doctor/Doctor';

export type ForwardingState =
  /** Created; the first look at the log has not finished. */
  | 'starting'
  /** Everything in the log was acknowledged. */
  | 'idle'
  | 'sending'
  /** The last attempt failed; the next one is at `nextAttemptAt`. */
  | 'retrying'
  /** Another VS Code window is sending right now; this one looks again later. */
  | 'standby'
  | 'stopped';

export interface ForwardingStatus {
  endpoint: string;
  state: ForwardingState;
  /** The last entry the collector acknowledged (from the shared cursor). */
  delivered?: { seq: number; at: number };
  /** The last failure, until a batch is delivered. */
  lastError?: { message: string; action?: string; at: number; status?: number; retryable: boolean };
  nextAttemptAt?: number;
  /** Failed attempts in a row. */
  failures: number;
  /** Something worth knowing that did not stop delivery (a replaced log, records the collector dropped). */
  notice?: string;
}

function clock(at: number, now: number): string {
  const d = new Date(at);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return now - at < 20 * 3600_000 && new Date(now).getDate() === d.getDate() ? hm : `${d.toISOString().slice(0, 10)} ${hm}`;
}

/**
 * The doctor's line: "Audit forwarding: https://… · last delivered seq 1234 at 14:02 · 0 pending",
 * or what went wrong and what to do. A failure that needs the user (credentials, endpoint) is
 * 'fail'; one that retries by itself (network, throttling) is 'warn'.
 */
export function forwardingCheck(status: ForwardingStatus | undefined, pending: number | undefined, now: number): CheckResult {
  const area = 'Audit forwarding';
  if (!status) return { area, status: 'skip', message: 'Off: mlspanner.audit.otlpEndpoint is not set.' };
  const parts = [status.endpoint];
  parts.push(status.delivered ? `last delivered seq ${status.delivered.seq} at ${clock(status.delivered.at, now)}` : 'nothing delivered yet');
  if (pending !== undefined) parts.push(`${pending} pending`);
  if (status.state === 'standby') parts.push('another window is sending');
  let message = parts.join(' · ');
  if (status.notice) message += `. ${status.notice}`;
  const err = status.lastError;
  if (!err) return { area, status: 'ok', message };
  const next = status.nextAttemptAt !== undefined && status.state === 'retrying' ? ` Next attempt at ${clock(status.nextAttemptAt, now)}.` : '';
  return {
    area,
    status: err.retryable ? 'warn' : 'fail',
    message: `${message}. ${status.failures} failed attempt${status.failures === 1 ? '' : 's'}, the last at ${clock(err.at, now)}: ${err.message}${next}`,
    action: err.action,
  };
}
