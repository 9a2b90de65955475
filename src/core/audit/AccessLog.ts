import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { redact } from '../redact';

export type AccessEventType =
  | 'signIn'
  | 'signInFailed'
  | 'signOut'
  | 'sessionRefreshed'
  | 'sessionRefreshFailed'
  | 'credentialIssued'
  | 'credentialRefreshed'
  | 'credentialRevoked'
  | 'credentialDenied'
  | 'credentialFailed'
  | 'credentialFetched'
  | 'jobRequested'
  | 'jobStarted'
  | 'jobFinished'
  | 'jobCancelled'
  | 'jobDenied'
  | 'queryExecuted'
  | 'terminalOpened';

export type Outcome = 'success' | 'failure' | 'denied' | 'cancelled';

/** What callers record. Never a token: only its fingerprint (see fingerprint.ts). */
export interface AccessEventInput {
  type: AccessEventType;
  outcome: Outcome;
  /** Who: the IdP subject and a readable name; filled from the session when omitted. */
  actor?: { issuer?: string; subject?: string; name?: string };
  environment?: string;
  /** What: 'databricks' | 'google' | 'aws' | 'idp' or a resource such as a job id. */
  target?: string;
  /** Where: a host or resource the access went to. */
  resource?: string;
  tokenFingerprint?: string;
  reason?: string;
  detail?: string;
  [extra: string]: unknown;
}

/** An entry as written, before its hash: the input plus its place in the chain. */
export type UnhashedAccessEvent = AccessEventInput & {
  seq: number;
  time: string; // ISO 8601
  prev: string; // hash of the previous line, or GENESIS
};

/** `hash` is sha256 over the canonical JSON of the unhashed entry, which includes `prev`. */
export type AccessEvent = UnhashedAccessEvent & { hash: string };

/** Something that records access events; the broker, runners and sign-in take this. */
export interface AccessEventSink {
  record(event: AccessEventInput): void;
}

export const GENESIS = '0'.repeat(64);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashEvent(event: UnhashedAccessEvent): string {
  return createHash('sha256').update(canonical(event), 'utf8').digest('hex');
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  /** 1-based line of the first broken link, with why. */
  brokenAt?: { line: number; reason: string };
}

/** Checks a whole log text: every line parses, seq increases by one, each prev/hash links. */
export function verifyLogText(text: string): VerifyResult {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    let e: AccessEvent;
    try {
      e = JSON.parse(lines[i]) as AccessEvent;
    } catch {
      return { ok: false, count: i, brokenAt: { line: i + 1, reason: 'not valid JSON' } };
    }
    if (e.seq !== i + 1) return { ok: false, count: i, brokenAt: { line: i + 1, reason: `sequence ${e.seq}, expected ${i + 1}` } };
    if (e.prev !== prev) return { ok: false, count: i, brokenAt: { line: i + 1, reason: 'link to the previous entry does not match (entry removed or reordered)' } };
    const { hash, ...rest } = e;
    if (hashEvent(rest) !== hash) return { ok: false, count: i, brokenAt: { line: i + 1, reason: 'content does not match its hash (entry edited)' } };
    prev = hash;
  }
  return { ok: true, count: lines.length };
}

/**
 * The hash-chained JSON-lines access log. Appends are serialised; a write failure is reported
 * to `onError` and never thrown into the caller (auditing must not break the user's work).
 */
export class AccessLog implements AccessEventSink {
  private tail: Promise<void> = Promise.resolve();
  private last?: { seq: number; hash: string };

  constructor(
    readonly file: string,
    private readonly defaults: () => Partial<AccessEventInput> = () => ({}),
    private readonly now: () => number = Date.now,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  record(event: AccessEventInput): void {
    void this.append(event);
  }

  append(input: AccessEventInput): Promise<void> {
    const run = this.tail.then(async () => {
      const last = this.last ?? (await this.readLast());
      const base = { ...this.defaults(), ...input };
      const clean = JSON.parse(redact(JSON.stringify(base))) as AccessEventInput;
      const event: UnhashedAccessEvent = {
        ...clean,
        seq: last.seq + 1,
        time: new Date(this.now()).toISOString(),
        prev: last.hash,
      };
      const hash = hashEvent(event);
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await fs.appendFile(this.file, JSON.stringify({ ...event, hash }) + '\n', { encoding: 'utf8', mode: 0o600 });
      this.last = { seq: event.seq, hash };
    });
    this.tail = run.catch((e) => {
      this.last = undefined; // re-read the file next time
      this.onError(e);
    });
    return this.tail;
  }

  /** Waits for pending appends. */
  flush(): Promise<void> {
    return this.tail;
  }

  async readText(): Promise<string> {
    await this.flush();
    return this.readFile();
  }

  /** Reads without waiting for pending appends (used inside the append queue itself). */
  private async readFile(): Promise<string> {
    try {
      return await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
  }

  async entries(): Promise<AccessEvent[]> {
    return (await this.readText())
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AccessEvent);
  }

  async verify(): Promise<VerifyResult> {
    return verifyLogText(await this.readText());
  }

  private async readLast(): Promise<{ seq: number; hash: string }> {
    const text = await this.readFile().catch(() => '');
    const lines = text.split('\n').filter((l) => l.trim());
    if (!lines.length) return { seq: 0, hash: GENESIS };
    try {
      const e = JSON.parse(lines[lines.length - 1]) as AccessEvent;
      return { seq: e.seq, hash: e.hash };
    } catch {
      // A torn last line: keep appending after it; verify() will point at it.
      return { seq: lines.length, hash: GENESIS };
    }
  }
}
