// Fakes for the access-log forwarder: an in-memory log, cursor store, lease and collector.
import type { AccessEvent } from '../../../src/core/audit/AccessLog';
import type { AuditLogRecord } from '../../../src/core/audit/forwarding/auditLogRecord';
import type { ForwardingLease } from '../../../src/core/audit/forwarding/AuditForwarder';
import type { CursorStore, ForwardingCursor } from '../../../src/core/audit/forwarding/ForwardingCursor';
import type { BatchLimits, EntryBatch, EntrySource } from '../../../src/core/audit/forwarding/LogBatchReader';
import type { DeliveryResult, LogTransport } from '../../../src/core/audit/forwarding/OtlpHttpTransport';
import { CancelledError, UserFacingError } from '../../../src/core/errors';

export function entry(seq: number, fields: Partial<AccessEvent> = {}): AccessEvent {
  return {
    type: 'credentialIssued',
    outcome: 'success',
    environment: 'staging',
    target: 'databricks',
    time: new Date(Date.UTC(2026, 11, 1, 14, 0, seq)).toISOString(),
    seq,
    prev: String(seq - 1).padStart(64, '0'),
    hash: String(seq).padStart(64, '0'),
    ...fields,
  } as AccessEvent;
}

/** The log as an array; `offset` is the index. Records the largest batch it handed out. */
export class MemorySource implements EntrySource {
  readonly entries: AccessEvent[] = [];
  largestBatch = 0;
  restartOnce = false;
  append(n: number): void {
    const from = this.entries.length ? this.entries[this.entries.length - 1].seq + 1 : 1;
    for (let i = 0; i < n; i++) this.entries.push(entry(from + i));
  }
  async read(after: ForwardingCursor | undefined, limits: BatchLimits): Promise<EntryBatch> {
    if (this.restartOnce && after) {
      this.restartOnce = false;
      return { entries: [], more: false, skipped: 0, restarted: true };
    }
    const rest = this.entries.map((e, offset) => ({ entry: e, offset })).filter((x) => !after || x.entry.seq > after.seq);
    const entries = rest.slice(0, limits.max);
    this.largestBatch = Math.max(this.largestBatch, entries.length);
    return { entries, more: rest.length > entries.length, skipped: 0 };
  }
  async countAfter(after: ForwardingCursor | undefined): Promise<number> {
    return this.entries.filter((e) => !after || e.seq > after.seq).length;
  }
}

export class MemoryCursorStore implements CursorStore {
  readonly cursors = new Map<string, ForwardingCursor>();
  async read(endpoint: string) {
    return this.cursors.get(endpoint);
  }
  async advance(endpoint: string, cursor: ForwardingCursor) {
    const current = this.cursors.get(endpoint);
    if (!current || current.seq < cursor.seq) this.cursors.set(endpoint, cursor);
  }
  async reset(endpoint: string) {
    this.cursors.delete(endpoint);
  }
}

/** One lease shared by the "windows" (forwarders) of a test; `heldElsewhere` simulates another process. */
export class MemoryLease implements ForwardingLease {
  held = false;
  heldElsewhere = false;
  acquisitions = 0;
  async tryAcquire() {
    if (this.held || this.heldElsewhere) return undefined;
    this.held = true;
    this.acquisitions++;
    return { release: async () => void (this.held = false) };
  }
}

/** Test encoding: the records as JSON, so the fake collector can read them back. */
export const jsonEncode = (records: readonly AuditLogRecord[]) => Buffer.from(JSON.stringify(records));

export type Answer = DeliveryResult | 'hang';

export const ok: DeliveryResult = { ok: true, rejected: 0 };
export const refused: DeliveryResult = {
  ok: false,
  retryable: true,
  error: new UserFacingError('network', 'The audit collector is unreachable at http://127.0.0.1:9 (ECONNREFUSED: connection refused: nothing listens there).', 'Check the endpoint setting and your network or VPN, then retry.'),
};
export const status = (code: number, more: Partial<Extract<DeliveryResult, { ok: false }>> = {}): DeliveryResult => ({
  ok: false,
  retryable: [408, 429, 500, 502, 503, 504].includes(code),
  status: code,
  error: new UserFacingError('service', `HTTP ${code}`, code === 401 ? 'Check the headers (ML Spanner: Set Audit Forwarding Headers…).' : undefined),
  ...more,
});

/** A collector whose answer the test sets; it records every attempt (time and records) and what it accepted. */
export class FakeCollector implements LogTransport {
  answer: Answer | ((records: AuditLogRecord[]) => Answer) = ok;
  readonly attempts: Array<{ at: number; records: AuditLogRecord[] }> = [];
  readonly accepted: AuditLogRecord[] = [];
  inFlight = 0;
  maxInFlight = 0;
  async send(body: Uint8Array, signal: AbortSignal): Promise<DeliveryResult> {
    const records = JSON.parse(Buffer.from(body).toString('utf8')) as AuditLogRecord[];
    this.attempts.push({ at: Date.now(), records });
    const a = typeof this.answer === 'function' ? this.answer(records) : this.answer;
    if (a === 'hang') {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          this.inFlight--;
          reject(new CancelledError());
        }),
      );
    }
    if (a.ok) this.accepted.push(...records);
    return a;
  }
  /** The seq of every accepted record, in order. */
  get seqs(): number[] {
    return this.accepted.map((r) => Number(r.attributes['mlspanner.seq']));
  }
}
