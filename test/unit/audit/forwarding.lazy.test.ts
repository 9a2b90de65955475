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
  it('the shell loads no forwarder and no OpenTelemetry; the forwarder loads OpenTelemetry on the first batch it encodes', () => {
    const out = fresh(`
      require('./test/unit/fakes/registerVscode.ts');
      const loaded = (part) => Object.keys(require.cache).some((k) => k.includes(part));
      const otel = () => loaded('/node_modules/@opentelemetry/');
      require('./src/vscode/audit/AuditForwarding.ts');
      const shell = { forwarder: loaded('/forwarding/AuditForwarder.ts'), otel: otel() };
      require('./src/core/audit/forwarding/AuditForwarder.ts');
      const enc = require('./src/core/audit/forwarding/encodeLogs.ts');
      const forwarder = otel() || enc.otlpLoaded();
      enc.encodeLogs([], { serviceVersion: '0', hostName: 'h' }, 0);
      console.log(JSON.stringify({ shell, forwarder, encoded: otel() && enc.otlpLoaded() }));
    `);
    assert.deepEqual(JSON.parse(out), { shell: { forwarder: false, otel: false }, forwarder: false, encoded: true });
  });
});
