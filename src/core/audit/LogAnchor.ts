import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { LogHead } from './verifyLog';

/**
 * Where the anchor lives: a secret store outside the log file. VS Code's `SecretStorage`
 * (`context.secrets`) fits as is; so does any object with these two methods.
 */
export interface AnchorStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
}

/** The sealing key and the first entry it sealed. */
export interface LogSeal {
  key: KeyObject;
  sealedFrom: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

function withTimeout<T>(p: PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`The secret store did not answer within ${ms / 1000} s (${what}).`)), ms);
    t.unref?.();
    Promise.resolve(p).then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(`The secret store failed (${what}): ${String(e)}`));
      },
    );
  });
}

/**
 * The access log's anchor in a secret store: an HMAC key (`<name>.seal`, written once) and the
 * last recorded entry (`<name>.head`, written after every append, under the log's file lock).
 * Both are hex and JSON, nothing token-shaped.
 */
export class LogAnchor {
  constructor(
    private readonly store: AnchorStore,
    private readonly name = 'accessLog',
    private readonly timeoutMs = 5_000,
  ) {}

  private get sealKey() {
    return `${this.name}.seal`;
  }
  private get headKey() {
    return `${this.name}.head`;
  }

  async readSeal(): Promise<LogSeal | undefined> {
    const raw = await withTimeout(this.store.get(this.sealKey), this.timeoutMs, 'reading the access-log key');
    if (!raw) return undefined;
    try {
      const o = JSON.parse(raw) as { key?: unknown; sealedFrom?: unknown };
      if (typeof o.key === 'string' && HEX64.test(o.key) && Number.isInteger(o.sealedFrom)) {
        return { key: createSecretKey(Buffer.from(o.key, 'hex')), sealedFrom: o.sealedFrom as number };
      }
    } catch {
      // fall through: unreadable is the same as missing
    }
    return undefined;
  }

  /** A new random key sealing entries from `sealedFrom` on. Call under the log's file lock. */
  async createSeal(sealedFrom: number): Promise<LogSeal> {
    const seal = { key: createSecretKey(randomBytes(32)), sealedFrom };
    await this.storeSeal(seal);
    return seal;
  }

  async storeSeal(seal: LogSeal): Promise<void> {
    const value = JSON.stringify({ v: 1, key: seal.key.export().toString('hex'), sealedFrom: seal.sealedFrom });
    await withTimeout(this.store.store(this.sealKey, value), this.timeoutMs, 'storing the access-log key');
  }

  async readHead(): Promise<LogHead | undefined> {
    const raw = await withTimeout(this.store.get(this.headKey), this.timeoutMs, 'reading the access-log head');
    if (!raw) return undefined;
    try {
      const o = JSON.parse(raw) as Partial<LogHead>;
      if (Number.isInteger(o.seq) && typeof o.hash === 'string' && HEX64.test(o.hash)) return { seq: o.seq!, hash: o.hash };
    } catch {
      // unreadable is the same as missing
    }
    return undefined;
  }

  async storeHead(head: LogHead): Promise<void> {
    await withTimeout(this.store.store(this.headKey, JSON.stringify({ seq: head.seq, hash: head.hash })), this.timeoutMs, 'storing the access-log head');
  }
}
