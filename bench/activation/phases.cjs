// One fresh process: the CPU time of each phase of loading an extension file the way Node's
// CommonJS loader does, split apart: read the file, compile it (V8 parses the top level and
// pre-parses every function), evaluate the top level (module bodies, functions compiled as they
// run), activate(). Host-like (the extension host's built-ins loaded first). Prints JSON.
// Usage: node phases.cjs <extension.js>
'use strict';
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

for (const m of ['fs', 'child_process', 'os', 'net', 'http', 'zlib', 'url', 'string_decoder', 'util', 'stream', 'events']) require(m);
const stubFile = path.join(__dirname, 'vscodeStub.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? stubFile : resolve.call(this, request, ...rest);
};
const vscode = require(stubFile);
const file = path.resolve(process.argv[2]);
const { context, cleanUp } = require('./context.cjs').fakeContext(file, vscode);
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const t = [cpu()];
const source = fs.readFileSync(file, 'utf8');
t.push(cpu());
const script = new vm.Script(Module.wrap(source), { filename: file });
t.push(cpu());
const m = new Module(file, module);
m.filename = file;
m.paths = Module._nodeModulePaths(path.dirname(file));
Module._cache[file] = m;
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
m.loaded = true;
t.push(cpu());
Promise.resolve(m.exports.activate(context)).then(() => {
  t.push(cpu());
  process.stdout.write(JSON.stringify({ readMs: t[1] - t[0], compileMs: t[2] - t[1], evaluateMs: t[3] - t[2], activateMs: t[4] - t[3], totalMs: t[4] - t[0] }));
  cleanUp();
  process.exit(0);
});
