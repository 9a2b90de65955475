/**
 * Access log: appends per second and verify time for 100,000 entries. Uses bench/accessLog.ts
 * when it exports a function (`export async function accessLogFigures()` returning numbers by
 * name); otherwise measures AccessLog directly here.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessLog, type AccessEventInput } from '../../src/core/audit/AccessLog';
import { median, ms, perSecond, ratio, type Row } from '../lib/table';

const SCRIPT = path.join(__dirname, '..', 'accessLog.ts');

const event = (i: number): AccessEventInput => ({
  type: 'credentialIssued',
  outcome: 'success',
  environment: 'staging',
  target: 'databricks',
  resource: 'https://dbc-1234.cloud.databricks.com',
  tokenFingerprint: 'sha256:0123456789ab',
  detail: `request ${i}`,
});

/** The exported function of bench/accessLog.ts, if it has one (importing a script without exports would run it). */
async function externalFigures(): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(SCRIPT)) return undefined;
  const m = /export\s+(?:async\s+)?function\s+(\w+)/.exec(readFileSync(SCRIPT, 'utf8'));
  if (!m) return undefined;
  const mod = (await import(SCRIPT)) as Record<string, unknown>;
  const fn = mod[m[1]];
  if (typeof fn !== 'function') return undefined;
  return (await (fn as () => Promise<Record<string, unknown>>)()) ?? undefined;
}

export async function accessLogRows(entries = 100_000): Promise<Row[]> {
  const external = await externalFigures();
  if (external)
    return Object.entries(external)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
      .map(([k, v]) => ({ area: 'access log', measure: `${k} (bench/accessLog.ts)`, value: typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(v) }));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'mlspanner-bench-log-'));
  try {
    const defaults = () => ({ actor: { issuer: 'https://login.example.com/oauth2/default', subject: '00u1abcdefghij', name: 'Alice Example' } });
    const fail = (e: unknown) => {
      throw e;
    };
    // One at a time: each append waits for its line on disk (as the extension's awaited events).
    const single = new AccessLog(path.join(dir, 'single.jsonl'), defaults, Date.now, fail);
    const n1 = 500;
    let t0 = performance.now();
    for (let i = 0; i < n1; i++) await single.append(event(i));
    const singleRate = (n1 / (performance.now() - t0)) * 1000;
    // Bursts: record() without waiting, batched into locked writes.
    const big = new AccessLog(path.join(dir, 'big.jsonl'), defaults, Date.now, fail);
    t0 = performance.now();
    for (let i = 0; i < entries; i++) big.record(event(i));
    await big.flush();
    const burstRate = (entries / (performance.now() - t0)) * 1000;
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      t0 = performance.now();
      const v = await big.verify();
      times.push(performance.now() - t0);
      if (!v.ok) throw new Error(`the benchmark log did not verify: ${JSON.stringify(v).slice(0, 200)}`);
    }
    // Baseline: reading and JSON-parsing the same file, the floor under any verification.
    const parse: number[] = [];
    for (let r = 0; r < 3; r++) {
      t0 = performance.now();
      const text = await big.readText();
      for (const line of text.split('\n')) if (line) JSON.parse(line);
      parse.push(performance.now() - t0);
    }
    const v = median(times);
    const p = median(parse);
    // A window's first append to a log others have written: grow the log past 55 MB, then each
    // new AccessLog (a new window) appends once. It finds the tail from the end of the file.
    const bigFile = path.join(dir, 'big.jsonl');
    while (statSync(bigFile).size < 55 * 1024 * 1024) {
      for (let i = 0; i < 20_000; i++) big.record(event(i));
      await big.flush();
    }
    const firstAppend = async (file: string) => {
      const window = new AccessLog(file, defaults, Date.now, fail);
      const t = performance.now();
      await window.append(event(0));
      return performance.now() - t;
    };
    const onBig: number[] = [];
    const onEmpty: number[] = [];
    for (let r = 0; r < 5; r++) {
      onBig.push(await firstAppend(bigFile));
      onEmpty.push(await firstAppend(path.join(dir, `empty-${r}.jsonl`)));
    }
    const fa = median(onBig);
    const fe = median(onEmpty);
    return [
      { area: 'access log', measure: 'appends per second, one at a time (awaited)', value: perSecond(singleRate), baseline: perSecond(burstRate), baselineIs: 'in bursts (record(), batched)', ratio: ratio(singleRate, burstRate) },
      { area: 'access log', measure: `appends per second, bursts of ${entries.toLocaleString('en-US')}`, value: perSecond(burstRate) },
      { area: 'access log', measure: `verify ${entries.toLocaleString('en-US')} entries, median of 3`, value: ms(v, 0), baseline: ms(p, 0), baselineIs: 'read + JSON.parse every line', ratio: ratio(v, p, 1) },
      { area: 'access log', measure: `first append of a new window to a ${(statSync(bigFile).size / 1024 / 1024).toFixed(0)} MB log, median of 5`, value: ms(fa, 2), baseline: ms(fe, 2), baselineIs: 'first append to a new log', ratio: ratio(fa, fe) },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
