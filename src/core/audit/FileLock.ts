import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';

export interface FileLockOptions {
  /** A lock older than this, or whose process is gone, is taken over (default 10 s). */
  staleMs?: number;
  /** Give up waiting after this long (default 20 s; longer than staleMs so stale locks are taken). */
  timeoutMs?: number;
  /** Longest pause between attempts (default 8 ms); pauses start at 1 ms, double, with jitter. */
  maxDelayMs?: number;
}

/** Who holds a lock: written into the lock file as JSON. */
interface LockOwner {
  pid: number;
  host: string;
  /** Date.now() when taken. */
  time: number;
  /** Unique per acquisition, so a holder can tell whether the lock is still its own. */
  id: string;
}

export interface HeldLock {
  /** False when another process took the lock over (this holder exceeded staleMs). */
  stillHeld(): Promise<boolean>;
  /** Removes the lock if it is still this holder's. Never throws. */
  release(): Promise<void>;
}

export class LockTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockTimeoutError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * A cross-process lock: a lock file created with O_EXCL ('wx') that holds the owner's pid, host,
 * time and a unique id. Waiters back off (1 ms doubling to maxDelayMs, ±50 % jitter; never a busy
 * loop) and take over a lock whose process is gone (same host) or that is older than staleMs.
 * A take-over renames the stale file away first, so two waiters cannot both remove it, and puts
 * it back if it turned out to be a fresh lock.
 */
export class FileLock {
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly maxDelayMs: number;

  constructor(
    readonly path: string,
    options: FileLockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.maxDelayMs = options.maxDelayMs ?? 8;
  }

  async acquire(): Promise<HeldLock> {
    const started = Date.now();
    let delay = 1;
    for (;;) {
      const owner: LockOwner = { pid: process.pid, host: hostname(), time: Date.now(), id: randomUUID() };
      if (this.tryCreate(owner)) return this.held(owner);
      const holder = this.inspect();
      if (holder && this.isStale(holder)) {
        this.takeOver(holder);
        continue;
      }
      if (Date.now() - started > this.timeoutMs) throw this.timeoutError(holder);
      await sleep(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, this.maxDelayMs);
    }
  }

  // The lock file operations are synchronous on purpose: a handful of syscalls on a tiny local
  // file, cheaper than a thread-pool round trip each, and the lock is held for less time.
  private tryCreate(owner: LockOwner): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      fs.writeSync(fd, JSON.stringify(owner));
    } finally {
      fs.closeSync(fd);
    }
    return true;
  }

  private held(owner: LockOwner): HeldLock {
    const mine = () => this.readOwner(this.path)?.id === owner.id;
    return {
      stillHeld: async () => mine(),
      release: async () => {
        try {
          if (mine()) fs.unlinkSync(this.path);
        } catch {
          // Already gone: nothing to release.
        }
      },
    };
  }

  private readOwner(file: string): LockOwner | undefined {
    try {
      const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
      return typeof o.pid === 'number' && typeof o.id === 'string' ? (o as LockOwner) : undefined;
    } catch {
      return undefined; // missing, or being written right now
    }
  }

  /** The current lock file: its owner (when readable) and identity; undefined when it is gone. */
  private inspect(): { owner?: LockOwner; ino: number; mtimeMs: number } | undefined {
    try {
      const st = fs.statSync(this.path);
      return { owner: this.readOwner(this.path), ino: st.ino, mtimeMs: st.mtimeMs };
    } catch {
      return undefined;
    }
  }

  private isStale(h: { owner?: LockOwner; mtimeMs: number }): boolean {
    const now = Date.now();
    if (h.owner && h.owner.host === hostname() && !processAlive(h.owner.pid)) return true;
    // A lock with no readable owner is one being written: only its age can make it stale.
    const age = Math.max(now - h.mtimeMs, h.owner ? now - h.owner.time : 0);
    return age > this.staleMs;
  }

  private takeOver(h: { owner?: LockOwner; ino: number; mtimeMs: number }): void {
    const aside = `${this.path}.stale-${randomUUID()}`;
    try {
      fs.renameSync(this.path, aside);
    } catch {
      return; // someone else released or took it over first
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(aside);
    } catch {
      st = undefined;
    }
    const owner = this.readOwner(aside);
    const same = st && st.ino === h.ino && st.mtimeMs === h.mtimeMs && owner?.id === h.owner?.id;
    try {
      // Between our look and the rename, the stale lock was replaced by a live one: put it back
      // (link fails if yet another lock exists, which then wins).
      if (!same) fs.linkSync(aside, this.path);
    } catch {
      // see above
    }
    try {
      fs.unlinkSync(aside);
    } catch {
      // already gone
    }
  }

  private timeoutError(h: { owner?: LockOwner } | undefined): LockTimeoutError {
    const who = h?.owner ? `process ${h.owner.pid} on ${h.owner.host} since ${new Date(h.owner.time).toISOString()}` : 'another process';
    return new LockTimeoutError(
      `The access log stayed locked by ${who} for more than ${+(this.timeoutMs / 1000).toFixed(1)} s. ` +
        `If no other VS Code window is writing to it, delete ${this.path} and try again.`,
    );
  }
}
