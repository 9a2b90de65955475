import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';

/**
 * The last entry a collector acknowledged (2xx), per endpoint. Entries after it are sent next;
 * it only moves forward.
 */
export interface ForwardingCursor {
  seq: number;
  hash: string;
  /** Byte offset where that entry's line starts in the log file: the next read starts there. */
  offset: number;
  /** When the collector acknowledged it (ms since the epoch). */
  deliveredAt: number;
}

/** Where cursors are kept. Core code only; the file store below is the one the extension uses. */
export interface CursorStore {
  read(endpoint: string): Promise<ForwardingCursor | undefined>;
  /** Records `cursor` unless the stored one is already further (another window delivered more). */
  advance(endpoint: string, cursor: ForwardingCursor): Promise<void>;
  /** Forgets the endpoint's cursor: its log was replaced and is sent again from the start. */
  reset(endpoint: string): Promise<void>;
}

function isCursor(v: unknown): v is ForwardingCursor {
  const c = v as Partial<ForwardingCursor> | null;
  return !!c && Number.isInteger(c.seq) && typeof c.hash === 'string' && Number.isInteger(c.offset) && typeof c.deliveredAt === 'number';
}

/**
 * Cursors in a small JSON file next to the access log (`access-log.jsonl.forwarding.json`),
 * `{ "<endpoint>": cursor }`, so they survive reloads and are shared by every window that
 * appends to that log. Written whole to a temporary file and renamed over, so a crash leaves
 * the old or the new cursor, never half of one.
 */
export class FileCursorStore implements CursorStore {
  constructor(readonly file: string) {}

  async read(endpoint: string): Promise<ForwardingCursor | undefined> {
    const c = (await this.readAll())[endpoint];
    return isCursor(c) ? c : undefined;
  }

  async advance(endpoint: string, cursor: ForwardingCursor): Promise<void> {
    const all = await this.readAll();
    const current = all[endpoint];
    if (isCursor(current) && current.seq >= cursor.seq) return;
    all[endpoint] = cursor;
    await this.writeAll(all);
  }

  async reset(endpoint: string): Promise<void> {
    const all = await this.readAll();
    if (!(endpoint in all)) return;
    delete all[endpoint];
    await this.writeAll(all);
  }

  private async readAll(): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    try {
      const o = JSON.parse(text) as unknown;
      return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
    } catch {
      // A damaged cursor file: start over (entries are sent again, at least once).
      return {};
    }
  }

  private async writeAll(all: Record<string, unknown>): Promise<void> {
    const tmp = `${this.file}.${randomUUID()}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify(all)}\n`, { mode: 0o600 });
      await fs.rename(tmp, this.file);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
  }
}

