import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');

/** Runs `code` (CommonJS) in a fresh Node process with tsx, so nothing else has loaded a module yet. */
function fresh(code: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8' }).trim();
}

describe('audit forwarding: lazy loading', function () {
  this.timeout(30_000);
  it('the OpenTelemetry libraries are evaluated on the first batch encoded, not when forwarding (or the shell) loads', () => {
    const out = fresh(`
      require('./test/unit/fakes/registerVscode.ts');
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/@opentelemetry/'));
      require('./src/core/audit/forwarding/AuditForwarder.ts');
      require('./src/vscode/audit/AuditForwarding.ts');
      const enc = require('./src/core/audit/forwarding/encodeLogs.ts');
      const before = loaded() || enc.otlpLoaded();
      enc.encodeLogs([], { serviceVersion: '0', hostName: 'h' }, 0);
      console.log(JSON.stringify({ before, after: loaded() && enc.otlpLoaded() }));
    `);
    assert.deepEqual(JSON.parse(out), { before: false, after: true });
  });
});
