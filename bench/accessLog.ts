/**
 * Access-log figures: appends per second (one at a time, and in bursts), verify time for
 * 100,000 entries, and a window's first append on a 55 MB log.
 *
 *     npx tsx bench/accessLog.ts
 */
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, hashEvent, GENESIS, type AnchorStore } from '../src/core/audit/AccessLog';

class MemoryStore implements AnchorStore {
  readonly data = new Map<string, string>();
  async get(k: string) {
    return this.data.get(k);
  }
  async store(k: string, v: string) {
    this.data.set(k, v);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mlspanner-bench-log-'));
let n = 0;
const fresh = () => join(dir, `log-${++n}.jsonl`);
const defaults = () => ({ actor: { issuer: 'https://login.example.com/oauth2/default', subject: '00u1abcdefghij', name: 'Alice Example' } });
const event = (i: number) => ({
  type: 'credentialIssued' as const,
  outcome: 'success' as const,
  environment: 'staging',
  target: 'databricks',
  resource: 'https://dbc-1234.cloud.databricks.com',
  tokenFingerprint: 'sha256:0123456789ab',
  detail: `request ${i}`,
});
const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => x.toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function appendsPerSecond(label: string, make: () => AccessLog, count: number, burst: boolean) {
  const log = make();
  const t0 = performance.now();
  if (burst) {
    for (let i = 0; i < count; i++) log.record(event(i));
    await log.flush();
  } else {
    for (let i = 0; i < count; i++) await log.append(event(i));
  }
  const t = ms(t0);
  console.log(`${label.padEnd(58)} ${String(Math.round((count / t) * 1000)).padStart(8)} appends/s  (${count} in ${fmt(t)} ms)`);
  return log;
}

/** A log of `count` entries in the current format, written through AccessLog in bursts. */
async function build(count: number, store?: AnchorStore): Promise<AccessLog> {
  const log = new AccessLog(fresh(), defaults, Date.now, (e) => console.error(e), { anchor: store });
  for (let i = 0; i < count; i++) log.record(event(i));
  await log.flush();
  return log;
}

/** A log as the earlier version wrote it: insertion-ordered keys, hash over the canonical form. */
function buildOld(count: number): string {
  const file = fresh();
  const lines: string[] = [];
  let prev = GENESIS;
  for (let i = 1; i <= count; i++) {
    const e = { ...defaults(), ...event(i), seq: i, time: new Date(1_700_000_000_000 + i).toISOString(), prev };
    const hash = hashEvent(e);
    lines.push(JSON.stringify({ ...e, hash }));
    prev = hash;
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function timeVerify(label: string, log: AccessLog, runs = 5) {
  const times: number[] = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    r = await log.verify();
    times.push(ms(t0));
  }
  const size = statSync(log.file).size;
  console.log(`${label.padEnd(58)} ${fmt(median(times)).padStart(8)} ms median of ${runs}  (${r!.total} entries, ${(size / 1e6).toFixed(1)} MB, ok=${r!.ok}, ${r!.anchor})`);
}

async function main() {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs\n`);
  await appendsPerSecond('append, one at a time, unanchored', () => new AccessLog(fresh(), defaults), 2_000, false);
  await appendsPerSecond('append, one at a time, anchored', () => new AccessLog(fresh(), defaults, Date.now, undefined, { anchor: new MemoryStore() }), 2_000, false);
  await appendsPerSecond('append, one at a time, anchored, durable (fdatasync)', () => new AccessLog(fresh(), defaults, Date.now, undefined, { anchor: new MemoryStore(), durable: true }), 1_000, false);
  await appendsPerSecond('record() bursts, unanchored', () => new AccessLog(fresh(), defaults), 50_000, true);
  await appendsPerSecond('record() bursts, anchored', () => new AccessLog(fresh(), defaults, Date.now, undefined, { anchor: new MemoryStore() }), 50_000, true);
  console.log('');

  const store = new MemoryStore();
  await timeVerify('verify 100,000 entries, anchored', await build(100_000, store));
  await timeVerify('verify 100,000 entries, unanchored', await build(100_000));
  await timeVerify('verify 100,000 entries, earlier format', new AccessLog(buildOld(100_000)));
  console.log('');

  // First append of a new window on a 55 MB log (fresh instance: nothing cached).
  const bigStore = new MemoryStore();
  const big = await build(1_000, bigStore);
  const one = (await big.readText()).trim().split('\n').length;
  const perEntry = statSync(big.file).size / one;
  const more = Math.ceil((55e6 - statSync(big.file).size) / perEntry);
  for (let i = 0; i < more; i++) big.record(event(i));
  await big.flush();
  const sizeMb = statSync(big.file).size / 1e6;
  const copy = `${big.file}.unanchored.jsonl`;
  copyFileSync(big.file, copy);
  const firsts: number[] = [];
  const firstsAnchored: number[] = [];
  for (let i = 0; i < 7; i++) {
    const w = new AccessLog(copy, defaults);
    let t0 = performance.now();
    await w.append(event(i));
    firsts.push(ms(t0));
    const wa = new AccessLog(big.file, defaults, Date.now, undefined, { anchor: bigStore });
    t0 = performance.now();
    await wa.append(event(i));
    firstsAnchored.push(ms(t0));
  }
  console.log(`${`first append of a window on a ${sizeMb.toFixed(1)} MB log, unanchored`.padEnd(58)} ${fmt(median(firsts)).padStart(8)} ms median of 7 (max ${fmt(Math.max(...firsts))})`);
  console.log(`${`first append of a window on a ${sizeMb.toFixed(1)} MB log, anchored`.padEnd(58)} ${fmt(median(firstsAnchored)).padStart(8)} ms median of 7 (max ${fmt(Math.max(...firstsAnchored))})`);
  await timeVerify(`verify the ${sizeMb.toFixed(0)} MB log, anchored`, new AccessLog(big.file, defaults, Date.now, undefined, { anchor: bigStore }), 3);
  console.log(`\nload average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
