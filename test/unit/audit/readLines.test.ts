import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLines } from '../../../src/core/audit/readLines';

describe('readLines (streaming the access log)', () => {
  const text = ['{"a":"ünïcødé ✓ 日本語"}', '', 'a line much longer than the tiny buffer used here, so it has to grow', '€', 'torn, no newline'].join('\n');
  const file = join(mkdtempSync(join(tmpdir(), 'mlspanner-lines-')), 'log.jsonl');
  writeFileSync(file, text);
  const size = Buffer.byteLength(text);

  for (const chunk of [1, 3, 7, 64, 1 << 20]) {
    it(`splits lines exactly, multi-byte characters and all, with ${chunk}-byte reads`, async () => {
      const got: Array<[number, string, number]> = [];
      await readLines(file, 0, size, 1, (n, l, o) => got.push([n, l, o]), chunk);
      const lines = text.split('\n');
      assert.deepEqual(
        got.map(([n, l]) => [n, l]),
        lines.map((l, i) => [i + 1, l]),
      );
      for (const [, l, o] of got) assert.equal(Buffer.from(text).subarray(o, o + Buffer.byteLength(l)).toString(), l, 'offsets are byte offsets');
    });
  }

  it('reads a byte range, numbering from the given line', async () => {
    const start = Buffer.byteLength(text.split('\n').slice(0, 2).join('\n') + '\n');
    const got: string[] = [];
    await readLines(file, start, size, 3, (n, l) => got.push(`${n}:${l.slice(0, 6)}`), 5);
    assert.deepEqual(got, ['3:a line', '4:€', '5:torn, ']);
  });
});
