import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../src/core/audit/AccessLog';
import { FileAnchorStore } from './audit/FileAnchorStore';

const WORKER = join(__dirname, 'audit', 'accessLogWorker.ts');

function runWorker(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && !stderr ? resolve() : reject(new Error(`worker ${args[2]} exited ${code}: ${stderr}`))));
  });
}

describe('AccessLog across processes (two windows, one file)', function () {
  this.timeout(180_000);

  async function twoWindows(n: number, anchored: boolean) {
    const dir = mkdtempSync(join(tmpdir(), 'mlspanner-log-xproc-'));
    const file = join(dir, 'access-log.jsonl');
    const store = join(dir, 'secrets.json');
    const extra = anchored ? [store] : [];
    await Promise.all([runWorker([file, String(n), 'A', ...extra]), runWorker([file, String(n), 'B', ...extra])]);
    const log = new AccessLog(file, undefined, undefined, undefined, anchored ? { anchor: new FileAnchorStore(store) } : {});
    const entries = await log.entries();
    assert.equal(entries.length, 2 * n);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: 2 * n }, (_, i) => i + 1),
      'one chain: sequence numbers 1..N, no duplicates',
    );
    for (const tag of ['A', 'B']) {
      const mine = entries.filter((e) => e.actor?.subject === tag).map((e) => Number(String(e.detail).split(' ')[1]));
      assert.deepEqual(mine, Array.from({ length: n }, (_, i) => i + 1), `every entry of ${tag}, in order`);
    }
    const r = await log.verify();
    assert.equal(r.ok, true, JSON.stringify(r.breaks.slice(0, 5)));
    assert.equal(r.total, 2 * n);
    assert.equal(r.anchor, anchored ? 'anchored' : 'unanchored');
  }

  it('2 × 5,000 appends make 10,000 entries in one verified chain', () => twoWindows(5_000, false));
  it('2 × 1,000 anchored appends share one key and head', () => twoWindows(1_000, true));
});
