/**
 * Where the extension's load time goes. A readable build of the bundle (same entry, aliases and
 * externals as the production one, not minified) is instrumented: a mark before each top-level
 * module (esbuild writes a `// path` line before each) and around each lazily wrapped CommonJS
 * module (`__commonJS`). Fresh processes require and activate it; wall time between events is
 * charged to the module whose code runs (self time: a wrapped module's time is not its
 * importer's). Node internals a module triggers (e.g. undici when `fetch` is touched) count for
 * that module.
 *
 *   npx tsx bench/activation/profile.ts [runs]     → prints the table, writes bench/profile.md
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export interface ModuleCost {
  module: string;
  ms: number;
}

export interface LoadProfile {
  runs: number;
  /** Median require() ms of the instrumented bundle. */
  requireMs: number;
  /** Median activate() ms. */
  activateMs: number;
  byModule: ModuleCost[];
  byPackage: ModuleCost[];
}

/** `node_modules/axios/lib/x.js` → `axios`; `src/core/http/HttpClient.ts` → `src/core/http`. */
export function packageOf(module: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
  if (m) return m[1];
  return module.startsWith('(') ? module : path.posix.dirname(module);
}

const COMMONJS_HELPER = `var __commonJS = (cb, mod) => function __require() {
  return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
};`;
const COMMONJS_TIMED = `var __commonJS = (cb, mod) => function __require() {
  if (mod) return mod.exports;
  var k = __getOwnPropNames(cb)[0];
  globalThis.__loadEnter?.(k);
  try { cb[k]((mod = { exports: {} }).exports, mod); } finally { globalThis.__loadExit?.(k); }
  return mod.exports;
};`;

/** The bundle text with load marks; throws if esbuild's output no longer looks as expected. */
export function instrument(source: string): string {
  if (!source.includes(COMMONJS_HELPER)) throw new Error('esbuild’s __commonJS helper changed: update bench/activation/profile.ts');
  return source
    .replace(COMMONJS_HELPER, COMMONJS_TIMED)
    .split('\n')
    .map((l) => {
      const m = /^\/\/ ((?:node_modules|src|scripts)\/\S+)$/.exec(l);
      return m ? `globalThis.__loadMark?.(${JSON.stringify(m[1])});\n${l}` : l;
    })
    .join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function profileLoad(runs = 9): LoadProfile {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mlspanner-profile-'));
  try {
    const bundle = path.join(dir, 'dist', 'extension.js');
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), `--outfile=${bundle}`], { cwd: root, stdio: 'inherit' });
    writeFileSync(bundle, instrument(readFileSync(bundle, 'utf8')));
    const totals = new Map<string, number>();
    const requireMs: number[] = [];
    const activateMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const out = execFileSync(process.execPath, [path.join(__dirname, 'activateOnce.cjs'), bundle, '--host-builtins'], { cwd: root, env: { ...process.env, MLSPANNER_BENCH_LOAD_MARKS: '1' }, encoding: 'utf8' });
      const r = JSON.parse(out) as { requireMs: number; activateMs: number; loadCosts: Record<string, number>; error?: string };
      if (r.error) throw new Error(r.error);
      requireMs.push(r.requireMs);
      activateMs.push(r.activateMs);
      for (const [m, ms] of Object.entries(r.loadCosts)) totals.set(m, (totals.get(m) ?? 0) + ms);
    }
    const byModule = [...totals].map(([module, ms]) => ({ module, ms: ms / runs })).sort((a, b) => b.ms - a.ms);
    const pk = new Map<string, number>();
    for (const m of byModule) pk.set(packageOf(m.module), (pk.get(packageOf(m.module)) ?? 0) + m.ms);
    const byPackage = [...pk].map(([module, ms]) => ({ module, ms })).sort((a, b) => b.ms - a.ms);
    return { runs, requireMs: median(requireMs), activateMs: median(activateMs), byModule, byPackage };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const runs = Number(process.argv[2] ?? 9);
  const p = profileLoad(runs);
  const total = p.requireMs + p.activateMs;
  const fmt = (rows: ModuleCost[], n: number) => rows.slice(0, n).map((r) => `| ${r.module} | ${r.ms.toFixed(1)} | ${((r.ms / total) * 100).toFixed(0)} % |`);
  const text = [
    `# Where require() + activate() time goes`,
    '',
    `${p.runs} fresh processes (Node ${process.version}, the extension host's built-ins preloaded as in the benchmark's host-like rows) load an instrumented readable build of the bundle: median require() ${p.requireMs.toFixed(1)} ms, ` +
      `activate() ${p.activateMs.toFixed(1)} ms. Mean wall time per module's own top-level code (self time; a lazily wrapped CommonJS module is charged ` +
      `separately from its importer); "(bundle prelude)" is reading and compiling the bundle before its first module runs; "(activate)" is the whole activate() call. ` +
      `Wall times on a busy machine are inflated; compare shares.`,
    '',
    '| package | ms | share |',
    '|---|---:|---:|',
    ...fmt(p.byPackage, 15),
    '',
    '| module | ms | share |',
    '|---|---:|---:|',
    ...fmt(p.byModule, 25),
  ].join('\n');
  console.log(text);
  writeFileSync(path.join(__dirname, '..', 'profile.md'), `${text}\n`);
}
