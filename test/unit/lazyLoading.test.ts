import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** Runs `code` (CommonJS) in a fresh Node process with tsx, so nothing else has loaded a module yet. */
function fresh(code: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8' }).trim();
}

describe('lazy loading', function () {
  this.timeout(30_000);
  it('js-yaml is evaluated on the first databricks.yml parsed, not when the policy code loads', () => {
    const out = fresh(`
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/js-yaml/'));
      const m = require('./src/core/policy/parseBundleTargets.ts');
      const before = loaded() || m.yamlLoaded();
      const parsed = m.parseBundleTargets('targets:\\n  dev:\\n    workspace:\\n      host: https://dbc-1.cloud.databricks.com\\n');
      console.log(JSON.stringify({ before, after: loaded() && m.yamlLoaded(), hosts: parsed.targets }));
    `);
    assert.deepEqual(JSON.parse(out), { before: false, after: true, hosts: { dev: { host: 'https://dbc-1.cloud.databricks.com' } } });
  });
});
