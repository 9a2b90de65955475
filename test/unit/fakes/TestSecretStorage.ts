import type { SecretStore } from '../../../src/core/auth/SessionManager';

type Listener = (e: { key: string }) => unknown;

/**
 * In-memory SecretStorage with a record of every write, to prove where tokens go. Like VS Code's,
 * it fires `onDidChange` after each store or delete, for every subscriber: several
 * SessionManagers sharing one instance behave like windows sharing the OS keychain.
 */
export class TestSecretStorage implements SecretStore {
  readonly data = new Map<string, string>();
  readonly writes: string[] = [];
  private readonly listeners = new Set<Listener>();

  async get(key: string) {
    return this.data.get(key);
  }
  async store(key: string, value: string) {
    this.writes.push(key);
    this.data.set(key, value);
    this.fire(key);
  }
  async delete(key: string) {
    if (this.data.delete(key)) this.fire(key);
  }
  onDidChange(listener: Listener) {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  /** Values stored under keys that start with `prefix`. */
  valuesUnder(prefix: string): string[] {
    return [...this.data].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }
  private fire(key: string): void {
    // Delivered after the write completes, as VS Code does across windows.
    for (const l of [...this.listeners]) void Promise.resolve().then(() => l({ key }));
  }
}
