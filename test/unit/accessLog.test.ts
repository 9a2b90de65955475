import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, verifyLogText, GENESIS } from '../../src/core/audit/AccessLog';

function newLog(now = () => 1_700_000_000_000) {
  return new AccessLog(join(mkdtempSync(join(tmpdir(), 'mlspanner-log-')), 'access-log.jsonl'), () => ({ actor: { subject: 'alice' } }), now);
}

describe('AccessLog', () => {
  it('chains entries: seq, prev and hash link every line', async () => {
    const log = newLog();
    log.record({ type: 'signIn', outcome: 'success', target: 'idp' });
    log.record({ type: 'credentialIssued', outcome: 'success', environment: 'staging', target: 'databricks', tokenFingerprint: 'sha256:0123456789ab' });
    await log.append({ type: 'signOut', outcome: 'success' });
    const entries = await log.entries();
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3]);
    assert.equal(entries[0].prev, GENESIS);
    assert.equal(entries[1].prev, entries[0].hash);
    assert.equal(entries[0].actor?.subject, 'alice');
    assert.deepEqual(await log.verify(), { ok: true, count: 3, total: 3, breaks: [], anchor: 'unanchored' });
  });

  it('continues the chain across instances (a window reload)', async () => {
    const a = newLog();
    await a.append({ type: 'signIn', outcome: 'success' });
    const b = new AccessLog(a.file);
    await b.append({ type: 'signOut', outcome: 'success' });
    assert.deepEqual(await b.verify(), { ok: true, count: 2, total: 2, breaks: [], anchor: 'unanchored' });
  });

  const tamper: Array<[string, (lines: string[]) => string[], number, RegExp]> = [
    ['an edited entry', (l) => [l[0], l[1].replace('staging', 'prod'), l[2]], 2, /edited/],
    ['a removed entry', (l) => [l[0], l[2]], 2, /sequence|removed/],
    ['reordered entries', (l) => [l[0], l[2], l[1]], 2, /sequence|removed/],
    ['a torn line', (l) => [l[0], l[1].slice(0, 20)], 2, /JSON/],
  ];
  for (const [what, edit, line, reason] of tamper) {
    it(`detects ${what}`, async () => {
      const log = newLog();
      await log.append({ type: 'signIn', outcome: 'success' });
      await log.append({ type: 'credentialIssued', outcome: 'success', environment: 'staging' });
      await log.append({ type: 'signOut', outcome: 'success' });
      const lines = readFileSync(log.file, 'utf8').trim().split('\n');
      writeFileSync(log.file, edit(lines).join('\n') + '\n');
      const r = verifyLogText(readFileSync(log.file, 'utf8'));
      assert.equal(r.ok, false);
      assert.equal(r.brokenAt?.line, line);
      assert.match(r.brokenAt!.reason, reason);
    });
  }

  it('redacts anything token-shaped that a caller passes in', async () => {
    const log = newLog();
    await log.append({ type: 'credentialFailed', outcome: 'failure', detail: 'server said Bearer abcdefghijklmnopqrstuvwxyz and refresh_token=opaque-secret-value' });
    const text = readFileSync(log.file, 'utf8');
    assert.ok(!text.includes('abcdefghijklmnopqrstuvwxyz') && !text.includes('opaque-secret-value'), text);
    assert.ok((await log.verify()).ok);
  });
});
