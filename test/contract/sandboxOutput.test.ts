import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isOidcProviderRuntimeNotice } from '../../sandbox/quietRuntimeNotice';

/**
 * `npm run demo` and `npm run sandbox` start without oidc-provider's "Unsupported runtime"
 * notice (the sandbox runs on Node 20 on purpose), and no other warning is swallowed.
 */
describe('sandbox start-up output', function () {
  this.timeout(30_000);

  it('recognises exactly the known oidc-provider runtime notice, plain or coloured', () => {
    const notice = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';
    assert.ok(isOidcProviderRuntimeNotice([notice]));
    assert.ok(isOidcProviderRuntimeNotice([`\x1b[31;1m${notice}\x1b[0m`]));
    for (const other of [
      [`${notice} extra`],
      ['oidc-provider WARNING: a different problem'],
      [notice, 'and more'],
      ['(node:1) Warning: something else'],
      [{ message: notice }],
    ])
      assert.equal(isOidcProviderRuntimeNotice(other), false, JSON.stringify(other));
  });

  it('starts the sandbox without the runtime notice; other warnings still print', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlspanner-sandbox-output-'));
    const script = path.join(dir, 'start.ts');
    const index = path.resolve(__dirname, '../../sandbox/index').replace(/\\/g, '/');
    fs.writeFileSync(
      script,
      `import { startSandbox } from '${index}';
void (async () => {
  const sandbox = await startSandbox({ quiet: true });
  console.warn('a different warning');
  await sandbox.close();
  console.log('sandbox started and stopped');
})();
`,
    );
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 25_000, cwd: path.resolve(__dirname, '../..') });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /sandbox started and stopped/);
      assert.doesNotMatch(run.stderr, /Unsupported runtime/);
      assert.match(run.stderr, /a different warning/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
