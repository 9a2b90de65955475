/**
 * Activation: fresh Node processes require() the production bundle with a stubbed `vscode` module
 * and call activate() (bench/activation/activateOnce.cjs), against an empty extension, interleaved.
 * "host-like" preloads the Node built-ins VS Code's extension host has loaded before any extension
 * runs; "cold" does not, so the first use of http, net, ... is charged to the extension.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { median, ms, p95, ratio, type Row } from '../lib/table';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const child = path.join(__dirname, '..', 'activation', 'activateOnce.cjs');
const EMPTY = path.join(__dirname, '..', 'activation', 'emptyExtension.cjs');

interface Sample {
  totalMs: number;
  cpuMs: number;
  requireMs: number;
  activateMs: number;
  /** CPU time including the work queued right after activate() returned (300 ms window; host-like runs). */
  settledCpuMs: number;
  misses: string[];
}

async function once(file: string, hostBuiltins: boolean): Promise<Sample> {
  // --settle (300 ms more per process) only where its row reads it: the host-like runs.
  const { stdout } = await run(process.execPath, [child, file, ...(hostBuiltins ? ['--host-builtins', '--settle'] : [])], { cwd: root, timeout: 30_000 });
  const r = JSON.parse(stdout) as Sample & { error?: string };
  if (r.error) throw new Error(`${path.relative(root, file)}: ${r.error}`);
  return r;
}

export async function activationRows(bundle = path.join(root, 'dist', 'extension.js'), processes = 30, coldProcesses = 10): Promise<Row[]> {
  const kinds = [
    { key: 'host', file: bundle, host: true },
    { key: 'empty', file: EMPTY, host: true },
    { key: 'cold', file: bundle, host: false },
  ] as const;
  const samples: Record<string, Sample[]> = { host: [], empty: [], cold: [] };
  // Warm the file system cache once, then interleave so load on the machine hits all alike.
  for (const k of kinds) await once(k.file, k.host);
  for (let i = 0; i < processes; i++) for (const k of kinds) if (k.key !== 'cold' || i < coldProcesses) samples[k.key].push(await once(k.file, k.host));
  const misses = new Set(samples.host.flatMap((s) => s.misses));
  const pick = (k: string, f: (s: Sample) => number) => samples[k].map(f);
  const rows: Row[] = [];
  const line = (measure: string, k: string, f: (s: Sample) => number, q: (xs: number[]) => number) => {
    const a = q(pick(k, f));
    const b = q(pick('empty', f));
    rows.push({ area: 'activation', measure, value: ms(a), baseline: ms(b, 2), baselineIs: 'empty extension', ratio: ratio(a, b, 0) });
  };
  line(`require + activate(), host-like, median of ${processes} processes`, 'host', (s) => s.totalMs, median);
  line(`require + activate(), host-like, p95`, 'host', (s) => s.totalMs, p95);
  line(`  of which require(), median`, 'host', (s) => s.requireMs, median);
  line(`  of which activate(), median`, 'host', (s) => s.activateMs, median);
  line(`require + activate() CPU time, host-like, median`, 'host', (s) => s.cpuMs, median);
  // The services are built right after activate() returns (src/vscode/extension.ts): their cost
  // is not activation's, but it is the extension's.
  line(`require + activate() + the work queued right after it (building the services, first state push, secret diagnostics, policy watcher), CPU, host-like, median`, 'host', (s) => s.settledCpuMs, median);
  line(`require + activate(), cold Node (no built-ins loaded), median of ${coldProcesses}`, 'cold', (s) => s.totalMs, median);
  line(`require + activate() CPU time, cold Node, median of ${coldProcesses}`, 'cold', (s) => s.cpuMs, median);
  if (misses.size) rows.push({ area: 'activation', measure: 'vscode API members the stub did not model (inert)', value: [...misses].slice(0, 8).join(', ') });
  return rows;
}
