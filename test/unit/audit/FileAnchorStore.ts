import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AnchorStore } from '../../../src/core/audit/AccessLog';

/** A secret store in a JSON file, shared by processes (VS Code windows share the OS keychain). */
export class FileAnchorStore implements AnchorStore {
  constructor(readonly file: string) {}
  private read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }
  async get(key: string) {
    return this.read()[key];
  }
  async store(key: string, value: string) {
    const data = { ...this.read(), [key]: value };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.file);
  }
}
