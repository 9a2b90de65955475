import type { SecretStore } from '../../../src/core/auth/SessionManager';

/** In-memory SecretStorage with a record of every write, to prove where tokens go. */
export class TestSecretStorage implements SecretStore {
  readonly data = new Map<string, string>();
  readonly writes: string[] = [];
  async get(key: string) {
    return this.data.get(key);
  }
  async store(key: string, value: string) {
    this.writes.push(key);
    this.data.set(key, value);
  }
  async delete(key: string) {
    this.data.delete(key);
  }
}
