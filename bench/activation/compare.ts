/**
 * A/B activation: fresh processes require() + activate() each given bundle (and the empty
 * extension), interleaved round by round so the machine's load hits all alike. Prints medians of
 * wall and CPU time, and CPU time minus the empty extension's (the tracked number), and the CPU
 * time including the work the extension queues right after activate() returns (300 ms window).
 *
 *   npx tsx bench/activation/compare.ts [--runs=30] [--cold] a/extension.js b/extension.js …
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { median, p95 } from '../lib/table';

const child = path.join(__dirname, 'activateOnce.cjs');
const EMPTY = path.join(__dirname, 'emptyExtension.cjs');

interface Sample {
  totalMs: number;
  cpuMs: number;
  requireMs: number;
  activateMs: number;
  /** With --settle: CPU time including the work queued right after activate() returned. */
  settledCpuMs?: number;
  error?: string;
}

export function activateOnce(file: string, hostBuiltins = true, settle = false): Sample {
  const out = execFileSync(process.execPath, [child, file, ...(hostBuiltins ? ['--host-builtins'] : []), ...(settle ? ['--settle'] : [])], { encoding: 'utf8', timeout: 30_000 });
  const r = JSON.parse(out) as Sample;
  if (r.error) throw new Error(`${file}: ${r.error}`);
  return r;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 30);
  const host = !args.includes('--cold');
  const files = [EMPTY, ...args.filter((a) => !a.startsWith('--')).map((f) => path.resolve(f))];
  const load0 = loadavg();
  const samples = new Map<string, Sample[]>(files.map((f) => [f, []]));
  for (const f of files) activateOnce(f, host, true);
  for (let i = 0; i < runs; i++) for (const f of files) samples.get(f)!.push(activateOnce(f, host, true));
  const load1 = loadavg();
  const base = median(samples.get(EMPTY)!.map((s) => s.cpuMs));
  console.log(`load ${load0.map((x) => x.toFixed(2)).join(' ')} → ${load1.map((x) => x.toFixed(2)).join(' ')}; ${runs} runs each, ${host ? 'host-like' : 'cold'}`);
  console.log('file | wall median | wall p95 | require | activate | CPU median | CPU − empty | CPU with queued work − empty');
  const settledBase = median(samples.get(EMPTY)!.map((s) => s.settledCpuMs ?? s.cpuMs));
  for (const [f, s] of samples) {
    const cpu = median(s.map((x) => x.cpuMs));
    console.log(
      [
        path.relative(process.cwd(), f),
        median(s.map((x) => x.totalMs)).toFixed(1),
        p95(s.map((x) => x.totalMs)).toFixed(1),
        median(s.map((x) => x.requireMs)).toFixed(1),
        median(s.map((x) => x.activateMs)).toFixed(1),
        cpu.toFixed(1),
        (cpu - base).toFixed(1),
        (median(s.map((x) => x.settledCpuMs ?? x.cpuMs)) - settledBase).toFixed(1),
      ].join(' | '),
    );
  }
}
