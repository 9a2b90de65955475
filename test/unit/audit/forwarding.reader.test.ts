import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../../src/core/audit/AccessLog';
import { FileCursorStore, type ForwardingCursor } from '../../../src/core/audit/forwarding/ForwardingCursor';
import { LogBatchReader, type LoggedEntry } from '../../../src/core/audit/forwarding/LogBatchReader';

const BIG = { max: 10_000, maxBytes: 1 << 30 };

async function logWith(n: number): Promise<AccessLog> {
  const log = new AccessLog(join(mkdtempSync(join(tmpdir(), 'mlspanner-fwd-')), 'access-log.jsonl'), () => ({ actor: { subject: 'alice' } }));
  for (let i = 0; i < n; i++) log.record({ type: 'credentialIssued', outcome: 'success', environment: 'staging', target: 'databricks', detail: `entry ${i + 1}` });
  await log.flush();
  return log;
}

const cursorAt = (e: LoggedEntry): ForwardingCursor => ({ seq: e.entry.seq, hash: e.entry.hash, offset: e.offset, deliveredAt: 0 });
const seqs = (es: LoggedEntry[]) => es.map((e) => e.entry.seq);

describe('audit forwarding: reading the log after a cursor', () => {
  it('walks a log written by AccessLog in batches, each starting where the last ended: every entry once, in order', async () => {
    const log = await logWith(1300);
    const reader = new LogBatchReader(log.file);
    const got: number[] = [];
    const sizes: number[] = [];
    let cursor: ForwardingCursor | undefined;
    for (;;) {
      const b = await reader.read(cursor, { max: 512, maxBytes: 1 << 20 });
      if (!b.entries.length) break;
      sizes.push(b.entries.length);
      got.push(...seqs(b.entries));
      cursor = cursorAt(b.entries[b.entries.length - 1]);
      assert.equal(b.more, got.length < 1300);
    }
    assert.deepEqual(sizes, [512, 512, 276]);
    assert.deepEqual(
      got,
      Array.from({ length: 1300 }, (_, i) => i + 1),
    );
    assert.equal(await reader.countAfter(cursor), 0);
    assert.equal(await reader.countAfter(undefined), 1300);
  });

  it('stops a batch at the byte limit (at least one entry)', async () => {
    const log = await logWith(10);
    const lineBytes = readFileSync(log.file, 'utf8').split('\n')[0].length;
    const b = await new LogBatchReader(log.file).read(undefined, { max: 100, maxBytes: lineBytes * 3 + 1 });
    assert.deepEqual(seqs(b.entries), [1, 2, 3]);
    assert.equal(b.more, true);
    const one = await new LogBatchReader(log.file).read(undefined, { max: 100, maxBytes: 1 });
    assert.deepEqual(seqs(one.entries), [1]);
  });

  it('leaves a last line without its newline (being written) for the next read, and skips damaged lines', async () => {
    const log = await logWith(3);
    const lines = readFileSync(log.file, 'utf8').trim().split('\n');
    writeFileSync(log.file, [lines[0], '{"torn', lines[1], ''].join('\n') + lines[2]);
    const b = await new LogBatchReader(log.file).read(undefined, BIG);
    assert.deepEqual(seqs(b.entries), [1, 2]);
    assert.equal(b.skipped, 1);
    appendFileSync(log.file, '\n');
    assert.deepEqual(seqs((await new LogBatchReader(log.file).read(cursorAt(b.entries[1]), BIG)).entries), [3]);
  });

  it('rescans by seq when the cursor offset no longer points at the acknowledged entry', async () => {
    const log = await logWith(6);
    const reader = new LogBatchReader(log.file);
    const first = await reader.read(undefined, { max: 3, maxBytes: 1 << 20 });
    const cursor = { ...cursorAt(first.entries[2]), offset: 1 }; // a wrong hint
    const b = await reader.read(cursor, BIG);
    assert.deepEqual(seqs(b.entries), [4, 5, 6]);
    assert.equal(b.rewritten, undefined);
  });

  it('says so when the acknowledged entry was rewritten, and when the log was replaced', async () => {
    const log = await logWith(4);
    const reader = new LogBatchReader(log.file);
    const first = await reader.read(undefined, { max: 2, maxBytes: 1 << 20 });
    const changed = { ...cursorAt(first.entries[1]), hash: 'f'.repeat(64) };
    const b = await reader.read(changed, BIG);
    assert.equal(b.rewritten, true);
    assert.deepEqual(seqs(b.entries), [3, 4]);

    const replaced = await reader.read({ seq: 900, hash: 'a'.repeat(64), offset: 99_999, deliveredAt: 0 }, BIG);
    assert.equal(replaced.restarted, true);
    assert.deepEqual(replaced.entries, []);
  });

  it('reads nothing from a log that does not exist yet', async () => {
    const reader = new LogBatchReader(join(mkdtempSync(join(tmpdir(), 'mlspanner-fwd-')), 'none.jsonl'));
    assert.deepEqual(await reader.read(undefined, BIG), { entries: [], more: false, skipped: 0 });
    assert.equal(await reader.countAfter(undefined), 0);
  });
});

describe('audit forwarding: the cursor file', () => {
  const file = () => join(mkdtempSync(join(tmpdir(), 'mlspanner-cursor-')), 'access-log.jsonl.forwarding.json');
  const c = (seq: number): ForwardingCursor => ({ seq, hash: String(seq).padStart(64, '0'), offset: seq * 100, deliveredAt: 1000 + seq });

  it('keeps one cursor per endpoint across instances (a reload), moving only forward', async () => {
    const path = file();
    const a = new FileCursorStore(path);
    await a.advance('https://a.example/v1/logs', c(10));
    await a.advance('https://b.example/v1/logs', c(3));
    await a.advance('https://a.example/v1/logs', c(7));
    const b = new FileCursorStore(path);
    assert.deepEqual(await b.read('https://a.example/v1/logs'), c(10));
    assert.deepEqual(await b.read('https://b.example/v1/logs'), c(3));
    await b.reset('https://a.example/v1/logs');
    assert.equal(await a.read('https://a.example/v1/logs'), undefined);
  });

  it('starts over (sends again, at least once) from a missing or damaged file', async () => {
    const path = file();
    assert.equal(await new FileCursorStore(path).read('x'), undefined);
    writeFileSync(path, '{"x": {"seq": 4,');
    const s = new FileCursorStore(path);
    assert.equal(await s.read('x'), undefined);
    await s.advance('x', c(5));
    assert.deepEqual(await s.read('x'), c(5));
  });
});
