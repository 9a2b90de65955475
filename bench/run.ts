/**
 * The benchmark suite: `npm run bench`. One table, each measure beside its baseline, written to
 * bench/results.md. Sections: the machine; activation (require + activate() of the production
 * bundle in fresh processes, against an empty extension); bundle and .vsix bytes by dependency;
 * token exchange per target against a bare round trip; cached credential lookups; the access
 * log; run polling against fixed 3-second polling (sandbox mix and a 5 s to 2 h sweep).
 *
 *   npm run bench                 builds and packages first (npm run package)
 *   npm run bench -- --no-package measures the dist/ already there
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderTable, type Row } from './lib/table';
import { accessLogRows } from './sections/accessLog';
import { activationRows } from './sections/activation';
import { brokerRows } from './sections/broker';
import { bundleRows } from './sections/bundleSize';
import { exchangeRows, startExchangeServers } from './sections/exchange';
import { gateOverheadRows } from './sections/gateOverhead';
import { machineRows } from './sections/machine';
import { pollingMixRows, pollingSweepRows, SCALE } from './sections/polling';
import { treeRows } from './sections/tree';

const root = path.resolve(__dirname, '..');

async function section(name: string, rows: Row[], f: () => Row[] | Promise<Row[]>): Promise<void> {
  const t0 = Date.now();
  process.stderr.write(`bench: ${name}…`);
  try {
    rows.push(...(await f()));
    process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(` failed\n${e instanceof Error ? e.stack : String(e)}\n`);
    rows.push({ area: name, measure: 'FAILED', value: (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 160) });
    process.exitCode = 1;
  }
}

async function main() {
  const started = Date.now();
  const rows: Row[] = machineRows();
  if (!process.argv.includes('--no-package')) {
    process.stderr.write('bench: npm run package…\n');
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  await section('size', rows, () => bundleRows());
  await section('activation', rows, () => activationRows());
  const servers = await startExchangeServers();
  try {
    await section('token exchange', rows, () => exchangeRows(servers));
    await section('credentials', rows, async () => [...(await brokerRows(servers)), ...(await gateOverheadRows())]);
  } finally {
    await servers.stop();
  }
  await section('access log', rows, () => accessLogRows());
  await section('tree', rows, () => treeRows());
  await section('polling mix', rows, () => pollingMixRows());
  await section('polling sweep', rows, () => pollingSweepRows());

  const text = [
    `# Benchmarks`,
    '',
    `\`npm run bench\`, ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - started) / 1000).toFixed(0)} s. Ratios are extension ÷ baseline. ` +
      'Wall times depend on how busy the machine is (load average below); CPU times and ratios of interleaved measurements much less.',
    '',
    renderTable(rows),
    '',
    '- **activation**: fresh `node` processes `require()` the production `dist/extension.js` with a stub `vscode` module ' +
      '(bench/activation/vscodeStub.cjs) and call `activate()`, interleaved with an empty extension. features.js and vendor.js are not ' +
      'read at activation; the work queued right after activate() returns (building the services, first state push, secret diagnostics, policy watcher) has its own row, CPU over a 300 ms window ' +
      '(A/B of any builds: `npx tsx bench/activation/compare.ts a/extension.js b/extension.js`). "Host-like" first loads the Node ' +
      'built-ins VS Code\'s extension host imports before any extension (fs, child_process, os, net, http, zlib, url, string_decoder, ' +
      'util, stream, events); "cold" charges them to the extension. Where the time goes: `npx tsx bench/activation/profile.ts` (bench/profile.md).',
    '- **size**: bytes per file and per dependency from the esbuild metafile (`dist/meta.json`); a dependency\'s share of the .vsix is estimated from its share of the three files.',
    '- **token exchange**: the extension\'s exchange functions against the sandbox emulators (in another process, so client CPU is the client\'s), ' +
      'blocks of 5 exchanges interleaved with blocks of 5 renewals through `AccessGate.credential()` (forced) and 5 bare `node:http` GETs to the same server. ' +
      'Wall time includes the emulator verifying the JWT. "gate + broker per renewal, no network" renews an instant target in a loop: the decision, the cache, ' +
      'the fingerprint and the access-log entry\'s redaction (`redactDeep`, as the log does; not the file write).',
    '- **tree**: the Environments view model (`environmentView`) as the tree builds it on a change or a 5 s tick, every credential issued and counting down ' +
      '(a synthetic credential list in place of the broker); `changedRoots` is the comparison that picks the rows VS Code re-renders. GC is part of the time.',
    '- **polling**: requests = runs/get + runs/list (JobRunner\'s history lookup; fixed polling makes none). Delay = when TERMINATED was seen ' +
      `minus the run's end_time. The mix runs the sandbox at ×${SCALE} speed, so a few ms of timer and loopback latency (more on a busy machine) show as tenths of a second ` +
      'and slow answers stretch fixed polling\'s interval; the model rows and the sweep are the same schedules on a simulated clock.',
  ].join('\n');
  console.log(text);
  writeFileSync(path.join(__dirname, 'results.md'), `${text}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
