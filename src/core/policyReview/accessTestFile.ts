import { isProdLikeName } from '../policy/Environment';
import { ENVIRONMENT_NAME_PATTERN } from '../policy/resolveEnvironments';
import { describeValue, FIELD_PATTERNS } from '../policy/settingFields';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { VERDICTS, type Verdict } from './accessMatrix';
import { parseYamlWithPositions, positionAt, YamlSyntaxError, type YamlPosition } from './yamlPositions';

/** The conventional place of the tests in a repository. */
export const ACCESS_TESTS_PATH = '.mlspanner/access-tests.yaml';

/** A problem in the test file itself (syntax or schema), at a 1-based line and column. */
export interface TestFileError {
  line: number;
  column: number;
  /** JSON-pointer-like path: "cases[2].expect.prod". */
  path: string;
  message: string;
}

export interface Expectation {
  decision?: Verdict;
  /** The exact TTL cap, in seconds. */
  maxTtlSeconds?: number;
  line: number;
  /** Lines of the `decision` and `maxTtl` keys, when written as keys of their own. */
  decisionLine?: number;
  maxTtlLine?: number;
}

export interface EnvironmentExpectation {
  environment: string;
  line: number;
  /** For every configured credential of the environment (every credential, for `denied`). */
  all?: Expectation;
  /** Per credential target id. */
  targets: { target: string; expect: Expectation }[];
}

export interface AccessTestCase {
  name: string;
  line: number;
  groups: string[];
  expect: EnvironmentExpectation[];
}

export interface Invariants {
  prodRequiresConfirm?: { line: number };
  /** Environments treated as production besides prod-like names (prod, production, prd, live). */
  prodEnvironments: string[];
  maxTtlSeconds?: { value: number; line: number };
  onlyGroupsReach: { environment: string; groups: string[]; line: number }[];
  noPolicyProblems?: { line: number };
}

export interface AccessTestFile {
  cases: AccessTestCase[];
  invariants: Invariants;
}

/** The keys the validator accepts, by place ('' = top level): the schema test compares. */
export const TEST_FILE_KEYS = {
  '': ['$schema', 'version', 'invariants', 'cases'],
  invariants: ['prodRequiresConfirm', 'prodEnvironments', 'maxTtlSeconds', 'onlyGroupsReach', 'noPolicyProblems'],
  case: ['name', 'groups', 'expect'],
  expectation: ['decision', 'maxTtl'],
} as const;

const TTL_PATTERN = /^(\d+)\s*(s|sec|m|min|h)$/;

/** 900, "900s", "15m", "15min", "1h" → seconds; undefined for anything else. */
export function parseTtl(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = TTL_PATTERN.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const seconds = m[2] === 'h' ? n * 3600 : m[2].startsWith('m') ? n * 60 : n;
  return seconds > 0 ? seconds : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(o: Record<string, unknown>): [string, unknown][] {
  return Object.keys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)?.value]);
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

function near(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  return known.find((x) => x.toLowerCase() === k || x.toLowerCase().startsWith(k.slice(0, 4)) || k.startsWith(x.toLowerCase().slice(0, 4)));
}

class Validator {
  readonly errors: TestFileError[] = [];
  constructor(
    private readonly root: YamlPosition | undefined,
    private readonly registry: TargetRegistry,
  ) {}

  line(path: readonly (string | number)[], key = false): number {
    const p = positionAt(this.root, path);
    return (key ? p?.keyLine : undefined) ?? p?.line ?? 1;
  }

  error(path: readonly (string | number)[], message: string, opts: { key?: boolean } = {}): void {
    const p = positionAt(this.root, path);
    const line = (opts.key ? p?.keyLine : undefined) ?? p?.line ?? 1;
    this.errors.push({ line, column: opts.key ? 1 : (p?.column ?? 1), path: formatPath(path), message });
  }

  unknownKey(path: readonly (string | number)[], key: string, known: readonly string[], extra = ''): void {
    const guess = near(key, known);
    this.error([...path, key], `"${key}" is not a known key here${guess ? ` (did you mean "${guess}"?)` : ''}; expected ${known.join(', ')}${extra}`, { key: true });
  }

  groups(path: (string | number)[], v: unknown): string[] | undefined {
    if (!Array.isArray(v)) {
      this.error(path, `must be a list of group names, e.g. [ml-dev, ml-staging] (an empty list: a user in no group), not ${describeValue(v)}`);
      return undefined;
    }
    const out: string[] = [];
    v.forEach((g, i) => {
      if (typeof g !== 'string' || !FIELD_PATTERNS.group.test(g)) this.error([...path, i], `must be a group name without surrounding spaces, not ${describeValue(g)}`);
      else out.push(g);
    });
    return out.length === v.length ? out : undefined;
  }

  environmentName(path: (string | number)[], name: string): boolean {
    if (ENVIRONMENT_NAME_PATTERN.test(name)) return true;
    this.error(path, `"${name}" is not an environment name (letters, digits, "-" and "_", starting with a letter or digit)`, { key: true });
    return false;
  }

  expectation(path: (string | number)[], v: unknown): Expectation | undefined {
    const line = this.line(path);
    if (typeof v === 'string') {
      if ((VERDICTS as readonly string[]).includes(v)) return { decision: v as Verdict, line };
      this.error(path, `must be one of ${VERDICTS.join(', ')}, not ${describeValue(v)}`);
      return undefined;
    }
    if (!isObject(v)) {
      this.error(path, `must be ${VERDICTS.join(', ')} or an object with decision and maxTtl, not ${describeValue(v)}`);
      return undefined;
    }
    return this.expectationFields(path, own(v), line);
  }

  /** `decision` and `maxTtl` among `entries`; other keys are the caller's. */
  expectationFields(path: (string | number)[], entries: [string, unknown][], line: number, others?: (key: string, value: unknown) => boolean): Expectation | undefined {
    const out: Expectation = { line };
    let ok = true;
    for (const [k, val] of entries) {
      if (k === 'decision') {
        out.decisionLine = this.line([...path, k], true);
        if (typeof val === 'string' && (VERDICTS as readonly string[]).includes(val)) out.decision = val as Verdict;
        else {
          this.error([...path, k], `must be one of ${VERDICTS.join(', ')}, not ${describeValue(val)}`);
          ok = false;
        }
      } else if (k === 'maxTtl') {
        out.maxTtlLine = this.line([...path, k], true);
        const s = parseTtl(val);
        if (s === undefined) {
          this.error([...path, k], `must be a number of seconds or a duration such as 900s, 15m, 1h, not ${describeValue(val)}`);
          ok = false;
        } else out.maxTtlSeconds = s;
      } else if (!others?.(k, val)) {
        const targets = this.registry.ids();
        const section = this.registry.forSection(k);
        this.unknownKey(path, k, [...TEST_FILE_KEYS.expectation, ...(others ? targets : [])], section && section.id !== k ? ` ("${k}" is the settings section of the ${section.id} credential: write ${section.id})` : '');
        ok = false;
      }
    }
    if (ok && out.decision === undefined && out.maxTtlSeconds === undefined && !others) {
      this.error(path, 'must say a decision, a maxTtl or both');
      return undefined;
    }
    return ok ? out : undefined;
  }

  environmentExpectation(path: (string | number)[], environment: string, v: unknown): EnvironmentExpectation | undefined {
    const line = this.line(path);
    if (!isObject(v)) {
      const all = this.expectation(path, v);
      return all ? { environment, line, all, targets: [] } : undefined;
    }
    const targets: EnvironmentExpectation['targets'] = [];
    let ok = true;
    const all = this.expectationFields(path, own(v), line, (k, val) => {
      if (!this.registry.get(k)) return false;
      const e = this.expectation([...path, k], val);
      if (e) targets.push({ target: k, expect: e });
      else ok = false;
      return true;
    });
    if (!all || !ok) return undefined;
    if (all.decision === undefined && all.maxTtlSeconds === undefined && !targets.length) {
      this.error(path, `must say what to expect: ${VERDICTS.join(', ')}, or per credential (${this.registry.ids().join(', ')})`);
      return undefined;
    }
    return { environment, line, all: all.decision !== undefined || all.maxTtlSeconds !== undefined ? all : undefined, targets };
  }

  testCase(i: number, v: unknown): AccessTestCase | undefined {
    const path: (string | number)[] = ['cases', i];
    if (!isObject(v)) {
      this.error(path, `must be a test case (name, groups, expect), not ${describeValue(v)}`);
      return undefined;
    }
    const line = this.line(path);
    let ok = true;
    let name: string | undefined;
    let groups: string[] | undefined = [];
    const expect: EnvironmentExpectation[] = [];
    for (const [k, val] of own(v)) {
      if (k === 'name') {
        if (typeof val === 'string' && val.trim()) name = val.trim();
        else {
          this.error([...path, k], `must be a non-empty text, not ${describeValue(val)}`);
          ok = false;
        }
      } else if (k === 'groups') {
        groups = this.groups([...path, k], val);
        ok &&= groups !== undefined;
      } else if (k === 'expect') {
        if (!isObject(val) || !Object.keys(val).length) {
          this.error([...path, k], `must map environment names to what to expect, e.g. { dev: granted, prod: denied }, not ${isObject(val) ? 'an empty object' : describeValue(val)}`);
          ok = false;
          continue;
        }
        for (const [env, e] of own(val)) {
          if (!this.environmentName([...path, k, env], env)) {
            ok = false;
            continue;
          }
          const x = this.environmentExpectation([...path, k, env], env, e);
          if (x) expect.push(x);
          else ok = false;
        }
      } else {
        this.unknownKey(path, k, TEST_FILE_KEYS.case);
        ok = false;
      }
    }
    if (name === undefined && !('name' in v)) {
      this.error(path, 'needs a name (what the case checks, e.g. "ml-dev reaches dev, not prod")');
      ok = false;
    }
    if (!('expect' in v)) {
      this.error(path, 'needs expect: environment → granted, confirm or denied');
      ok = false;
    }
    return ok && name !== undefined && groups !== undefined ? { name, line, groups, expect } : undefined;
  }

  invariants(v: unknown): Invariants {
    const out: Invariants = { prodEnvironments: [], onlyGroupsReach: [] };
    const path = ['invariants'];
    if (!isObject(v)) {
      this.error(path, `must be an object (${TEST_FILE_KEYS.invariants.join(', ')}), not ${describeValue(v)}`);
      return out;
    }
    for (const [k, val] of own(v)) {
      const at = [...path, k];
      const line = this.line(at, true);
      switch (k) {
        case 'prodRequiresConfirm':
        case 'noPolicyProblems':
          if (typeof val !== 'boolean') this.error(at, `must be true or false, not ${describeValue(val)}`);
          else if (val) out[k] = { line };
          break;
        case 'prodEnvironments':
          if (!Array.isArray(val) || val.some((e) => typeof e !== 'string' || !ENVIRONMENT_NAME_PATTERN.test(e))) this.error(at, 'must be a list of environment names');
          else out.prodEnvironments = val as string[];
          break;
        case 'maxTtlSeconds':
          if (typeof val !== 'number' || !Number.isInteger(val) || val < 1) this.error(at, `must be a whole number of seconds, not ${describeValue(val)}`);
          else out.maxTtlSeconds = { value: val, line };
          break;
        case 'onlyGroupsReach':
          if (!isObject(val)) {
            this.error(at, `must map environment names to the only groups that may reach them, e.g. { prod: [ml-prod] }, not ${describeValue(val)}`);
            break;
          }
          for (const [env, groups] of own(val)) {
            if (!this.environmentName([...at, env], env)) continue;
            const g = this.groups([...at, env], groups);
            if (g) out.onlyGroupsReach.push({ environment: env, groups: g, line: this.line([...at, env], true) });
          }
          break;
        default:
          this.unknownKey(path, k, TEST_FILE_KEYS.invariants);
      }
    }
    return out;
  }
}

export interface ParsedTestFile {
  /** Undefined when the text is not YAML or not a test file at all. */
  file?: AccessTestFile;
  errors: TestFileError[];
}

/**
 * Reads an access test file (YAML; JSON is YAML too) and checks it against the same rules as
 * schemas/access-tests.schema.json, with the line of every problem. Cases with problems are
 * left out; the others still run.
 */
export function parseAccessTests(text: string, filename = ACCESS_TESTS_PATH, registry: TargetRegistry = BUILTIN_TARGETS): ParsedTestFile {
  let parsed;
  try {
    parsed = parseYamlWithPositions(text, filename);
  } catch (e) {
    if (e instanceof YamlSyntaxError) return { errors: [{ line: e.line, column: e.column, path: '(syntax)', message: `is not valid YAML: ${e.message}` }] };
    throw e;
  }
  const v = new Validator(parsed.root, registry);
  const root = parsed.value;
  if (root === null || root === undefined) return { errors: [{ line: 1, column: 1, path: '(top level)', message: 'is empty: write cases and/or invariants (see schemas/access-tests.schema.json)' }] };
  if (!isObject(root)) {
    v.error([], `must be a mapping with cases and/or invariants, not ${root === undefined ? 'an empty document' : describeValue(root)}`);
    return { errors: v.errors };
  }
  const file: AccessTestFile = { cases: [], invariants: { prodEnvironments: [], onlyGroupsReach: [] } };
  for (const [k, val] of own(root)) {
    if (k === '$schema') continue;
    if (k === 'version') {
      if (val !== 1) v.error(['version'], `must be 1 (the only version of this format), not ${describeValue(val)}`);
    } else if (k === 'invariants') file.invariants = v.invariants(val);
    else if (k === 'cases') {
      if (!Array.isArray(val)) v.error(['cases'], `must be a list of test cases, not ${describeValue(val)}`);
      else
        val.forEach((c, i) => {
          const tc = v.testCase(i, c);
          if (tc) file.cases.push(tc);
        });
    } else v.unknownKey([], k, TEST_FILE_KEYS['']);
  }
  if (!('cases' in root) && !('invariants' in root)) v.error([], 'has neither cases nor invariants: nothing to test');
  const names = new Map<string, number>();
  for (const c of file.cases) {
    const first = names.get(c.name);
    if (first !== undefined) v.errors.push({ line: c.line, column: 1, path: 'cases', message: `two cases are named "${c.name}" (the first on line ${first}); names identify cases in reports` });
    else names.set(c.name, c.line);
  }
  v.errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { file, errors: v.errors };
}

/** Whether an environment counts as production for prodRequiresConfirm. */
export function isProdEnvironment(name: string, invariants: Pick<Invariants, 'prodEnvironments'>): boolean {
  return isProdLikeName(name) || invariants.prodEnvironments.includes(name);
}
