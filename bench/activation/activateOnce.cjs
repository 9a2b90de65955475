// One fresh process: require() an extension bundle with the `vscode` stub in place, call
// activate() with a fake ExtensionContext, print the times as JSON and exit.
// Usage: node activateOnce.cjs <extension.js> [--host-builtins]
// --host-builtins: first load the Node built-ins VS Code's extension host itself imports before any
// extension runs (out/vs/workbench/api/node/extensionHostProcess.js of VS Code 1.100), so
// their one-time cost is not charged to the extension.
'use strict';
const Module = require('node:module');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const extensionFile = path.resolve(process.argv[2]);
if (process.argv.includes('--host-builtins'))
  for (const m of ['fs', 'child_process', 'os', 'net', 'http', 'zlib', 'url', 'string_decoder', 'util', 'stream', 'events']) require(m);
const stubFile = path.join(__dirname, 'vscodeStub.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? stubFile : resolve.call(this, request, ...rest);
};
// VS Code has its API loaded before any extension: the stub's own load is not the extension's cost.
const vscode = require(stubFile);

const { context, cleanUp } = require('./context.cjs').fakeContext(extensionFile, vscode);

const ms = (a, b) => Number(b - a) / 1e6;

// With MLSPANNER_BENCH_LOAD_MARKS=1 (bench/activation/profile.ts), an instrumented bundle reports
// each module's self time: the wall time between marks, charged to the module whose code runs.
const loadCosts = {};
if (process.env.MLSPANNER_BENCH_LOAD_MARKS === '1') {
  let base = '(bundle prelude)';
  const stack = [];
  let last = process.hrtime.bigint();
  const charge = () => {
    const now = process.hrtime.bigint();
    const who = stack.length ? stack[stack.length - 1] : base;
    loadCosts[who] = (loadCosts[who] || 0) + ms(last, now);
    last = now;
  };
  globalThis.__loadMark = (m) => (charge(), (base = m));
  globalThis.__loadEnter = (m) => (charge(), stack.push(m));
  globalThis.__loadExit = () => (charge(), stack.pop());
  globalThis.__loadActivate = () => (charge(), (base = '(activate)'));
  globalThis.__loadDone = () => charge();
}

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let ext;
try {
  ext = require(extensionFile);
} catch (e) {
  process.stdout.write(JSON.stringify({ error: `require failed: ${e && e.message}` }));
  process.exit(1);
}
const t1 = process.hrtime.bigint();
globalThis.__loadActivate?.();
Promise.resolve()
  .then(() => ext.activate(context))
  .then(
    () => {
      const t2 = process.hrtime.bigint();
      globalThis.__loadDone?.();
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      // Which of the extension's files and which lazily loaded built-ins activation loaded.
      const dir = path.dirname(extensionFile) + path.sep;
      const loaded = Object.keys(require.cache).filter((k) => k.startsWith(dir)).map((k) => path.relative(dir, k));
      const builtins = ['crypto', 'https', 'tls', 'http2', 'dns'].filter((m) => process.moduleLoadList.includes(`NativeModule ${m}`));
      const result = { requireMs: ms(t0, t1), activateMs: ms(t1, t2), totalMs: ms(t0, t2), cpuMs, misses: [...globalThis.__vscodeStubMisses], loaded, builtins, loadCosts };
      const done = () => {
        process.stdout.write(JSON.stringify(result));
        cleanUp();
        process.exit(0);
      };
      if (!process.argv.includes('--settle')) return done();
      // --settle: also the work the extension queued right after activate() returned (timers of
      // 0 ms, promises): the CPU time from require() until 300 ms later, idle time excluded.
      setTimeout(() => {
        const c = process.cpuUsage(cpu0);
        result.settledCpuMs = (c.user + c.system) / 1000;
        result.loadedAfterStartup = Object.keys(require.cache).filter((k) => k.startsWith(dir)).map((k) => path.relative(dir, k));
        done();
      }, 300);
    },
    (e) => {
      process.stdout.write(JSON.stringify({ error: `activate() failed: ${e && e.stack}` }));
      cleanUp();
      process.exit(1);
    },
  );
