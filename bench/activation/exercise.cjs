// One fresh process: activate an extension file with the `vscode` stub, let the work queued after
// activation run, then run the given commands. Prints JSON: what activation registered (commands,
// views, tools, authentication providers), which of the extension's files were loaded after
// activate(), after the start-up work and after the commands, and every error or warning shown.
// Usage: node exercise.cjs <extension.js> [command …]
'use strict';
const Module = require('node:module');
const path = require('node:path');

const extensionFile = path.resolve(process.argv[2]);
const commandsToRun = process.argv.slice(3);
const stubFile = path.join(__dirname, 'vscodeStub.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? stubFile : resolve.call(this, request, ...rest);
};
const vscode = require(stubFile);
const record = globalThis.__vscodeStubRecord;
const { context, cleanUp } = require('./context.cjs').fakeContext(extensionFile, vscode);
const dir = path.dirname(extensionFile) + path.sep;
const loaded = () => Object.keys(require.cache).filter((k) => k.startsWith(dir)).map((k) => path.relative(dir, k)).sort();
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const out = {};
  try {
    const ext = require(extensionFile);
    await ext.activate(context);
    out.registered = {
      commands: [...record.commands.keys()].sort(),
      views: [...record.views].sort(),
      tools: [...record.tools].sort(),
      authenticationProviders: [...record.authenticationProviders],
    };
    out.loadedAtActivation = loaded();
    // Built-ins the extension host has not loaded before extensions run, loaded by activation.
    out.builtinsAtActivation = ['crypto', 'https', 'tls', 'http2', 'dns'].filter((m) => process.moduleLoadList.includes(`NativeModule ${m}`));
    await settle(200);
    out.loadedAfterStartup = loaded();
    out.ran = {};
    for (const id of commandsToRun) {
      const before = record.errors.length;
      await Promise.race([vscode.commands.executeCommand(id), settle(5000).then(() => Promise.reject(new Error(`${id} did not finish within 5 s`)))]);
      out.ran[id] = record.errors.slice(before);
    }
    out.loadedAfterCommands = loaded();
    out.errors = record.errors;
    out.warnings = record.warnings;
    for (const d of context.subscriptions.reverse()) d.dispose();
  } catch (e) {
    out.failure = e && e.stack ? e.stack : String(e);
  }
  cleanUp();
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})();
