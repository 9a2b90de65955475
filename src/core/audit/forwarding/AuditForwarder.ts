import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { CancelledError, UserFacingError, errorMessage } from '../../errors';
import { Emitter } from '../../events';
import { redact } from '../../redact';
import { FileLock, LockTimeoutError } from '../FileLock';
import { toAuditLogRecord, type AuditLogRecord, type ForwardingIdentity } from './auditLogRecord';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { encodeLogs } from './encodeLogs';
import { FileCursorStore, type CursorStore } from './ForwardingCursor';
import type { ForwardingState, ForwardingStatus } from './forwardingStatus';
import { LogBatchReader, type EntryBatch, type EntrySource } from './LogBatchReader';
import { DEFAULT_DELIVERY_TIMEOUT_MS, OtlpHttpTransport, type DeliveryResult, type LogTransport } from './OtlpHttpTransport';

/** Held while one batch is read, sent and acknowledged; other windows skip meanwhile. */
export interface ForwardingLease {
  /** The lease, or undefined at once when another window holds it (never waits). */
  tryAcquire(): Promise<{ release(): Promise<void> } | undefined>;
}

/**
 * A lease file beside the log (`access-log.jsonl.forwarding.lock`), on the log's FileLock:
 * taken without waiting, held for one batch, taken over when its window's process is gone or
 * it is older than `staleMs` (longer than a batch can take: the delivery deadline and margin).
 */
export function fileLease(path: string, staleMs: number): ForwardingLease {
  const lock = new FileLock(path, { staleMs, timeoutMs: 0 });
  const acquire = async () => {
    try {
      return await lock.acquire();
    } catch (e) {
      if (e instanceof LockTimeoutError) return undefined;
      throw e;
    }
  };
  return {
    tryAcquire: () =>
      acquire().catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
        // No folder yet: nothing was logged on this machine so far (AccessLog creates it alike).
        await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
        return acquire();
      }),
  };
}

export interface AuditForwarderOptions {
  /** The OTLP/HTTP logs endpoint; also the cursor's key. */
  endpoint: string;
  source: EntrySource;
  cursors: CursorStore;
  lease: ForwardingLease;
  transport: LogTransport;
  identity: ForwardingIdentity;
  /** Records → request body (default: OTLP JSON through the OpenTelemetry libraries, loaded on first use). */
  encode?: (records: readonly AuditLogRecord[], identity: ForwardingIdentity, observedMs: number) => Uint8Array;
  /** Most entries per request (default 512). */
  batchSize?: number;
  /** Most bytes of log lines per request (default 1 MiB). */
  maxBatchBytes?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Wait after an append before sending, so a burst of entries goes in one request (default 1 s). */
  debounceMs?: number;
  /** When another window holds the lease, look again after about this long (default 15 s, ±50 %). */
  standbyMs?: number;
  random?: () => number;
  now?: () => number;
  log?: (level: 'info' | 'warn', message: string) => void;
}

const DEFAULT_BATCH = 512;
const DEFAULT_BATCH_BYTES = 1 << 20;

type Step = 'more' | 'done' | 'waiting';

/**
 * At-least-once delivery of the access log to an OpenTelemetry collector, driven by the log's
 * sequence numbers. The file is the queue: each step reads the entries after the shared cursor
 * (at most one batch in memory), sends them, and moves the cursor only after a 2xx. Failures
 * wait with exponential backoff and jitter (capped, at least what Retry-After asks), so a
 * collector that is down costs a few requests an hour, never a loop. Appends only call
 * `notify()`, which sets a timer: nothing a user does waits for the network. Windows that
 * append to the same log take a lease per batch, so one sends while the others skip, and all
 * share one cursor file.
 */
export class AuditForwarder {
  private readonly changed = new Emitter<ForwardingStatus>();
  /** Fires on every state change (sent, failed, waiting, another window sending). */
  readonly onDidChangeStatus = this.changed.event;

  private readonly encode: NonNullable<AuditForwarderOptions['encode']>;
  private readonly policy: BackoffPolicy;
  private readonly debounceMs: number;
  private readonly standbyMs: number;
  private readonly maxBatchBytes: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private batchSize: number;

  private timer?: ReturnType<typeof setTimeout>;
  private running?: Promise<void>;
  private again = false;
  private disposed = false;
  private readonly abort = new AbortController();
  private current: ForwardingStatus;

  constructor(private readonly o: AuditForwarderOptions) {
    this.encode = o.encode ?? encodeLogs;
    this.policy = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.debounceMs = o.debounceMs ?? 1_000;
    this.standbyMs = o.standbyMs ?? 15_000;
    this.maxBatchBytes = o.maxBatchBytes ?? DEFAULT_BATCH_BYTES;
    this.batchSize = Math.max(1, o.batchSize ?? DEFAULT_BATCH);
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
    this.current = { endpoint: o.endpoint, state: 'starting', failures: 0 };
  }

  get status(): ForwardingStatus {
    return this.current;
  }

  /** Sends what the log holds after the cursor, after `delayMs` (default: at once). */
  start(delayMs = 0): void {
    this.schedule(delayMs);
  }

  /** An entry was appended: send it soon. Returns at once. */
  notify(): void {
    this.schedule(this.debounceMs);
  }

  /**
   * The status with the delivered entry from the shared cursor (another window may have moved
   * it) and the number of entries after it (reads the log to its end: for the doctor).
   */
  async overview(): Promise<{ status: ForwardingStatus; pending: number }> {
    const cursor = await this.o.cursors.read(this.o.endpoint);
    const pending = await this.o.source.countAfter(cursor);
    return { status: { ...this.current, delivered: cursor ? { seq: cursor.seq, at: cursor.deliveredAt } : this.current.delivered }, pending };
  }

  /** Stops timers and cancels a request in flight. The cursor stays where the last 2xx put it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    this.o.transport.dispose?.();
    this.update({ state: 'stopped', nextAttemptAt: undefined });
    this.changed.dispose();
  }

  /** dispose(), then waits until the step in progress has let go of the lease. */
  async stop(): Promise<void> {
    this.dispose();
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.disposed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // Already due, or waiting after a failure or for another window: a new entry does not
    // shorten the wait (it is in the file and goes with the next attempt).
    if (this.timer) return;
    this.setTimer(ms);
  }

  private setTimer(ms: number): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        const again = this.again;
        this.again = false;
        if (again && !this.timer) this.schedule(this.debounceMs);
      });
    }, ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.disposed) return;
        const lease = await this.o.lease.tryAcquire();
        if (!lease) {
          this.update({ state: 'standby' });
          this.setTimer(this.standbyMs * (0.5 + this.random()));
          return;
        }
        let step: Step;
        try {
          step = await this.step();
        } finally {
          await lease.release();
        }
        if (step !== 'more') return;
      }
    } catch (e) {
      if (this.disposed || e instanceof CancelledError) return;
      // The log or the cursor file could not be read or written: wait like any failure.
      const error = e instanceof UserFacingError ? e : new UserFacingError('config', `Could not read the access log for forwarding: ${redact(errorMessage(e))}`);
      this.failed({ ok: false, retryable: true, error });
    }
  }

  /** One batch: read after the cursor, send, advance. */
  private async step(): Promise<Step> {
    const { endpoint } = this.o;
    let cursor = await this.o.cursors.read(endpoint);
    const limits = { max: this.batchSize, maxBytes: this.maxBatchBytes };
    let batch: EntryBatch = await this.o.source.read(cursor, limits);
    if (batch.restarted) {
      this.notice(`The access log ends before entry ${cursor?.seq} that was delivered: it was deleted or replaced, and is sent again from its start.`);
      await this.o.cursors.reset(endpoint);
      cursor = undefined;
      batch = await this.o.source.read(undefined, limits);
    }
    if (batch.rewritten) this.notice(`Entry ${cursor?.seq} of the access log changed after it was delivered (Verify Access Log shows where); the collector holds the original.`);
    // Another window may have moved the shared cursor.
    const delivered = cursor ? { seq: cursor.seq, at: cursor.deliveredAt } : this.current.delivered;
    if (!batch.entries.length) {
      this.update({ state: 'idle', delivered, nextAttemptAt: undefined });
      return 'done';
    }
    this.update({ state: 'sending', delivered });
    const body = this.encode(
      batch.entries.map((e) => toAuditLogRecord(e.entry)),
      this.o.identity,
      this.now(),
    );
    const result = await this.o.transport.send(body, this.abort.signal);
    if (result.ok) {
      const last = batch.entries[batch.entries.length - 1];
      const at = this.now();
      await this.o.cursors.advance(endpoint, { seq: last.entry.seq, hash: last.entry.hash, offset: last.offset, deliveredAt: at });
      if (result.rejected > 0)
        this.notice(`The collector dropped ${result.rejected} of ${batch.entries.length} records it was sent${result.message ? ` (${result.message})` : ''}; they are not sent again.`);
      if (this.current.failures > 0) this.o.log?.('info', `Audit forwarding to ${endpoint} works again: delivered up to entry ${last.entry.seq}.`);
      this.update({ state: 'sending', delivered: { seq: last.entry.seq, at }, failures: 0, lastError: undefined, nextAttemptAt: undefined });
      return 'more';
    }
    if (result.tooLarge && batch.entries.length > 1) {
      // 413: halve the batch and try again at once (at most log2(batch size) times).
      this.batchSize = Math.ceil(batch.entries.length / 2);
      this.notice(`The collector refused ${batch.entries.length} records at once as too large; batches of ${this.batchSize} are sent.`);
      return 'more';
    }
    this.failed(result);
    return 'waiting';
  }

  private failed(result: Extract<DeliveryResult, { ok: false }>): void {
    const failures = this.current.failures + 1;
    // A refusal that only the user can fix (credentials, endpoint) is tried again at the
    // longest interval, or at once when the setting or the headers change (a new forwarder).
    const delay = result.retryable ? backoffDelayMs(failures, this.random, this.policy, result.retryAfterMs) : backoffDelayMs(Infinity, this.random, this.policy, result.retryAfterMs);
    const { message, action } = result.error;
    const text = redact(message);
    if (text !== this.current.lastError?.message) this.o.log?.('warn', `Audit forwarding: ${text}${action ? ` ${action}` : ''}`);
    this.update({
      state: 'retrying',
      failures,
      nextAttemptAt: this.now() + delay,
      lastError: { message: text, action, at: this.now(), status: result.status, retryable: result.retryable },
    });
    this.setTimer(delay);
  }

  private notice(text: string): void {
    if (text !== this.current.notice) this.o.log?.('warn', `Audit forwarding: ${text}`);
    this.update({ notice: text });
  }

  private update(patch: Partial<ForwardingStatus> & { state?: ForwardingState }): void {
    this.current = { ...this.current, ...patch };
    if (!this.disposed || patch.state === 'stopped') this.changed.fire(this.current);
  }
}

export interface FileForwarderOptions extends Omit<AuditForwarderOptions, 'source' | 'cursors' | 'lease' | 'transport'> {
  /** The access-log file (AccessLog.file). */
  logFile: string;
  /** Request headers (e.g. an API key), from the secret store. */
  headers?: Readonly<Record<string, string>>;
  /** Deadline of one request (default 30 s). */
  timeoutMs?: number;
}

/**
 * The forwarder the extension runs: the log file as the queue, the cursor file and the lease
 * file beside it (`<log>.forwarding.json`, `<log>.forwarding.lock`), OTLP/HTTP JSON to the endpoint.
 */
export function createFileForwarder(o: FileForwarderOptions): AuditForwarder {
  const { logFile, headers = {}, timeoutMs, ...rest } = o;
  return new AuditForwarder({
    ...rest,
    source: new LogBatchReader(logFile),
    cursors: new FileCursorStore(`${logFile}.forwarding.json`),
    lease: fileLease(`${logFile}.forwarding.lock`, 2 * (timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS) + 60_000),
    transport: new OtlpHttpTransport(o.endpoint, headers, { timeoutMs }),
  });
}
