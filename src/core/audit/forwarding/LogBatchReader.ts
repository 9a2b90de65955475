import { promises as fs } from 'node:fs';
import type { AccessEvent } from '../AccessLog';
import { readLines } from '../readLines';
import type { ForwardingCursor } from './ForwardingCursor';

/** An entry read from the log, with where its line starts. */
export interface LoggedEntry {
  entry: AccessEvent;
  offset: number;
}

export interface EntryBatch {
  /** Entries after the cursor, in file order; at most `max`. */
  entries: LoggedEntry[];
  /** More entries follow the batch. */
  more: boolean;
  /**
   * The log no longer holds the cursor's entry and ends before it: it was deleted or replaced.
   * `entries` is empty; the caller resets the cursor and reads again from the start.
   */
  restarted?: boolean;
  /** The cursor's entry was found with another hash: the log was rewritten after it was sent. */
  rewritten?: boolean;
  /** Lines that are not entries (damaged), left out; Verify Access Log names them. */
  skipped: number;
}

/** Where the queue of entries to send comes from: the access-log file (LogBatchReader) or a fake. */
export interface EntrySource {
  read(after: ForwardingCursor | undefined, limits: BatchLimits): Promise<EntryBatch>;
  /** How many entries follow the cursor (for the status; reads to the end without keeping them). */
  countAfter(after: ForwardingCursor | undefined): Promise<number>;
}

export interface BatchLimits {
  /** Most entries in one batch. */
  max: number;
  /** Stop adding entries once their lines reach this many bytes (the request stays well below collector limits). */
  maxBytes: number;
}

/** Thrown from a line callback to stop readLines early: a batch is full. */
const FULL = Symbol('batch full');

function parseEntry(line: string): AccessEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const e = JSON.parse(line) as Partial<AccessEvent> | null;
    if (e && typeof e === 'object' && Number.isInteger(e.seq) && typeof e.hash === 'string') return e as AccessEvent;
  } catch {
    // damaged: reported by verify
  }
  return undefined;
}

/**
 * Reads the access-log file as the forwarding queue: the entries after a cursor, one bounded
 * batch at a time, straight from the file (never more than one batch in memory). A cursor's
 * byte offset makes the next read start where the last one ended, after checking that the line
 * there is still the acknowledged entry (same seq and hash); otherwise the file is scanned from
 * the start for the entries after the cursor's seq. A last line without its newline is being
 * written by another window (or was torn by a crash) and is left for the next read.
 */
export class LogBatchReader implements EntrySource {
  constructor(readonly file: string) {}

  async read(after: ForwardingCursor | undefined, limits: BatchLimits): Promise<EntryBatch> {
    const size = await this.size();
    if (after && after.offset < size) {
      const fast = await this.scan(after.offset, size, after, limits, true);
      if (fast) return fast;
    }
    return (await this.scan(0, size, after, limits, false))!;
  }

  async countAfter(after: ForwardingCursor | undefined): Promise<number> {
    let n = 0;
    const size = await this.size();
    // The offset is only a hint here: counting from it is enough for a status line.
    const from = after && after.offset < size ? after.offset : 0;
    if (size > from)
      await readLines(this.file, from, size, 1, (_n, line, offset) => {
        if (offset + Buffer.byteLength(line, 'utf8') >= size) return; // unterminated
        const e = parseEntry(line);
        if (e && (!after || e.seq > after.seq)) n++;
      });
    return n;
  }

  private async size(): Promise<number> {
    try {
      return (await fs.stat(this.file)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  /**
   * Entries after `after` in bytes [from, size). With `expectCursorFirst`, the first line must
   * be the cursor's own entry; undefined when it is not (the caller rescans from the start).
   */
  private async scan(from: number, size: number, after: ForwardingCursor | undefined, limits: BatchLimits, expectCursorFirst: boolean): Promise<EntryBatch | undefined> {
    const batch: EntryBatch = { entries: [], more: false, skipped: 0 };
    let bytes = 0;
    let first = true;
    let mismatch = false;
    let seenCursor = false;
    let maxSeq = 0;
    if (size > from) {
      try {
        await readLines(this.file, from, size, 1, (_n, line, offset) => {
          const lineBytes = Buffer.byteLength(line, 'utf8');
          if (offset + lineBytes >= size) return; // no newline yet: being written
          const e = parseEntry(line);
          if (expectCursorFirst && first) {
            first = false;
            if (!e || e.seq !== after?.seq || e.hash !== after.hash) {
              mismatch = true;
              throw FULL;
            }
            return;
          }
          if (!e) {
            if (line.trim()) batch.skipped++;
            return;
          }
          maxSeq = Math.max(maxSeq, e.seq);
          if (after && e.seq <= after.seq) {
            if (e.seq === after.seq) {
              seenCursor = true;
              if (e.hash !== after.hash) batch.rewritten = true;
            }
            return;
          }
          if (batch.entries.length >= limits.max || (batch.entries.length > 0 && bytes + lineBytes > limits.maxBytes)) {
            batch.more = true;
            throw FULL;
          }
          batch.entries.push({ entry: e, offset });
          bytes += lineBytes;
        });
      } catch (e) {
        if (e !== FULL) throw e;
      }
    }
    if (mismatch) return undefined;
    // A full scan that found neither the cursor's entry nor anything after it, in a log that
    // ends before the cursor: the log was replaced (deleted, or a new file).
    if (!expectCursorFirst && after && !seenCursor && batch.entries.length === 0 && maxSeq < after.seq) batch.restarted = true;
    return batch;
  }
}
