import { formatDuration } from '../format/duration';
import { formatProblem, type EnvironmentResolution } from '../policy/Environment';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { policySubjects, reaches, subjectCells, subjectOf, type MatrixCell } from './accessMatrix';
import { isProdEnvironment, parseAccessTests, type AccessTestCase, type AccessTestFile, type EnvironmentExpectation, type Expectation, type TestFileError } from './accessTestFile';

export interface TestFailure {
  message: string;
  /** The line of the expectation or invariant that failed. */
  line: number;
}

export interface AccessTestResult {
  kind: 'case' | 'invariant';
  /** The case's name, or "invariant prodRequiresConfirm". */
  name: string;
  line: number;
  passed: boolean;
  failures: TestFailure[];
}

export interface AccessTestReport {
  results: AccessTestResult[];
  /** Problems in the test file: cases with problems did not run. */
  errors: TestFileError[];
  passed: number;
  failed: number;
}

function verdictText(c: MatrixCell): string {
  if (!c.configured) return 'denied (not configured)';
  return c.verdict === 'denied' ? `denied (${c.reason})` : `${c.verdict} (${c.reason})`;
}

function unusable(resolution: EnvironmentResolution, environment: string): string | undefined {
  const p = resolution.problems.filter((x) => x.environment === environment);
  return p.length ? p.map(formatProblem).join('; ') : undefined;
}

function unknownEnvironment(resolution: EnvironmentResolution, environment: string): string {
  const known = Object.keys(resolution.environments);
  return `the policy defines no environment "${environment}" (known: ${known.join(', ') || 'none'})`;
}

/** Checks one expectation against one cell: a failure on the line of the key that failed, or undefined. */
function check(expect: Expectation, cell: MatrixCell, where: string): TestFailure | undefined {
  if (expect.decision !== undefined && expect.decision !== cell.verdict) return { line: expect.decisionLine ?? expect.line, message: `${where}: expected ${expect.decision}, got ${verdictText(cell)}` };
  if (expect.maxTtlSeconds !== undefined) {
    const line = expect.maxTtlLine ?? expect.line;
    if (!reaches(cell.verdict)) return { line, message: `${where}: expected a credential living at most ${formatDuration(expect.maxTtlSeconds)}, got ${verdictText(cell)}` };
    if (cell.ttlCapSeconds !== expect.maxTtlSeconds) return { line, message: `${where}: expected a TTL cap of ${expect.maxTtlSeconds} s (${formatDuration(expect.maxTtlSeconds)}), got ${cell.ttlCapSeconds} s (${formatDuration(cell.ttlCapSeconds)})` };
  }
  return undefined;
}

function runCase(c: AccessTestCase, resolution: EnvironmentResolution, registry: TargetRegistry): AccessTestResult {
  const failures: TestFailure[] = [];
  const cells = subjectCells(resolution, c.groups, registry);
  const who = subjectOf(c.groups).label;
  const service = (t: string) => registry.get(t)?.service ?? t;
  for (const e of c.expect) {
    failures.push(...runEnvironment(e, cells, resolution, who, service));
  }
  return { kind: 'case', name: c.name, line: c.line, passed: !failures.length, failures };
}

function runEnvironment(e: EnvironmentExpectation, all: MatrixCell[], resolution: EnvironmentResolution, who: string, service: (t: string) => string): TestFailure[] {
  const failures: TestFailure[] = [];
  const cells = all.filter((x) => x.environment === e.environment);
  if (!cells.length) {
    // An environment the settings break is usable by nobody: "denied" holds, nothing else does.
    const broken = unusable(resolution, e.environment);
    const onlyDenied = [e.all, ...e.targets.map((t) => t.expect)].every((x) => !x || (x.decision === 'denied' && x.maxTtlSeconds === undefined));
    if (broken && onlyDenied) return [];
    return [{ line: e.line, message: `${e.environment}: ${broken ? `not usable: ${broken}` : unknownEnvironment(resolution, e.environment)}` }];
  }
  if (e.all) {
    const configured = cells.filter((x) => x.configured);
    const scope = e.all.decision === 'denied' ? cells : configured;
    if (!configured.length && e.all.decision !== 'denied') failures.push({ line: e.all.line, message: `${e.environment}: expected ${e.all.decision ?? 'a credential'} for ${who}, but no credential is configured there` });
    for (const cell of scope) {
      // Credentials named on their own are checked by their own expectation.
      if (e.targets.some((t) => t.target === cell.target)) continue;
      const f = check(e.all, cell, `${e.environment} ${service(cell.target)}`);
      if (f) failures.push(f);
    }
  }
  for (const t of e.targets) {
    const cell = cells.find((x) => x.target === t.target)!;
    const f = check(t.expect, cell, `${e.environment} ${service(t.target)}`);
    if (f) failures.push(f);
  }
  return failures;
}

function runInvariants(file: AccessTestFile, resolution: EnvironmentResolution, registry: TargetRegistry): AccessTestResult[] {
  const inv = file.invariants;
  const results: AccessTestResult[] = [];
  const subjects = policySubjects(resolution);
  const rows = subjects.map((s) => ({ subject: s, cells: subjectCells(resolution, s.groups, registry) }));
  const service = (t: string) => registry.get(t)?.service ?? t;
  const result = (name: string, line: number, failures: TestFailure[]): AccessTestResult => ({ kind: 'invariant', name: `invariant ${name}`, line, passed: !failures.length, failures });

  if (inv.prodRequiresConfirm) {
    const failures: TestFailure[] = [];
    for (const env of Object.keys(resolution.environments)) {
      if (!isProdEnvironment(env, inv)) continue;
      const without = rows.filter((r) => r.cells.some((c) => c.environment === env && c.verdict === 'granted'));
      if (without.length) {
        const targets = [...new Set(without.flatMap((r) => r.cells.filter((c) => c.environment === env && c.verdict === 'granted').map((c) => service(c.target))))];
        failures.push({
          line: inv.prodRequiresConfirm.line,
          message: `${env} is production-like but gives ${targets.join(', ')} without a confirmation to ${without.map((r) => r.subject.label).join(', ')}: set "confirm": true for ${env}`,
        });
      }
    }
    results.push(result('prodRequiresConfirm', inv.prodRequiresConfirm.line, failures));
  }

  if (inv.maxTtlSeconds) {
    const max = inv.maxTtlSeconds.value;
    const failures: TestFailure[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      for (const c of r.cells) {
        const k = `${c.environment}\u0000${c.target}`;
        if (!reaches(c.verdict) || c.ttlCapSeconds <= max || seen.has(k)) continue;
        seen.add(k);
        const by = rows.filter((x) => x.cells.some((y) => y.environment === c.environment && y.target === c.target && reaches(y.verdict))).map((x) => x.subject.label);
        failures.push({ line: inv.maxTtlSeconds.line, message: `${c.environment} ${service(c.target)}: credentials live up to ${c.ttlCapSeconds} s (${formatDuration(c.ttlCapSeconds)}), more than ${max} s; reached by ${by.join(', ')}` });
      }
    }
    results.push(result('maxTtlSeconds', inv.maxTtlSeconds.line, failures));
  }

  for (const only of inv.onlyGroupsReach) {
    const failures: TestFailure[] = [];
    const env = resolution.environments[only.environment];
    if (!Object.prototype.hasOwnProperty.call(resolution.environments, only.environment)) {
      if (!unusable(resolution, only.environment)) failures.push({ line: only.line, message: unknownEnvironment(resolution, only.environment) });
    } else {
      const allowed = new Set(only.groups);
      for (const r of rows) {
        // Open to every signed-in user: that one failure says it for every group.
        if (failures.length && !rows[0].subject.groups.length && rows[0].cells.some((c) => c.environment === only.environment && reaches(c.verdict))) break;
        const reached = r.cells.filter((c) => c.environment === only.environment && reaches(c.verdict));
        if (!reached.length) continue;
        if (r.subject.groups.length && r.subject.groups.every((g) => allowed.has(g))) continue;
        const via = r.subject.groups.length ? `requiredGroups of ${only.environment}: ${env.requiredGroups.join(', ')}` : 'its requiredGroups is empty';
        failures.push({ line: only.line, message: `${only.environment} is reached by ${r.subject.label} (${via}), not only by ${only.groups.join(', ') || 'nobody'}` });
      }
    }
    results.push(result(`onlyGroupsReach ${only.environment}`, only.line, failures));
  }

  if (inv.noPolicyProblems) {
    const failures = resolution.problems.map((p) => ({ line: inv.noPolicyProblems!.line, message: formatProblem(p) }));
    results.push(result('noPolicyProblems', inv.noPolicyProblems.line, failures));
  }
  return results;
}

/** Runs a parsed test file's cases and invariants against a policy. */
export function evaluateAccessTests(file: AccessTestFile, resolution: EnvironmentResolution, registry: TargetRegistry = BUILTIN_TARGETS): AccessTestResult[] {
  return [...runInvariants(file, resolution, registry), ...file.cases.map((c) => runCase(c, resolution, registry))].sort((a, b) => a.line - b.line);
}

/** Parses, checks and runs a test file: the editor command and the CLI both call this. */
export function runAccessTests(text: string, resolution: EnvironmentResolution, options: { filename?: string; registry?: TargetRegistry } = {}): AccessTestReport {
  const registry = options.registry ?? BUILTIN_TARGETS;
  const parsed = parseAccessTests(text, options.filename, registry);
  const results = parsed.file ? evaluateAccessTests(parsed.file, resolution, registry) : [];
  const passed = results.filter((r) => r.passed).length;
  return { results, errors: parsed.errors, passed, failed: results.length - passed };
}


/** The report as terminal text: one line per case and invariant, failures under it with file:line. */
export function formatAccessTestReport(report: AccessTestReport, file: string): string {
  const out: string[] = [];
  for (const e of report.errors) out.push(`${file}:${e.line}:${e.column}: error: ${e.path}: ${e.message}`);
  if (report.errors.length) out.push('');
  for (const r of report.results) {
    out.push(`${r.passed ? '✓' : '✗'} ${r.name} (${file}:${r.line})`);
    for (const f of r.failures) out.push(`    ${file}:${f.line}: ${f.message}`);
  }
  out.push('', `${report.passed} passed, ${report.failed} failed${report.errors.length ? `, ${report.errors.length} problem${report.errors.length === 1 ? '' : 's'} in the test file` : ''}.`);
  return out.join('\n') + '\n';
}
