import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { main, type CliIo } from '../../../src/cli/mlspannerPolicy';

const ROOT = path.join(__dirname, '../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/policy');

/** Runs the built CLI in a child process, in `cwd`. */
function run(cli: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('policy review: mlspanner-policy CLI, end to end on fixture repositories', function () {
  this.timeout(60_000);
  let dir: string;
  let cli: string;

  before(async () => {
    // The same esbuild entry as scripts/build.mjs, into a temporary directory (dist/ is left alone).
    dir = mkdtempSync(path.join(tmpdir(), 'mlspanner-policy-'));
    cli = path.join(dir, 'mlspanner-policy.js');
    await build({
      entryPoints: [path.join(ROOT, 'src/cli/mlspannerPolicy.ts')],
      bundle: true,
      outfile: cli,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      banner: { js: '#!/usr/bin/env node' },
      alias: { 'form-data': path.join(ROOT, 'scripts/form-data-global.cjs') },
      logLevel: 'warning',
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is one self-contained file: no require of a package outside Node', () => {
    const text = readFileSync(cli, 'utf8');
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    assert.deepEqual(
      required.filter((r) => !r.startsWith('node:') && !['fs', 'path', 'net', 'crypto', 'os', 'util', 'url', 'http', 'https', 'stream', 'zlib', 'events', 'buffer', 'dns', 'tls', 'assert'].includes(r)),
      [],
    );
    assert.ok(statSync(cli).size < 200_000, `${statSync(cli).size} bytes`);
  });

  it('test: the repository’s tests pass against its settings and databricks.yml (exit 0), with a JUnit report', async () => {
    const junit = path.join(dir, 'report.xml');
    const r = await run(cli, ['test', '--settings', '.vscode/settings.json', '--bundle', 'databricks.yml', '--tests', '.mlspanner/access-tests.yaml', '--junit', junit], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /8 passed, 0 failed\./);
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /<testsuites name="ML Spanner access policy" tests="8" failures="0" errors="0">/);
    assert.match(xml, /<testcase name="ml-dev reaches dev only" [^>]*line="12"\/>/);
  });

  it('test: defaults to .vscode/settings.json, databricks.yml and .mlspanner/access-tests.yaml', async () => {
    const r = await run(cli, ['test'], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /against \.vscode\/settings\.json \+ databricks\.yml/);
  });

  it('test: a widening change fails (exit 1), naming the lines; GitHub annotations in Actions', async () => {
    const junit = path.join(dir, 'widened.xml');
    const r = await run(cli, ['test', '--settings', '../widened/.vscode/settings.json', '--junit', junit], path.join(FIXTURES, 'base'), { GITHUB_ACTIONS: 'true' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /✗ invariant onlyGroupsReach prod \(\.mlspanner\/access-tests\.yaml:9\)\n {4}\.mlspanner\/access-tests\.yaml:9: prod is reached by ml-staging/);
    assert.match(r.stdout, /\.mlspanner\/access-tests\.yaml:23: prod Databricks: expected denied, got confirm \(you are in ml-staging\)/);
    assert.match(r.stdout, /^::error file=\.mlspanner\/access-tests\.yaml,line=9,title=invariant onlyGroupsReach prod::prod is reached by ml-staging/m);
    assert.match(r.stdout, /4 passed, 4 failed\./);
    assert.match(readFileSync(junit, 'utf8'), /failures="4"/);
  });

  it('test: a narrowing change that the tests allow still passes where they hold, and fails where they pin the old value', async () => {
    const r = await run(cli, ['test', '--settings', '../narrowed/.vscode/settings.json'], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /prod AWS: expected a TTL cap of 900 s \(15 min\), got 600 s \(10 min\)/);
    assert.match(r.stdout, /staging Databricks: expected granted, got confirm/);
  });

  it('diff: a widening change exits 1 and says who now reaches what', async () => {
    const r = await run(cli, ['diff', '--base', '.vscode/settings.json', '--settings', '../widened/.vscode/settings.json'], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^\+ widened: ml-staging now reaches prod Databricks, Google \(ML Spanner\), AWS \(after a confirmation\)$/m);
    assert.match(r.stdout, /^- narrowed: ml-prod no longer reaches prod/m);
    assert.match(r.stderr, /Access widened: 3 changes need a review\./);
  });

  it('diff: a narrowing change exits 0', async () => {
    const r = await run(cli, ['diff', '--base', '.vscode/settings.json', '--settings', '../narrowed/.vscode/settings.json', '--format', 'json'], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { widened: number; narrowed: number; changes: { direction: string }[] };
    assert.equal(out.widened, 0);
    assert.equal(out.narrowed, 6);
    assert.ok(out.changes.every((c) => c.direction === 'narrowed'));
  });

  it('diff: no change exits 0', async () => {
    const r = await run(cli, ['diff', '--base', '.vscode/settings.json'], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'No access decision changed.\n');
  });

  it('matrix: Markdown by default, CSV on request, one typed group list', async () => {
    const md = await run(cli, ['matrix', '--groups', 'ml-dev, ml-staging'], path.join(FIXTURES, 'base'));
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /\| ml-dev \+ ml-staging \| granted \| granted \| denied \| denied \|/);
    const out = path.join(dir, 'matrix.csv');
    const csv = await run(cli, ['matrix', '--format', 'csv', '--out', out], path.join(FIXTURES, 'base'));
    assert.equal(csv.code, 0, csv.stderr);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\r\n');
    assert.equal(lines.length, 1 + 4 * 4 * 3); // no group + 3 groups, 4 environments, 3 credentials
    assert.ok(lines.some((l) => l.startsWith('ml-prod,ml-prod,prod,aws,AWS,confirm,900,true,arn:aws:iam::444455556666:role/ml-prod,')));
  });

  const usage: [string, string[], RegExp][] = [
    ['no command', [], /Usage: mlspanner-policy/],
    ['an unknown command', ['audit'], /unknown command "audit"/],
    ['an unknown option', ['test', '--setings', 'x'], /"test" has no option --setings/],
    ['a missing value', ['test', '--tests'], /--tests needs a value/],
    ['a missing file', ['test', '--settings', 'nope.json'], /cannot read the settings file nope\.json: no such file/],
    ['diff without --base', ['diff'], /diff needs --base/],
    ['a bad format', ['matrix', '--format', 'xml'], /--format must be one of markdown, csv, not "xml"/],
  ];
  for (const [name, args, message] of usage) {
    it(`usage errors exit 2: ${name}`, async () => {
      const r = await run(cli, args, path.join(FIXTURES, 'base'));
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
    });
  }

  it('broken settings JSON exits 2 with the line and column, without quoting the file', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{\n  "some.token": "dapi0123456789abcdef0123456789abcdef"\n  "mlspanner.environments": {}\n}\n');
    const r = await run(cli, ['test', '--settings', bad], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not valid JSON with comments: expected "," or "}" after a property value, found a string \(line 3, column 3\)/);
    assert.doesNotMatch(r.stderr + r.stdout, /dapi/);
  });

  it('a test file with problems exits 2 and names each line', async () => {
    const tests = path.join(dir, 'bad-tests.yaml');
    writeFileSync(tests, 'cases:\n  - name: a\n    groups: [ml-dev]\n    expect:\n      dev: allowed\n');
    const r = await run(cli, ['test', '--tests', tests], path.join(FIXTURES, 'base'));
    assert.equal(r.code, 2);
    assert.match(r.stdout, /bad-tests\.yaml:5:\d+: error: cases\[0\]\.expect\.dev: must be one of granted, confirm, denied, not "allowed"/);
  });

  it('runs in-process with its own IO (policy problems are warnings on stderr)', () => {
    const files: Record<string, string> = {
      's.json': '{ "mlspanner.environments": { "dev": { "requiredGroups": ["ml-dev"], "databricks": { "host": "https://dev.example.com" } }, "bad": { "extends": "x" } } }',
      't.yaml': 'cases:\n  - name: dev\n    groups: [ml-dev]\n    expect: { dev: granted }\n',
    };
    let out = '';
    let err = '';
    const io: CliIo = {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      readFile: (p) => {
        if (!(p in files)) throw Object.assign(new Error('x'), { code: 'ENOENT' });
        return files[p];
      },
      writeFile: (p, t) => void (files[p] = t),
      exists: (p) => p in files,
      env: {},
    };
    assert.equal(main(['test', '--settings', 's.json', '--tests', 't.yaml'], io), 0);
    assert.match(out, /1 passed, 0 failed/);
    assert.match(err, /^warning: s\.json: mlspanner\.environments\.bad\.extends: unknown environment "x"/m);
  });
});
