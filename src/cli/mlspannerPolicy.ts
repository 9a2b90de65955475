// mlspanner-policy: the access policy of a repository, reviewed and tested without VS Code.
// Built to dist/mlspanner-policy.js (one file, `node dist/mlspanner-policy.js …`); it shares the
// policy core with the extension, so CI and the editor decide exactly alike.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatProblem, type EnvironmentProblem, type EnvironmentResolution } from '../core/policy/Environment';
import { accessMatrix, parseGroupList } from '../core/policyReview/accessMatrix';
import { ACCESS_TESTS_PATH } from '../core/policyReview/accessTestFile';
import { formatAccessTestReport, runAccessTests } from '../core/policyReview/evaluateAccessTests';
import { junitReport } from '../core/policyReview/junitReport';
import { policyDiff, policyDiffToMarkdown, policyDiffToText, widenings } from '../core/policyReview/policyDiff';
import { PolicySourceError, resolvePolicy, type PolicyFile } from '../core/policyReview/policySource';
import { matrixToCsv, matrixToMarkdown } from '../core/policyReview/renderMatrix';

export const USAGE = `Usage: mlspanner-policy <command> [options]

Commands:
  test    Run access policy tests; exit 1 when one fails.
            --settings <file>   VS Code settings (JSON with comments)   [.vscode/settings.json]
            --bundle <file>     Databricks Asset Bundle                 [databricks.yml, if present]
            --tests <file>      the tests                               [${ACCESS_TESTS_PATH}]
            --junit <file>      also write a JUnit XML report
  matrix  Print who gets which credential in which environment.
            --settings, --bundle as above
            --groups <a,b>      a user in these groups (repeat for more); default: every group
            --format markdown|csv                                       [markdown]
            --out <file>        write to a file instead of standard output
  diff    Compare two policies; exit 1 when access widened.
            --base <file>       the settings before the change (required)
            --base-bundle <file> the bundle before the change       [the same as after]
            --settings, --bundle the policy after the change (as above)
            --format text|markdown|json                                 [text]
            --out <file>        write to a file instead of standard output

Exit status: 0 passed (no widening), 1 failed (widened), 2 usage or unreadable input.
Inside GitHub Actions, failures are also printed as annotations on the test file's lines.
`;

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): string;
  writeFile(path: string, text: string): void;
  exists(path: string): boolean;
  env: Readonly<Record<string, string | undefined>>;
}

const nodeIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  readFile: (p) => readFileSync(p, 'utf8'),
  writeFile: (p, t) => writeFileSync(p, t, 'utf8'),
  exists: (p) => existsSync(p),
  env: process.env,
};

class UsageError extends Error {}

type Flags = Map<string, string[]>;

const KNOWN: Readonly<Record<string, readonly string[]>> = {
  test: ['settings', 'bundle', 'tests', 'junit'],
  matrix: ['settings', 'bundle', 'groups', 'format', 'out'],
  diff: ['settings', 'bundle', 'base', 'base-bundle', 'format', 'out'],
};

function parseFlags(command: string, args: string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument "${arg}"`);
    const name = m[1];
    if (!KNOWN[command].includes(name)) throw new UsageError(`"${command}" has no option --${name} (options: ${KNOWN[command].map((k) => `--${k}`).join(', ')})`);
    let value = m[2];
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return flags;
}

function one(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  if (v && v.length > 1) throw new UsageError(`--${name} is given more than once`);
  return v?.[0];
}

function read(io: CliIo, path: string, what: string): PolicyFile {
  try {
    return { name: path, text: io.readFile(path) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`cannot read the ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? (e as Error).message)}`);
  }
}

/** The policy after the change: explicit files, else the repository's usual places. */
function policyFiles(io: CliIo, flags: Flags, settingsFlag = 'settings', bundleFlag = 'bundle'): { settings: PolicyFile; bundle?: PolicyFile } {
  const settingsPath = one(flags, settingsFlag) ?? '.vscode/settings.json';
  if (!one(flags, settingsFlag) && !io.exists(settingsPath)) throw new UsageError(`no ${settingsPath} here: name the settings file with --${settingsFlag} <file>`);
  const settings = read(io, settingsPath, 'settings file');
  const bundlePath = one(flags, bundleFlag) ?? (settingsFlag === 'settings' && io.exists('databricks.yml') ? 'databricks.yml' : undefined);
  return { settings, bundle: bundlePath ? read(io, bundlePath, 'bundle') : undefined };
}

function resolve(io: CliIo, files: { settings: PolicyFile; bundle?: PolicyFile }): EnvironmentResolution {
  const resolution = resolvePolicy(files.settings, files.bundle);
  warnProblems(io, resolution.problems, files.settings.name);
  return resolution;
}

function warnProblems(io: CliIo, problems: readonly EnvironmentProblem[], source: string): void {
  for (const p of problems) io.stderr(`warning: ${source}: ${formatProblem(p)}\n`);
}

function describeSource(files: { settings: PolicyFile; bundle?: PolicyFile }): string {
  return files.bundle ? `${files.settings.name} + ${files.bundle.name}` : files.settings.name;
}

/** GitHub Actions workflow commands: `%`, CR, LF escaped in data; also `:` and `,` in properties. */
function ghEscape(v: string, property = false): string {
  const data = v.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return property ? data.replace(/:/g, '%3A').replace(/,/g, '%2C') : data;
}

function output(io: CliIo, flags: Flags, text: string): void {
  const out = one(flags, 'out');
  if (!out) return io.stdout(text);
  try {
    io.writeFile(out, text);
  } catch (e) {
    throw new UsageError(`cannot write ${out}: ${(e as { code?: string }).code ?? (e as Error).message}`);
  }
  io.stderr(`Wrote ${out}.\n`);
}

function format(flags: Flags, allowed: readonly string[]): string {
  const f = one(flags, 'format') ?? allowed[0];
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(', ')}, not "${f}"`);
  return f;
}

function testCommand(io: CliIo, flags: Flags): number {
  const files = policyFiles(io, flags);
  const testsPath = one(flags, 'tests') ?? ACCESS_TESTS_PATH;
  const tests = read(io, testsPath, 'tests');
  const report = runAccessTests(tests.text, resolve(io, files), { filename: tests.name });
  io.stdout(`Access policy tests: ${tests.name} against ${describeSource(files)}\n\n`);
  io.stdout(formatAccessTestReport(report, tests.name));
  const junit = one(flags, 'junit');
  if (junit) {
    try {
      io.writeFile(junit, junitReport(report, tests.name));
    } catch (e) {
      throw new UsageError(`cannot write ${junit}: ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }
  if (io.env.GITHUB_ACTIONS === 'true') {
    const file = ghEscape(tests.name, true);
    for (const e of report.errors) io.stdout(`::error file=${file},line=${e.line},col=${e.column},title=${ghEscape('Access test file', true)}::${ghEscape(`${e.path}: ${e.message}`)}\n`);
    for (const r of report.results) for (const f of r.failures) io.stdout(`::error file=${file},line=${f.line},title=${ghEscape(r.name, true)}::${ghEscape(f.message)}\n`);
  }
  if (report.errors.length) return 2;
  return report.failed ? 1 : 0;
}

function matrixCommand(io: CliIo, flags: Flags): number {
  const files = policyFiles(io, flags);
  const fmt = format(flags, ['markdown', 'csv']);
  const groups = flags.get('groups')?.map(parseGroupList);
  const m = accessMatrix(resolve(io, files), groups);
  output(io, flags, fmt === 'csv' ? matrixToCsv(m) : matrixToMarkdown(m, { source: describeSource(files) }));
  return 0;
}

function diffCommand(io: CliIo, flags: Flags): number {
  const basePath = one(flags, 'base');
  if (!basePath) throw new UsageError('diff needs --base <settings before the change>');
  const fmt = format(flags, ['text', 'markdown', 'json']);
  const afterFiles = policyFiles(io, flags);
  // Without --base-bundle the bundle is taken as unchanged: only the settings are compared.
  const baseBundle = one(flags, 'base-bundle');
  const beforeFiles = { settings: read(io, basePath, 'base settings file'), bundle: baseBundle ? read(io, baseBundle, 'base bundle') : afterFiles.bundle };
  const changes = policyDiff(resolve(io, beforeFiles), resolve(io, afterFiles));
  const widened = widenings(changes).length;
  if (fmt === 'json')
    output(
      io,
      flags,
      JSON.stringify(
        {
          widened,
          narrowed: changes.length - widened,
          changes: changes.map((c) => ({ direction: c.direction, kind: c.kind, groups: c.subject.groups, who: c.subject.label, environment: c.environment, target: c.target, message: c.message })),
        },
        null,
        2,
      ) + '\n',
    );
  else if (fmt === 'markdown') output(io, flags, policyDiffToMarkdown(changes, { before: describeSource(beforeFiles), after: describeSource(afterFiles) }));
  else output(io, flags, policyDiffToText(changes));
  if (widened) io.stderr(`Access widened: ${widened} change${widened === 1 ? '' : 's'} need${widened === 1 ? 's' : ''} a review.\n`);
  return widened ? 1 : 0;
}

/** Runs the CLI; returns the exit status. */
export function main(argv: readonly string[], io: CliIo = nodeIo): number {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? io.stdout : io.stderr)(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (!(command in KNOWN)) throw new UsageError(`unknown command "${command}" (commands: ${Object.keys(KNOWN).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(USAGE);
      return 0;
    }
    const flags = parseFlags(command, rest);
    if (command === 'test') return testCommand(io, flags);
    if (command === 'matrix') return matrixCommand(io, flags);
    return diffCommand(io, flags);
  } catch (e) {
    if (e instanceof UsageError || e instanceof PolicySourceError) {
      io.stderr(`mlspanner-policy: ${e.message}\n${e instanceof UsageError ? 'Run "mlspanner-policy --help" for the options.\n' : ''}`);
      return 2;
    }
    io.stderr(`mlspanner-policy: unexpected error: ${(e as Error)?.message ?? String(e)}\n`);
    return 2;
  }
}

// Run when executed (node dist/mlspanner-policy.js, or tsx src/cli/mlspannerPolicy.ts), not when imported by tests.
if (require.main === module) process.exitCode = main(process.argv.slice(2));
