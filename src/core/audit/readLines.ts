import { promises as fs } from 'node:fs';
import type { LineFn } from './verifyLog';

/** Bytes read at a time. Lines are decoded one by one, so no string is ever as large as the file. */
const CHUNK = 1 << 20;

/**
 * Calls `fn` for each line of bytes [from, to) of a file, numbered from `firstLine`, with the
 * byte offset where the line starts; a last line without a newline is passed too. Reads through
 * one reused buffer: large logs cost neither a file-sized buffer nor a file-sized string (each
 * of which costs more than the checking itself on a busy machine).
 */
export async function readLines(file: string, from: number, to: number, firstLine: number, fn: LineFn, chunk = CHUNK): Promise<void> {
  const fh = await fs.open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(Math.min(chunk, Math.max(1, to - from)));
    let filled = 0; // bytes in buf[0, filled) not yet passed on
    let base = from; // file offset of buf[0]
    let pos = from; // file offset of the next read
    let lineNo = firstLine;
    while (pos < to) {
      if (filled === buf.length) {
        // One line longer than the buffer (damage, or a huge entry): grow.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, filled, Math.min(buf.length - filled, to - pos), pos);
      if (bytesRead === 0) break; // the file is shorter than it was
      pos += bytesRead;
      filled += bytesRead;
      const view = buf.subarray(0, filled);
      let start = 0;
      for (let nl = view.indexOf(0x0a, start); nl >= 0; nl = view.indexOf(0x0a, start)) {
        fn(lineNo++, buf.toString('utf8', start, nl), base + start);
        start = nl + 1;
      }
      buf.copy(buf, 0, start, filled);
      base += start;
      filled -= start;
    }
    if (filled > 0) fn(lineNo, buf.toString('utf8', 0, filled), base);
  } finally {
    await fh.close();
  }
}
