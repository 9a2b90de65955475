import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

interface Exercise {
  registered: { commands: string[]; views: string[]; tools: string[]; authenticationProviders: string[] };
  loadedAtActivation: string[];
  builtinsAtActivation: string[];
  loadedAfterStartup: string[];
  loadedAfterCommands: string[];
  ran: Record<string, string[]>;
  errors: string[];
  failure?: string;
}

interface Manifest {
  contributes: { commands: { command: string }[]; views: Record<string, { id: string }[]>; languageModelTools: { name: string }[]; authentication: { id: string }[] };
}

/**
 * The production build as the extension host loads it: extension.js at activation, features.js
 * and vendor.js on first use (scripts/build.mjs). Activated in a fresh process with the
 * benchmark's vscode stub (bench/activation/exercise.cjs).
 */
describe('activation of the split production build', function () {
  this.timeout(120_000);
  let dir: string;
  let extension: string;
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
  const exercise = (...commands: string[]): Exercise => {
    const out = execFileSync(process.execPath, [path.join(root, 'bench', 'activation', 'exercise.cjs'), extension, ...commands], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out) as Exercise;
    assert.equal(r.failure, undefined, r.failure);
    return r;
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mlspanner-split-'));
    extension = path.join(dir, 'dist', 'extension.js');
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--production', `--outfile=${extension}`], { cwd: root, stdio: 'pipe' });
    copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('registers every contributed command, view, tool and authentication provider at activation, from extension.js alone', () => {
    const r = exercise();
    const missing = (want: string[], have: string[]) => want.filter((x) => !have.includes(x));
    assert.deepEqual(missing(manifest.contributes.commands.map((c) => c.command), r.registered.commands), []);
    assert.deepEqual(missing(Object.values(manifest.contributes.views).flat().map((v) => v.id), r.registered.views), []);
    assert.deepEqual(missing(manifest.contributes.languageModelTools.map((t) => t.name), r.registered.tools), []);
    assert.deepEqual(missing(manifest.contributes.authentication.map((a) => a.id), r.registered.authenticationProviders), []);
    assert.deepEqual(r.loadedAtActivation, ['extension.js']);
    assert.deepEqual(r.builtinsAtActivation, [], 'node:crypto and the TLS stack load on first use');
    // Nothing configured: the start-up work needs no third-party package.
    assert.ok(!r.loadedAfterStartup.includes('vendor.js'), r.loadedAfterStartup.join(', '));
    assert.deepEqual(r.errors, []);
  });

  it('commands of features loaded on first use run from features.js, sharing one copy of each module with extension.js', () => {
    const r = exercise(
      'mlspanner.doctor',
      'mlspanner.showAccessLog',
      'mlspanner.verifyAccessLog',
      'mlspanner.showAccessMatrix',
      'mlspanner.testAccessPolicy',
      'mlspanner.scanWorkspaceForSecrets',
      'mlspanner.runSpannerQuery',
      'mlspanner.runJob',
    );
    assert.ok(r.loadedAfterCommands.includes('features.js'));
    for (const id of Object.keys(r.ran).filter((k) => k !== 'mlspanner.runJob')) assert.deepEqual(r.ran[id], [], id);
    // A UserFacingError thrown in features.js keeps its remedy buttons in extension.js's
    // CommandRunner: the `instanceof` holds because the class exists once.
    assert.equal(r.ran['mlspanner.runJob'].length, 1);
    assert.match(r.ran['mlspanner.runJob'][0], /^No environments are configured\..* \| Open Settings \| Show Log$/);
  });

  it('the files stay apart: extension.js has no third-party package and no feature loaded on first use', () => {
    const meta = JSON.parse(readFileSync(path.join(dir, 'dist', 'meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    const inputsOf = (name: string) => Object.keys(Object.entries(meta.outputs).find(([k]) => k.endsWith(`/${name}`))![1].inputs);
    const main = inputsOf('extension.js');
    assert.deepEqual(main.filter((i) => i.includes('node_modules/')), []);
    for (const lazy of ['src/core/secrets/scanSecrets.ts', 'src/core/credentials/awsStsXml.ts', 'src/core/policyReview/policyDiff.ts', 'src/core/doctor/Doctor.ts', 'src/vscode/runs/JobCommands.ts', 'src/core/audit/accessLogView.ts', 'src/core/credentials/exchangeDatabricksToken.ts', 'src/core/credentials/exchangeGoogleToken.ts', 'src/core/credentials/assumeAwsRole.ts', 'src/core/endpoints/CredentialEndpointServer.ts', 'src/core/agents/agentTools.ts', 'src/core/spanner/QueryRunner.ts']) {
      assert.ok(!main.includes(lazy), `${lazy} is in extension.js`);
      assert.ok(inputsOf('features.js').includes(lazy), `${lazy} is not in features.js`);
    }
    for (const pkg of ['axios', 'js-yaml', 'openid-client']) assert.ok(inputsOf('vendor.js').some((i) => i.includes(`node_modules/${pkg}/`)), pkg);
  });
});
