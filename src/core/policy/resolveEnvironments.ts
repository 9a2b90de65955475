import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import {
  DEFAULT_MAX_TTL_SECONDS,
  ENVIRONMENTS_SETTING,
  isProdLikeName,
  settingPath,
  type AwsSettings,
  type DatabricksSettings,
  type Environment,
  type EnvironmentProblem,
  type EnvironmentResolution,
  type SpannerSettings,
  type ValueOrigin,
} from './Environment';
import type { BundleTargets } from './parseBundleTargets';
import { checkField, describeValue, FIELD_PATTERNS, type FieldSpec, type Leaf } from './settingFields';

export { FIELD_PATTERNS } from './settingFields';

export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const TOP = new Map<string, FieldSpec>([
  ['extends', { kind: 'string', pattern: ENVIRONMENT_NAME_PATTERN, hint: 'the name of another environment' }],
  ['requiredGroups', { kind: 'strings', pattern: FIELD_PATTERNS.group, hint: 'group names without surrounding spaces', minItems: 0 }],
  ['confirm', { kind: 'boolean' }],
  ['maxTtlSeconds', { kind: 'integer', min: 300, max: 43_200 }],
]);

/** Every property the validator knows, by section ('' = top level); the schema test compares. */
export function knownProperties(registry: TargetRegistry = BUILTIN_TARGETS): Record<string, string[]> {
  const out: Record<string, string[]> = { '': [...TOP.keys(), ...registry.all().map((t) => t.section)] };
  for (const t of registry.all()) out[t.section] = Object.keys(t.fields);
  return out;
}
export const KNOWN_PROPERTIES: Record<string, string[]> = knownProperties();

const describe = describeValue;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own enumerable entries only: names such as "constructor" or "__proto__" are plain keys here. */
function ownEntries(o: Record<string, unknown>): [string, unknown][] {
  return Object.keys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)?.value]);
}

/** Levenshtein distance, for "did you mean" (short strings only). */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function unknownKey(key: string, known: string[]): string {
  const k0 = key.toLowerCase();
  const near = known.find((k) => k.toLowerCase() === k0 || k.toLowerCase().startsWith(k0.slice(0, 5)) || distance(k.toLowerCase(), k0) <= 2);
  return `is not a known setting${near ? ` (did you mean "${near}"?)` : ''}; expected one of ${known.join(', ')}`;
}

/** An environment's own layer, flattened: dotted leaf path → value. Objects merge by construction. */
type Layer = Map<string, Leaf>;

/** Validates one raw definition; every problem is reported with its full setting path. */
function validateDefinition(name: string, raw: unknown, registry: TargetRegistry, problems: EnvironmentProblem[]): { layer: Layer; parent?: string } {
  const layer: Layer = new Map();
  const at = (...p: string[]) => settingPath(name, ...p);
  if (!isPlainObject(raw)) {
    problems.push({ path: at(), message: `must be an object (an environment definition), not ${describe(raw)}`, environment: name });
    return { layer };
  }
  let parent: string | undefined;
  for (const [key, value] of ownEntries(raw)) {
    const target = registry.forSection(key);
    if (target) {
      if (!isPlainObject(value)) {
        problems.push({ path: at(key), message: `must be an object, not ${describe(value)}`, environment: name });
        continue;
      }
      const fields = new Map(Object.entries(target.fields));
      for (const [sub, subValue] of ownEntries(value)) {
        const spec = fields.get(sub);
        if (!spec) {
          problems.push({ path: at(key, sub), message: unknownKey(sub, [...fields.keys()]), environment: name });
          continue;
        }
        const r = checkField(spec, subValue);
        if ('error' in r) problems.push({ path: at(key, sub), message: r.error, environment: name });
        else layer.set(`${key}.${sub}`, r.value);
      }
      continue;
    }
    const spec = TOP.get(key);
    if (!spec) {
      problems.push({ path: at(key), message: unknownKey(key, knownProperties(registry)['']), environment: name });
      continue;
    }
    const r = checkField(spec, value);
    if ('error' in r) problems.push({ path: at(key), message: r.error, environment: name });
    else if (key === 'extends') parent = r.value as string;
    else layer.set(key, r.value);
  }
  return { layer, parent };
}

interface Layered {
  values: Layer;
  origins: Map<string, ValueOrigin>;
}

interface Own {
  layered: Layered;
  parent?: string;
  broken: boolean;
  definedBy: 'settings' | 'bundle';
}

/**
 * Turns the raw `mlspanner.environments` value (and optionally a bundle's targets) into
 * effective environments: validated against the target registry, `extends` applied (objects
 * merge; arrays and scalars replace), bundle hosts filled in only where the settings (own or
 * inherited) leave them open, defaults added, and the origin of every value recorded. A broken
 * environment is reported and left out; the others still work.
 */
export function resolveEnvironments(settings: unknown, bundle?: BundleTargets, registry: TargetRegistry = BUILTIN_TARGETS): EnvironmentResolution {
  const problems: EnvironmentProblem[] = [...(bundle?.problems ?? [])];
  const own = new Map<string, Own>();

  let raw: Record<string, unknown> = {};
  if (isPlainObject(settings)) raw = settings;
  else if (settings !== undefined && settings !== null)
    problems.push({ path: ENVIRONMENTS_SETTING, message: `must be an object mapping environment names to definitions, not ${describe(settings)}` });
  const rawDefs = new Map(ownEntries(raw));
  const bundleTargets = new Map(bundle ? Object.keys(bundle.targets).map((k) => [k, Object.getOwnPropertyDescriptor(bundle.targets, k)?.value as { host: string }]) : []);

  const names = new Set<string>([...rawDefs.keys(), ...bundleTargets.keys()]);
  for (const name of names) {
    if (!ENVIRONMENT_NAME_PATTERN.test(name)) {
      problems.push({
        path: settingPath(name),
        message: 'environment names must start with a letter or digit and use only letters, digits, "-" and "_" (at most 63)',
        environment: name,
      });
      continue;
    }
    const before = problems.length;
    const layered: Layered = { values: new Map(), origins: new Map() };
    let parent: string | undefined;
    if (rawDefs.has(name)) {
      const v = validateDefinition(name, rawDefs.get(name), registry, problems);
      parent = v.parent;
      for (const [k, value] of v.layer) {
        layered.values.set(k, value);
        layered.origins.set(k, { kind: 'own' });
      }
    }
    own.set(name, { layered, parent, broken: problems.length > before, definedBy: rawDefs.has(name) ? 'settings' : 'bundle' });
  }

  // The cycle through `name`, if its `extends` chain comes back to it: ["a", "b", "a"].
  const cycleFrom = (name: string): string[] | undefined => {
    const chain = [name];
    for (let cur = own.get(name)?.parent; cur && own.has(cur); cur = own.get(cur)?.parent) {
      if (cur === name) return [...chain, name];
      if (chain.includes(cur)) return undefined; // a cycle further up, reported by its members
      chain.push(cur);
    }
    return undefined;
  };

  const merged = new Map<string, Layered | undefined>();
  const mergeOf = (name: string): Layered | undefined => {
    if (merged.has(name)) return merged.get(name);
    merged.set(name, undefined); // while resolving: a cycle ends here instead of recursing
    const entry = own.get(name)!;
    let result: Layered | undefined;
    if (entry.broken) result = undefined;
    else if (!entry.parent) result = entry.layered;
    else {
      const p = entry.parent;
      const path = settingPath(name, 'extends');
      const cycle = cycleFrom(name);
      if (cycle) {
        problems.push({ path, message: `inheritance cycle: ${cycle.join(' → ')}; remove one of these "extends"`, environment: name });
      } else if (!own.has(p)) {
        const known = [...own.keys()].filter((n) => n !== name);
        problems.push({ path, message: `unknown environment "${p}" (known: ${known.join(', ') || 'none'})`, environment: name });
      } else {
        const base = mergeOf(p);
        if (!base) problems.push({ path, message: `extends "${p}", which has problems of its own (fix those first)`, environment: name });
        else {
          const values = new Map(base.values);
          const origins = new Map<string, ValueOrigin>();
          for (const [k, o] of base.origins) origins.set(k, o.kind === 'inherited' || o.kind === 'bundle' ? o : { kind: 'inherited', from: p });
          for (const [k, v] of entry.layered.values) {
            values.set(k, v);
            origins.set(k, entry.layered.origins.get(k)!);
          }
          result = { values, origins };
        }
      }
    }
    merged.set(name, result);
    return result;
  };

  const environments: Record<string, Environment> = Object.create(null) as Record<string, Environment>;
  for (const name of own.keys()) {
    const layered = mergeOf(name);
    if (!layered) continue;
    // The bundle lies beneath the settings, own and inherited: it fills only what they leave open.
    const fromBundle = bundleTargets.get(name);
    if (fromBundle && bundle && !layered.values.has('databricks.host')) {
      layered.values.set('databricks.host', fromBundle.host);
      layered.origins.set('databricks.host', { kind: 'bundle', source: bundle.source });
    }
    const env = finish(name, own, layered, registry, problems);
    if (env) environments[name] = env;
  }
  return { environments, problems };
}

function finish(name: string, own: Map<string, Own>, { values, origins }: Layered, registry: TargetRegistry, problems: EnvironmentProblem[]): Environment | undefined {
  const out = new Map(values);
  const from = new Map(origins);
  const def = (key: string, value: Leaf) => {
    if (!out.has(key)) {
      out.set(key, value);
      from.set(key, { kind: 'default' });
    }
  };
  def('requiredGroups', []);
  def('confirm', isProdLikeName(name));
  def('maxTtlSeconds', DEFAULT_MAX_TTL_SECONDS);
  const sectionValues = (section: string) => {
    const m = new Map<string, Leaf>();
    for (const [k, v] of out) if (k.startsWith(section + '.')) m.set(k.slice(section.length + 1), v);
    return m;
  };
  let ok = true;
  const sections: Record<string, Record<string, Leaf>> = {};
  for (const target of registry.all()) {
    const current = sectionValues(target.section);
    if (!current.size) continue;
    for (const [k, v] of Object.entries(target.defaults(current))) def(`${target.section}.${k}`, v);
    for (const key of target.required) {
      if (!out.has(`${target.section}.${key}`)) {
        ok = false;
        problems.push({ path: settingPath(name, target.section, key), message: `is required when "${target.section}" is configured`, environment: name });
      }
    }
    sections[target.section] = Object.fromEntries(sectionValues(target.section));
  }
  if (!ok) return undefined;

  const chain = [name];
  for (let p = own.get(name)?.parent; p && !chain.includes(p); p = own.get(p)?.parent) chain.push(p);
  const get = <T>(k: string) => out.get(k) as T;
  return {
    name,
    chain,
    requiredGroups: get<string[]>('requiredGroups'),
    confirm: get<boolean>('confirm'),
    maxTtlSeconds: get<number>('maxTtlSeconds'),
    sections,
    databricks: sections.databricks as unknown as DatabricksSettings | undefined,
    spanner: sections.spanner as unknown as SpannerSettings | undefined,
    aws: sections.aws as unknown as AwsSettings | undefined,
    definedBy: own.get(name)?.definedBy ?? 'settings',
    origins: Object.fromEntries(from),
  };
}
