/**
 * In-memory storage for oidc-provider models. Unlike the library's built-in memory adapter it
 * can enumerate entries, which the admin endpoint needs to revoke every grant of one user.
 * Each provider instance gets its own store, so several sandboxes can run in one process.
 */
export interface StoredPayload {
  accountId?: string;
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
  [key: string]: unknown;
}

interface Entry {
  model: string;
  payload: StoredPayload;
  expiresAt?: number;
}

export class MemoryStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The adapter class oidc-provider instantiates once per model name. */
  adapterFactory(): (name: string) => ModelAdapter {
    return (name: string) => new ModelAdapter(this, name);
  }

  set(model: string, id: string, payload: StoredPayload, expiresInSeconds?: number): void {
    this.entries.set(`${model}:${id}`, {
      model,
      payload,
      expiresAt: expiresInSeconds ? this.now() + expiresInSeconds * 1000 : undefined,
    });
  }

  get(model: string, id: string): StoredPayload | undefined {
    const key = `${model}:${id}`;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  delete(model: string, id: string): void {
    this.entries.delete(`${model}:${id}`);
  }

  findBy(model: string, field: 'userCode' | 'uid', value: string): StoredPayload | undefined {
    for (const [key, entry] of this.entries) {
      if (entry.model === model && entry.payload[field] === value) return this.get(model, key.slice(model.length + 1));
    }
    return undefined;
  }

  /** Deletes every entry of any model issued under `grantId` (RFC 7009 §2.1: revoking a grant revokes its tokens). */
  revokeGrant(grantId: string): void {
    for (const [key, entry] of this.entries) {
      if (entry.payload.grantId === grantId) this.entries.delete(key);
    }
  }

  /** Removes grants, tokens and browser sessions of one account; returns how many grants went. */
  revokeAccount(accountId: string): number {
    const grantIds = new Set<string>();
    for (const [key, entry] of this.entries) {
      if (entry.payload.accountId !== accountId) continue;
      if (entry.model === 'Grant') grantIds.add(key.slice('Grant:'.length));
      if (typeof entry.payload.grantId === 'string') grantIds.add(entry.payload.grantId);
      this.entries.delete(key);
    }
    for (const grantId of grantIds) this.revokeGrant(grantId);
    return grantIds.size;
  }
}

/** The oidc-provider adapter interface, backed by a MemoryStore. */
export class ModelAdapter {
  constructor(
    private readonly store: MemoryStore,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: StoredPayload, expiresIn?: number): Promise<void> {
    this.store.set(this.model, id, payload, expiresIn);
  }

  async find(id: string): Promise<StoredPayload | undefined> {
    return this.store.get(this.model, id);
  }

  async findByUserCode(userCode: string): Promise<StoredPayload | undefined> {
    return this.store.findBy(this.model, 'userCode', userCode);
  }

  async findByUid(uid: string): Promise<StoredPayload | undefined> {
    return this.store.findBy(this.model, 'uid', uid);
  }

  async consume(id: string): Promise<void> {
    const payload = this.store.get(this.model, id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.store.revokeGrant(grantId);
  }
}
