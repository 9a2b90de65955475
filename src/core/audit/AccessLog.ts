import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { Emitter } from '../events';
import { redact, redactDeep } from '../redact';
import { entryMembers, GENESIS, sealLine, type EntryMembers } from './entryFormat';
import { FileLock, type FileLockOptions, type HeldLock } from './FileLock';
import { LogAnchor, type AnchorStore, type LogSeal } from './LogAnchor';
import { readLines } from './readLines';
import { ChainVerifier, type AnchorState, type LogHead, type VerifyResult } from './verifyLog';

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
  | 'terminalOpened'
  | 'accessConfirmed'
  | 'accessDenied'
  | 'hostTrusted'
  | 'hostRejected'
  | 'policyChanged'
  | 'agentToolInvoked';

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

/**
 * `hash` is sha256 over the canonical JSON of the unhashed entry, which includes `prev`; `mac`
 * (anchored logs) is HMAC-SHA256 over the same bytes with the key kept in the secret store.
 */
export type AccessEvent = UnhashedAccessEvent & { hash: string; mac?: string };

/** Something that records access events; the broker, runners and sign-in take this. */
export interface AccessEventSink {
  record(event: AccessEventInput): void;
}

export { GENESIS, hashEvent, canonicalJson } from './entryFormat';
export { verifyLogText } from './verifyLog';
export type { VerifyResult, LogBreak, LogHead, AnchorState } from './verifyLog';
export type { AnchorStore } from './LogAnchor';

export interface AccessLogOptions {
  /**
   * Anchors the log in a secret store (VS Code: `context.secrets`): an HMAC key seals every
   * entry and the last entry is recorded after each append, so truncation, an emptied file and
   * a recomputed chain are detected. Without it the log is hash-chained only ('unanchored').
   */
  anchor?: AnchorStore;
  /** Prefix of the secret-store keys (default 'accessLog': 'accessLog.seal', 'accessLog.head'). */
  anchorName?: string;
  /** Things worth knowing that did not stop a write (a shortened log, an unreachable secret store). Default: onError. */
  onWarning?: (message: string) => void;
  /** Cross-process lock tuning (tests). */
  lock?: FileLockOptions;
  /**
   * With an anchor, flush written lines to disk (fdatasync) before recording the head. Default
   * false: a sync costs milliseconds per write, and without it only a power loss or OS crash
   * can leave the head ahead of the file, which verify then reports as entries lost at the end.
   */
  durable?: boolean;
}

/** A write that failed: named in `onError` and in the rejection of `append()`. */
export class AccessLogWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccessLogWriteError';
  }
}

interface Pending {
  members: EntryMembers;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Entries written in one locked write at most; the rest follow in the next batch. */
const MAX_BATCH = 1_000;
/** How much of the end of the file is read to find the last entry, at first. */
const TAIL_CHUNK = 64 * 1024;

interface Tail {
  seq: number;
  hash: string;
  /** False when the file ends in a torn line (no final newline). */
  endsWithNewline: boolean;
}

/**
 * The hash-chained JSON-lines access log.
 *
 * Appends from this window are queued and written in batches; each batch is written under a
 * cross-process file lock (`<file>.lock`) after re-reading the end of the file, so several VS Code
 * windows append to one chain. `record()` never throws; `append()` resolves when the entry is on
 * disk and rejects (after calling `onError`) when it could not be written.
 */
export class AccessLog implements AccessEventSink {
  private readonly queue: Pending[] = [];
  private draining?: Promise<void>;
  private readonly lock: FileLock;
  private readonly anchor?: LogAnchor;
  private seal?: LogSeal;
  private readonly onWarning: (message: string) => void;
  private readonly durable: boolean;
  private dirReady = false;
  private readonly appended = new Emitter<void>();
  /** Fires after entries from this window are on disk (appends by other windows do not fire it). */
  readonly onDidAppend = this.appended.event;

  constructor(
    readonly file: string,
    private readonly defaults: () => Partial<AccessEventInput> = () => ({}),
    private readonly now: () => number = Date.now,
    private readonly onError: (e: unknown) => void = () => undefined,
    options: AccessLogOptions = {},
  ) {
    this.lock = new FileLock(`${file}.lock`, options.lock);
    this.anchor = options.anchor ? new LogAnchor(options.anchor, options.anchorName) : undefined;
    this.onWarning = options.onWarning ?? ((m) => this.onError(new Error(m)));
    this.durable = options.durable ?? false;
  }

  /** Fire and forget: failures go to `onError` only. */
  record(event: AccessEventInput): void {
    this.append(event).catch(() => undefined);
  }

  append(input: AccessEventInput): Promise<void> {
    let members: EntryMembers;
    try {
      // Redact the values, never the serialised text: escaping stays intact.
      const fields = redactDeep({ ...this.safeDefaults(), ...input, time: new Date(this.now()).toISOString() }) as Record<string, unknown>;
      members = entryMembers(fields);
    } catch (e) {
      const err = new AccessLogWriteError(`Could not record a '${String(input?.type)}' access-log entry: ${errorText(e)}`, { cause: e });
      this.onError(err);
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ members, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Appends made while the last batch was being settled.
      if (this.queue.length) this.kick();
    });
  }

  /** The defaults (who is signed in) must never cost an entry: without them the entry is still written. */
  private safeDefaults(): Partial<AccessEventInput> {
    try {
      return this.defaults();
    } catch (e) {
      this.onWarning(`The access-log defaults (actor) could not be read; the entry is written without them: ${errorText(e)}`);
      return {};
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.writeBatch(batch);
        for (const p of batch) p.resolve();
        this.appended.fire();
      } catch (e) {
        const n = batch.length;
        const err = new AccessLogWriteError(`Could not write ${n} access-log ${n === 1 ? 'entry' : 'entries'} to ${this.file}: ${errorText(e)}`, { cause: e });
        this.onError(err);
        for (const p of batch) p.reject(err);
      }
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const mkdir = () => fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    if (!this.dirReady) {
      await mkdir();
      this.dirReady = true;
    }
    const lock = await this.lock.acquire().catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await mkdir(); // the folder was removed since
      return this.lock.acquire();
    });
    try {
      let last: { seq: number; hash: string };
      // Synchronous file calls inside the lock: one small read and one small write, cheaper than
      // thread-pool round trips, so the lock is held for less time. Only the sync to disk is async.
      const fd = fsSync.openSync(this.file, 'a+', 0o600);
      try {
        const size = fsSync.fstatSync(fd).size;
        const tail = readTail(fd, size);
        if (!tail.endsWithNewline) this.onWarning(`The access log ${this.file} ended in a torn line; it is kept (Verify Access Log shows it) and new entries start on the next line.`);
        const { start, seal } = await this.prepareAnchor(tail);
        last = start;
        const lines: string[] = [];
        for (const p of batch) {
          const { line, hash } = sealLine(p.members, last.seq + 1, last.hash, seal?.key);
          lines.push(line);
          last = { seq: last.seq + 1, hash };
        }
        writeAll(fd, Buffer.from(`${tail.endsWithNewline ? '' : '\n'}${lines.join('\n')}\n`, 'utf8'));
        if (this.anchor && this.durable) await fdatasync(fd);
      } finally {
        fsSync.closeSync(fd);
      }
      if (this.anchor && (await lock.stillHeld())) {
        await this.anchor.storeHead(last).catch((e) => this.onWarning(`The access log's head could not be recorded in the secret store: ${errorText(e)}`));
      }
    } finally {
      await lock.release();
    }
  }

  /**
   * Under the lock: the sealing key (created on first use) and where the chain continues. When
   * the secret store recorded an entry the file no longer ends with (the file was shortened or
   * its end rewritten), the chain continues from the recorded entry, so the gap stays visible.
   */
  private async prepareAnchor(tail: Tail): Promise<{ start: { seq: number; hash: string }; seal?: LogSeal }> {
    if (!this.anchor) return { start: tail };
    let head: LogHead | undefined;
    try {
      // Read every time, not cached: if two windows sealed at once (the secret store syncs
      // windows with a delay), all converge on the key the store kept.
      const stored = await this.anchor.readSeal();
      // The store lost the key this window still holds: put it back rather than start another.
      if (!stored && this.seal) await this.anchor.storeSeal(this.seal);
      this.seal = stored ?? this.seal;
      head = await this.anchor.readHead();
    } catch (e) {
      this.onWarning(`The access log's anchor could not be read from the secret store; this entry is written unsealed: ${errorText(e)}`);
      return { start: tail };
    }
    let start: { seq: number; hash: string } = tail;
    if (head && (head.seq > tail.seq || (head.seq === tail.seq && head.hash !== tail.hash))) {
      this.onWarning(
        `The access log ${this.file} ends at entry ${tail.seq}, but entry ${head.seq} was recorded: it was shortened or its end rewritten. ` +
          `New entries continue from entry ${head.seq + 1}; Verify Access Log shows the gap.`,
      );
      start = head;
    }
    if (!this.seal) {
      try {
        this.seal = await this.anchor.createSeal(start.seq + 1);
      } catch (e) {
        this.onWarning(`The access log's key could not be stored in the secret store; this entry is written unsealed: ${errorText(e)}`);
      }
    }
    return { start, seal: this.seal };
  }

  /** Waits for pending appends. Never rejects. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async readText(): Promise<string> {
    await this.flush();
    return readIfExists(this.file);
  }

  /** Every entry that parses (torn or damaged lines are left out; `verify()` names them). */
  async entries(): Promise<AccessEvent[]> {
    const out: AccessEvent[] = [];
    for (const l of (await this.readText()).split('\n')) {
      if (!l.trim()) continue;
      try {
        out.push(JSON.parse(l) as AccessEvent);
      } catch {
        // reported by verify()
      }
    }
    return out;
  }

  async verify(): Promise<VerifyResult> {
    const { anchor, size } = await this.snapshot();
    return verifyFile(this.file, size, anchor);
  }

  /** Writes a copy of the log to `target` and returns the verification of exactly that copy. */
  async export(target: string): Promise<VerifyResult> {
    const { anchor, size } = await this.snapshot();
    if (size > 0) await pipeline(fsSync.createReadStream(this.file, { start: 0, end: size - 1 }), fsSync.createWriteStream(target, { mode: 0o600 }));
    else await fs.writeFile(target, '', { mode: 0o600 });
    return verifyFile(target, size, anchor);
  }

  /**
   * The log as of one moment: under the lock (no write half done), the anchor and the file's
   * size. Appends only add after that size, so the first `size` bytes can be read after the
   * lock is released without holding up other windows.
   */
  private async snapshot(): Promise<{ size: number; anchor?: AnchorState | 'missing' }> {
    await this.flush();
    let lock: HeldLock | undefined;
    try {
      await fs.access(path.dirname(this.file));
      lock = await this.lock.acquire();
    } catch {
      // No folder yet (nothing written), or the lock is stuck: read as is.
    }
    try {
      let anchor: AnchorState | 'missing' | undefined;
      if (this.anchor) {
        const seal = await this.anchor.readSeal();
        anchor = seal ? { key: seal.key, sealedFrom: seal.sealedFrom, head: await this.anchor.readHead() } : 'missing';
      }
      const size = await fs.stat(this.file).then(
        (st) => st.size,
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return 0;
          throw e;
        },
      );
      return { size, anchor };
    } finally {
      await lock?.release();
    }
  }
}

/** Streams the first `size` bytes of a log file through the chain check. */
async function verifyFile(file: string, size: number, anchor?: AnchorState | 'missing'): Promise<VerifyResult> {
  const v = new ChainVerifier(anchor);
  if (size > 0) await readLines(file, 0, size, 1, (n, l, o) => v.line(n, l, o));
  return v.finish(size, (from, to, line, fn) => readLines(file, from, to, line, fn));
}

function errorText(e: unknown): string {
  return redact(e instanceof Error ? e.message : String(e));
}

async function readIfExists(file: string): Promise<string> {
  try {
    // One decode of the whole buffer: readFile(file, 'utf8') decodes chunk by chunk, 5× slower on 50 MB.
    return (await fs.readFile(file)).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

function parseTailEntry(line: string): { seq: number; hash: string } | undefined {
  try {
    const e = JSON.parse(line) as { seq?: unknown; hash?: unknown };
    if (Number.isInteger(e.seq) && typeof e.hash === 'string' && /^[0-9a-f]{64}$/.test(e.hash)) return { seq: e.seq as number, hash: e.hash };
  } catch {
    // a torn or damaged line: look further back
  }
  return undefined;
}

/**
 * The last entry in the file, read backwards from the end (64 KiB first, then 4× more each time),
 * so a window's first append costs the same on a 50 MB log as on a small one.
 */
function readTail(fd: number, size: number): Tail {
  if (size === 0) return { seq: 0, hash: GENESIS, endsWithNewline: true };
  let window = Math.min(size, TAIL_CHUNK);
  let endsWithNewline = true;
  for (;;) {
    const from = size - window;
    const buf = Buffer.alloc(window);
    const bytesRead = fsSync.readSync(fd, buf, 0, window, from);
    if (from + bytesRead === size) endsWithNewline = buf[bytesRead - 1] === 0x0a;
    const lines = buf.toString('utf8', 0, bytesRead).split('\n');
    // The first piece is a partial line unless the window starts the file.
    for (let i = lines.length - 1; i >= (from === 0 ? 0 : 1); i--) {
      if (!lines[i].trim()) continue;
      const e = parseTailEntry(lines[i]);
      if (e) return { ...e, endsWithNewline };
    }
    if (from === 0) return { seq: 0, hash: GENESIS, endsWithNewline };
    window = Math.min(size, window * 4);
  }
}

/** One O_APPEND write of the whole batch (a short write is continued, never dropped). */
function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fsSync.writeSync(fd, data, off, data.length - off);
}

const fdatasync = promisify(fsSync.fdatasync);
