import { checkEndpointUrl } from './endpointUrl';
import {
  awsStsEndpointFor,
  DEFAULT_DATABRICKS_SCOPES,
  DEFAULT_ENDPOINTS,
  DEFAULT_MAX_TTL_SECONDS,
  DEFAULT_SUBJECT_TOKEN,
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

type Leaf = string | number | boolean | string[];

/** How one setting is checked. Patterns mirror environments.schema.json. */
type FieldSpec =
  | { kind: 'string'; pattern?: RegExp; hint?: string }
  | { kind: 'url' }
  | { kind: 'origin' }
  | { kind: 'boolean' }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'strings'; pattern: RegExp; hint: string; minItems: number }
  | { kind: 'enum'; values: readonly string[] };

export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const SUBJECT_TOKEN: FieldSpec = { kind: 'enum', values: ['idToken', 'accessToken'] };

export const FIELD_PATTERNS = {
  roleArn: /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/,
  workloadIdentityAudience: /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/global\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/,
  // The address goes into a URL path (…/serviceAccounts/{email}:generateAccessToken).
  serviceAccount: /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$/,
  awsRegion: /^[a-z]{2}(-[a-z]+)+-\d+$/,
  // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
  scope: /^[\x21\x23-\x5b\x5d-\x7e]+$/,
  group: /^\S(.*\S)?$/,
  gcpId: /^[a-z][a-z0-9._:-]*$/,
} as const;

const TOP: Record<string, FieldSpec> = {
  extends: { kind: 'string', pattern: ENVIRONMENT_NAME_PATTERN, hint: 'the name of another environment' },
  requiredGroups: { kind: 'strings', pattern: FIELD_PATTERNS.group, hint: 'group names without surrounding spaces', minItems: 0 },
  confirm: { kind: 'boolean' },
  maxTtlSeconds: { kind: 'integer', min: 300, max: 43_200 },
};

const SECTIONS: Record<'databricks' | 'spanner' | 'aws', Record<string, FieldSpec>> = {
  databricks: {
    host: { kind: 'origin' },
    clientId: { kind: 'string', pattern: /^\S+$/, hint: 'a service principal application id' },
    scopes: { kind: 'strings', pattern: FIELD_PATTERNS.scope, hint: 'OAuth scope tokens such as all-apis', minItems: 1 },
    subjectToken: SUBJECT_TOKEN,
  },
  spanner: {
    project: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Google Cloud project id' },
    instance: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Spanner instance id' },
    database: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Spanner database id' },
    workloadIdentityAudience: {
      kind: 'string',
      pattern: FIELD_PATTERNS.workloadIdentityAudience,
      hint: '//iam.googleapis.com/projects/<NUMBER>/locations/global/workloadIdentityPools/<POOL>/providers/<PROVIDER>',
    },
    serviceAccount: { kind: 'string', pattern: FIELD_PATTERNS.serviceAccount, hint: 'a service account email such as runner@project.iam.gserviceaccount.com' },
    subjectToken: SUBJECT_TOKEN,
    stsEndpoint: { kind: 'url' },
    iamCredentialsEndpoint: { kind: 'url' },
    endpoint: { kind: 'url' },
  },
  aws: {
    roleArn: { kind: 'string', pattern: FIELD_PATTERNS.roleArn, hint: 'arn:aws:iam::<12-digit account>:role/<name>' },
    region: { kind: 'string', pattern: FIELD_PATTERNS.awsRegion, hint: 'an AWS region such as us-east-1' },
    subjectToken: SUBJECT_TOKEN,
    stsEndpoint: { kind: 'url' },
    sessionDurationSeconds: { kind: 'integer', min: 900, max: 43_200 },
  },
};

const REQUIRED: Record<'databricks' | 'spanner' | 'aws', string[]> = {
  databricks: ['host'],
  spanner: ['project', 'instance', 'database', 'workloadIdentityAudience'],
  aws: ['roleArn'],
};

/** Every property the validator knows, by section ('' = top level); the schema test compares. */
export const KNOWN_PROPERTIES: Record<string, string[]> = {
  '': [...Object.keys(TOP), ...Object.keys(SECTIONS)],
  databricks: Object.keys(SECTIONS.databricks),
  spanner: Object.keys(SECTIONS.spanner),
  aws: Object.keys(SECTIONS.aws),
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** Checks one value; returns the normalised leaf or an error message. */
function checkField(spec: FieldSpec, v: unknown): { value: Leaf } | { error: string } {
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string' || v.trim() === '') return { error: `must be a non-empty string${spec.hint ? ` (${spec.hint})` : ''}, not ${describe(v)}` };
      if (spec.pattern && !spec.pattern.test(v)) return { error: `must be ${spec.hint ?? `a string matching ${spec.pattern.source}`}, not ${describe(v)}` };
      return { value: v };
    case 'url':
    case 'origin': {
      const r = checkEndpointUrl(v, { originOnly: spec.kind === 'origin' });
      return 'error' in r ? r : { value: r.url };
    }
    case 'boolean':
      return typeof v === 'boolean' ? { value: v } : { error: `must be true or false, not ${describe(v)}` };
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max)
        return { error: `must be a whole number of seconds from ${spec.min} to ${spec.max}, not ${describe(v)}` };
      return { value: v };
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v)
        ? { value: v }
        : { error: `must be one of ${spec.values.map((x) => `"${x}"`).join(', ')}, not ${describe(v)}` };
    case 'strings': {
      if (!Array.isArray(v)) return { error: `must be an array of strings (${spec.hint}), not ${describe(v)}` };
      if (v.length < spec.minItems) return { error: `must list at least ${spec.minItems} item${spec.minItems > 1 ? 's' : ''}` };
      const bad = v.findIndex((x) => typeof x !== 'string' || !spec.pattern.test(x));
      if (bad >= 0) return { error: `item ${bad} must be ${spec.hint}, not ${describe(v[bad])}` };
      return { value: [...new Set(v as string[])] };
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKey(key: string, known: string[]): string {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || k.toLowerCase().startsWith(key.toLowerCase().slice(0, 5)));
  return `is not a known setting${near ? ` (did you mean "${near}"?)` : ''}; expected one of ${known.join(', ')}`;
}

/** An environment's own layer, flattened: dotted leaf path → value. Objects merge by construction. */
type Layer = Map<string, Leaf>;

/** Validates one raw definition; every problem is reported with its full setting path. */
function validateDefinition(name: string, raw: unknown, problems: EnvironmentProblem[]): { layer: Layer; parent?: string } {
  const layer: Layer = new Map();
  const at = (...p: string[]) => settingPath(name, ...p);
  if (!isPlainObject(raw)) {
    problems.push({ path: at(), message: `must be an object (an environment definition), not ${describe(raw)}`, environment: name });
    return { layer };
  }
  let parent: string | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (key in SECTIONS) {
      const section = key as keyof typeof SECTIONS;
      if (!isPlainObject(value)) {
        problems.push({ path: at(key), message: `must be an object, not ${describe(value)}`, environment: name });
        continue;
      }
      for (const [sub, subValue] of Object.entries(value)) {
        const spec = SECTIONS[section][sub];
        if (!spec) {
          problems.push({ path: at(key, sub), message: unknownKey(sub, Object.keys(SECTIONS[section])), environment: name });
          continue;
        }
        const r = checkField(spec, subValue);
        if ('error' in r) problems.push({ path: at(key, sub), message: r.error, environment: name });
        else layer.set(`${key}.${sub}`, r.value);
      }
      continue;
    }
    const spec = TOP[key];
    if (!spec) {
      problems.push({ path: at(key), message: unknownKey(key, KNOWN_PROPERTIES['']), environment: name });
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

/**
 * Turns the raw `mlspanner.environments` value (and optionally a bundle's targets) into
 * effective environments: validated, `extends` applied (objects merge; arrays and scalars
 * replace), bundle hosts filled in where settings are silent, defaults added, and the origin of
 * every value recorded. A broken environment is reported and left out; the others still work.
 */
export function resolveEnvironments(settings: unknown, bundle?: BundleTargets): EnvironmentResolution {
  const problems: EnvironmentProblem[] = [...(bundle?.problems ?? [])];
  const own = new Map<string, { layered: Layered; parent?: string; broken: boolean }>();

  let raw: Record<string, unknown> = {};
  if (isPlainObject(settings)) raw = settings;
  else if (settings !== undefined && settings !== null)
    problems.push({ path: ENVIRONMENTS_SETTING, message: `must be an object mapping environment names to definitions, not ${describe(settings)}` });

  const names = new Set<string>([...Object.keys(raw), ...Object.keys(bundle?.targets ?? {})]);
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
    // The bundle lies beneath the environment's own settings: explicit settings win.
    const fromBundle = bundle?.targets[name];
    if (fromBundle) {
      layered.values.set('databricks.host', fromBundle.host);
      layered.origins.set('databricks.host', { kind: 'bundle', source: bundle.source });
    }
    let parent: string | undefined;
    if (name in raw) {
      const v = validateDefinition(name, raw[name], problems);
      parent = v.parent;
      for (const [k, value] of v.layer) {
        layered.values.set(k, value);
        layered.origins.set(k, { kind: 'own' });
      }
    }
    own.set(name, { layered, parent, broken: problems.length > before });
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
          for (const [k, o] of base.origins) origins.set(k, o.kind === 'inherited' ? o : { kind: 'inherited', from: p });
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

  const environments: Record<string, Environment> = {};
  for (const name of own.keys()) {
    const layered = mergeOf(name);
    if (!layered) continue;
    const env = finish(name, own, layered, problems);
    if (env) environments[name] = env;
  }
  return { environments, problems };
}

function finish(
  name: string,
  own: Map<string, { parent?: string }>,
  { values, origins }: Layered,
  problems: EnvironmentProblem[],
): Environment | undefined {
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
  const has = (section: string) => [...out.keys()].some((k) => k.startsWith(section + '.'));
  if (has('databricks')) {
    def('databricks.scopes', [...DEFAULT_DATABRICKS_SCOPES]);
    def('databricks.subjectToken', DEFAULT_SUBJECT_TOKEN);
  }
  if (has('spanner')) {
    def('spanner.subjectToken', DEFAULT_SUBJECT_TOKEN);
    def('spanner.stsEndpoint', DEFAULT_ENDPOINTS.googleSts);
    def('spanner.iamCredentialsEndpoint', DEFAULT_ENDPOINTS.iamCredentials);
    def('spanner.endpoint', DEFAULT_ENDPOINTS.spanner);
  }
  if (has('aws')) {
    def('aws.subjectToken', DEFAULT_SUBJECT_TOKEN);
    def('aws.stsEndpoint', awsStsEndpointFor(out.get('aws.region') as string | undefined));
  }
  let ok = true;
  for (const section of ['databricks', 'spanner', 'aws'] as const) {
    if (!has(section)) continue;
    for (const key of REQUIRED[section]) {
      if (!out.has(`${section}.${key}`)) {
        ok = false;
        problems.push({ path: settingPath(name, section, key), message: `is required when "${section}" is configured`, environment: name });
      }
    }
  }
  if (!ok) return undefined;

  const chain = [name];
  for (let p = own.get(name)?.parent; p && !chain.includes(p); p = own.get(p)?.parent) chain.push(p);
  const get = <T>(k: string) => out.get(k) as T;
  const section = <T>(prefix: string): T | undefined => {
    if (!has(prefix)) return undefined;
    const o: Record<string, Leaf> = {};
    for (const [k, v] of out) if (k.startsWith(prefix + '.')) o[k.slice(prefix.length + 1)] = v;
    return o as T;
  };
  return {
    name,
    chain,
    requiredGroups: get<string[]>('requiredGroups'),
    confirm: get<boolean>('confirm'),
    maxTtlSeconds: get<number>('maxTtlSeconds'),
    databricks: section<DatabricksSettings>('databricks'),
    spanner: section<SpannerSettings>('spanner'),
    aws: section<AwsSettings>('aws'),
    origins: Object.fromEntries(from),
  };
}

