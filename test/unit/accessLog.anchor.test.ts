import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { AccessLog, canonicalJson, GENESIS, hashEvent, verifyLogText, type AccessEvent, type VerifyResult } from '../../src/core/audit/AccessLog';
import { looksLikeToken } from '../../src/core/redact';
import { TestSecretStorage } from './fakes/TestSecretStorage';

const file = () => join(mkdtempSync(join(tmpdir(), 'mlspanner-anchor-')), 'access-log.jsonl');
const lines = (f: string) => readFileSync(f, 'utf8').trim().split('\n');
const write = (f: string, ls: string[]) => writeFileSync(f, ls.length ? ls.join('\n') + '\n' : '');

/** An anchored log of n entries; warnings are collected instead of reported. */
async function anchoredLog(n: number, store = new TestSecretStorage(), f = file()) {
  const warnings: string[] = [];
  const log = new AccessLog(f, () => ({ actor: { subject: 'alice' } }), Date.now, undefined, { anchor: store, onWarning: (m) => warnings.push(m) });
  for (let i = 1; i <= n; i++) await log.append({ type: 'credentialIssued', outcome: 'success', environment: 'staging', detail: `entry ${i}` });
  return { log, store, warnings };
}

/** Rewrites the chain as a tamperer without the key would: fresh seq, prev and hash; no MAC. */
function recompute(ls: string[]): string[] {
  let prev = GENESIS;
  return ls.map((l, i) => {
    const { hash: _h, mac: _m, ...rest } = JSON.parse(l) as AccessEvent;
    const e = { ...rest, seq: i + 1, prev };
    prev = hashEvent(e);
    return JSON.stringify({ ...e, hash: prev });
  });
}

const reasons = (r: VerifyResult) => r.breaks.map((b) => `${b.line}: ${b.reason}`).join('\n');

describe('AccessLog anchor (secret store)', () => {
  it('an intact anchored log verifies, and says it is anchored', async () => {
    const { log } = await anchoredLog(5);
    const r = await log.verify();
    assert.deepEqual({ ok: r.ok, total: r.total, count: r.count, anchor: r.anchor, breaks: r.breaks, sealedFrom: r.sealedFrom }, { ok: true, total: 5, count: 5, anchor: 'anchored', breaks: [], sealedFrom: 1 });
    assert.ok(lines(log.file).every((l) => /,"mac":"[0-9a-f]{64}"\}$/.test(l)), 'every entry carries a MAC');
  });

  it('keeps only hex in the secret store: nothing token-shaped', async () => {
    const { store } = await anchoredLog(2);
    assert.deepEqual([...store.data.keys()].sort(), ['accessLog.head', 'accessLog.seal']);
    assert.equal(looksLikeToken(JSON.stringify([...store.data])), false);
  });

  it('detects a truncated tail', async () => {
    const { log } = await anchoredLog(5);
    write(log.file, lines(log.file).slice(0, 3));
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.deepEqual(r.brokenAt?.line, 4);
    assert.match(r.brokenAt!.reason, /ends at entry 3, but entry 5 was recorded: 2 entries removed from the end/);
    // Without the anchor the same file passes: this is what the anchor adds.
    assert.equal(verifyLogText(readFileSync(log.file, 'utf8')).ok, true);
  });

  it('detects an emptied file', async () => {
    const { log } = await anchoredLog(3);
    write(log.file, []);
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.match(r.brokenAt!.reason, /empty, but 3 entries were recorded/);
  });

  it('detects a deleted entry with the chain recomputed', async () => {
    const { log } = await anchoredLog(5);
    const ls = lines(log.file);
    write(log.file, recompute([ls[0], ls[1], ls[3], ls[4]]));
    assert.equal(verifyLogText(readFileSync(log.file, 'utf8')).ok, true, 'the hash chain alone cannot see it');
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.match(reasons(r), /no MAC|MAC does not match/);
    assert.match(reasons(r), /ends at entry 4, but entry 5 was recorded/);
  });

  it('names every forged entry of a chain recomputed after an edit', async () => {
    const { log } = await anchoredLog(5);
    const ls = lines(log.file);
    // Edit entry 3, recompute hashes from there on, keep the old MACs.
    const edited = ls.map((l, i) => (i === 2 ? l.replace('entry 3', 'entry 9') : l));
    let prev = (JSON.parse(ls[1]) as AccessEvent).hash;
    const forged = edited.map((l, i) => {
      if (i < 2) return l;
      const { hash: _h, mac, ...rest } = JSON.parse(l) as AccessEvent;
      const e = { ...rest, prev };
      prev = hashEvent(e);
      return JSON.stringify({ ...e, hash: prev, mac });
    });
    write(log.file, forged);
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.breaks.map((b) => b.line),
      [3, 4, 5],
      reasons(r),
    );
    assert.ok(r.breaks.slice(0, 3).every((b) => /MAC does not match/.test(b.reason)));
    assert.equal(r.count, 2);
  });

  it('reports every break, not only the first', async () => {
    const { log } = await anchoredLog(6);
    const ls = lines(log.file);
    write(log.file, [ls[0], ls[1].replace('staging', 'prod'), ls[2], ls[4], ls[5]]);
    const r = await log.verify();
    assert.deepEqual(
      r.breaks.map((b) => b.line),
      [2, 4],
    );
    assert.match(r.breaks[0].reason, /edited/);
    assert.match(r.breaks[1].reason, /sequence 5, expected 4/);
    assert.deepEqual(r.brokenAt, r.breaks[0]);
  });

  it('accepts a head that lags behind the file (appends after the last store)', async () => {
    const { log, store } = await anchoredLog(5);
    const third = JSON.parse(lines(log.file)[2]) as AccessEvent;
    await store.store('accessLog.head', JSON.stringify({ seq: 3, hash: third.hash }));
    assert.equal((await log.verify()).ok, true);
    await store.store('accessLog.head', JSON.stringify({ seq: 3, hash: 'f'.repeat(64) }));
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.match(r.brokenAt!.reason, /entry 3 is not the one recorded/);
  });

  it('windows sharing the secret store keep one anchored chain', async () => {
    const store = new TestSecretStorage();
    const { log: a } = await anchoredLog(2, store);
    const b = new AccessLog(a.file, undefined, undefined, undefined, { anchor: store });
    await b.append({ type: 'signOut', outcome: 'success' });
    await a.append({ type: 'signIn', outcome: 'success' });
    for (const log of [a, b]) {
      const r = await log.verify();
      assert.equal(r.ok, true, reasons(r));
      assert.equal(r.total, 4);
    }
    assert.deepEqual(JSON.parse(store.data.get('accessLog.head')!).seq, 4);
  });

  it('after a truncation, new entries continue from the recorded head, so the gap stays visible', async () => {
    const { log, warnings } = await anchoredLog(5);
    write(log.file, lines(log.file).slice(0, 3));
    await log.append({ type: 'signOut', outcome: 'success' });
    assert.match(warnings.join('\n'), /ends at entry 3, but entry 5 was recorded/);
    const r = await log.verify();
    assert.equal(r.ok, false);
    assert.equal(r.breaks.length, 1, reasons(r));
    assert.deepEqual(r.brokenAt?.line, 4);
    assert.match(r.brokenAt!.reason, /sequence 6, expected 4/);
  });

  it('an entry appended without the key to a sealed log is flagged', async () => {
    const { log } = await anchoredLog(2);
    await new AccessLog(log.file).append({ type: 'signIn', outcome: 'success' });
    const r = await log.verify();
    assert.deepEqual(
      r.breaks.map((b) => b.line),
      [3],
    );
    assert.match(r.brokenAt!.reason, /no MAC/);
  });

  it('a window that still holds the key puts it back when the store lost it', async () => {
    const { log, store } = await anchoredLog(2);
    await store.delete('accessLog.seal');
    await log.append({ type: 'signOut', outcome: 'success' });
    const r = await log.verify();
    assert.equal(r.ok, true, reasons(r));
    assert.equal(r.sealedFrom, 1);
  });

  it('windows converge on the key the store kept when two sealed at once', async () => {
    const store = new TestSecretStorage();
    const { log: a } = await anchoredLog(1, store);
    const b = new AccessLog(a.file, undefined, undefined, undefined, { anchor: store });
    await b.append({ type: 'signIn', outcome: 'success' });
    // Another window's key replaced this one's (a store that syncs windows late).
    const other = new TestSecretStorage();
    await anchoredLog(1, other, join(mkdtempSync(join(tmpdir(), 'mlspanner-other-')), 'x.jsonl'));
    const sealed = JSON.parse(other.data.get('accessLog.seal')!) as { key: string };
    await store.store('accessLog.seal', JSON.stringify({ v: 1, key: sealed.key, sealedFrom: 3 }));
    await a.append({ type: 'signOut', outcome: 'success' });
    await b.append({ type: 'signOut', outcome: 'success' });
    const r = await a.verify();
    assert.equal(r.ok, true, reasons(r));
  });

  it('sealed entries whose key is gone from the store are reported', async () => {
    const { log, store } = await anchoredLog(2);
    await store.delete('accessLog.seal');
    const r = await new AccessLog(log.file, undefined, undefined, undefined, { anchor: store }).verify();
    assert.equal(r.ok, false);
    assert.equal(r.anchor, 'unanchored');
    assert.match(r.brokenAt!.reason, /sealing key is missing/);
  });

  it('anchors a log written before the anchor existed: earlier entries are held by the chain', async () => {
    const f = file();
    const old = new AccessLog(f);
    await old.append({ type: 'signIn', outcome: 'success' });
    await old.append({ type: 'signOut', outcome: 'success' });
    const { log } = await anchoredLog(2, new TestSecretStorage(), f);
    const r = await log.verify();
    assert.equal(r.ok, true, reasons(r));
    assert.equal(r.sealedFrom, 3);
    const ls = lines(f);
    write(f, [ls[0].replace('signIn', 'signOut'), ...ls.slice(1)]);
    assert.equal((await log.verify()).brokenAt?.line, 1);
  });
});

describe('AccessLog lines', () => {
  it('writes each entry in canonical form: the hash covers the raw bytes of the line', async () => {
    const log = new AccessLog(file(), () => ({ actor: { subject: 'alice', name: 'Alice' } }));
    await log.append({ type: 'jobRequested', outcome: 'success', target: 'job 42', environment: 'dev', reason: 'ünïcødé "quoted"' });
    const [line] = lines(log.file);
    const e = JSON.parse(line) as AccessEvent;
    const body = line.slice(0, line.indexOf(',"hash":')) + '}';
    const { hash: _h, ...rest } = e;
    assert.equal(body, canonicalJson(rest));
    assert.equal(createHash('sha256').update(body, 'utf8').digest('hex'), e.hash);
    assert.ok(line.endsWith(`,"hash":"${e.hash}"}`));
  });

  it('still verifies a log in the earlier format (insertion-ordered keys, hash last)', () => {
    let prev = GENESIS;
    const ls: string[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const e = { type: 'signIn', outcome: 'success', actor: { subject: 'alice' }, seq, time: '2026-01-01T00:00:00.000Z', prev };
      prev = hashEvent(e);
      ls.push(JSON.stringify({ ...e, hash: prev }));
    }
    assert.deepEqual(verifyLogText(ls.join('\n') + '\n'), { ok: true, count: 3, total: 3, breaks: [], anchor: 'unanchored' });
    const edited = [ls[0], ls[1].replace('alice', 'mallory'), ls[2]].join('\n');
    assert.equal(verifyLogText(edited).brokenAt?.line, 2);
  });

  it('a torn line is reported, does not swallow the next entry, and appends go on after it', async () => {
    const f = file();
    const a = new AccessLog(f);
    await a.append({ type: 'signIn', outcome: 'success' });
    await a.append({ type: 'credentialIssued', outcome: 'success' });
    appendFileSync(f, '{"type":"jobStarted","outc'); // a write cut short by a crash
    const warnings: string[] = [];
    const b = new AccessLog(f, undefined, undefined, undefined, { onWarning: (m) => warnings.push(m) });
    await b.append({ type: 'signOut', outcome: 'success' });
    await b.append({ type: 'signIn', outcome: 'success' });
    const ls = lines(f);
    assert.equal(ls.length, 5);
    assert.equal(ls[2], '{"type":"jobStarted","outc');
    assert.match(warnings.join(), /torn line/);
    const r = await b.verify();
    assert.equal(r.ok, false);
    assert.deepEqual(r.breaks, [{ line: 3, reason: 'not valid JSON (a torn or damaged line)' }]);
    assert.equal(r.total, 5);
    assert.deepEqual(
      (await b.entries()).map((e) => e.seq),
      [1, 2, 3, 4],
      'the entries after the torn line continue the chain',
    );
  });

  it('export() writes a copy and returns the verification of exactly that copy', async () => {
    const { log } = await anchoredLog(3);
    const target = join(mkdtempSync(join(tmpdir(), 'mlspanner-export-')), 'copy.jsonl');
    const r = await log.export(target);
    assert.equal(readFileSync(target, 'utf8'), readFileSync(log.file, 'utf8'));
    assert.equal(r.ok, true);
    assert.equal(r.total, 3);
  });
});
