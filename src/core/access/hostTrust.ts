import { settingPath, type CredentialTarget, type Environment } from '../policy/Environment';
import type { TargetRegistry } from '../targets/TargetRegistry';

/**
 * Host trust: before the first token goes to a host, the user says once (per user) that the
 * host may have it. A workspace file (`.vscode/settings.json`, `databricks.yml`) can name a
 * Databricks workspace or a Google / AWS endpoint, and whatever it names receives bearer
 * tokens; a host the user never chose must not get one silently.
 *
 * The rules, in order (the first that applies decides):
 * 1. a value the settings leave at its default (the published Google and AWS endpoints) is
 *    trusted: the extension itself names it;
 * 2. a host that the user's own User settings name anywhere in `mlspanner.environments` is
 *    trusted: the user typed it on their own machine (the sandbox demo and the end-to-end tests
 *    configure everything there, so they never see the question);
 * 3. otherwise the user's stored answer decides: trusted, or rejected (denied with the reason);
 * 4. otherwise the host is unknown: a user action asks once (Trust Host / Don't Trust), and an
 *    agent's tool call is refused (only the user can approve a host, in the editor).
 */

/** Where a host came from, as the prompt and Explain Access say it. */
export type HostNamedBy = 'default' | 'settings' | 'bundle' | 'target';

/** One host a credential of an environment sends a token to, and who named it. */
export interface HostUse {
  /** scheme://host[:port]: what is trusted (a path on the same origin reaches the same server). */
  origin: string;
  environment: string;
  target: CredentialTarget;
  /** The setting inside the target's section, e.g. "host", "stsEndpoint"; '' when computed. */
  field: string;
  namedBy: HostNamedBy;
  /** Readable provenance: "databricks.yml (target staging)", "mlspanner.environments.dev.databricks.host". */
  source: string;
}

export type HostTrustState = 'builtIn' | 'userSettings' | 'trusted' | 'rejected' | 'unknown';

/** A user's remembered answer for one host. */
export interface HostAnswer {
  state: 'trusted' | 'rejected';
  /** ISO 8601 time of the answer. */
  at: string;
  /** Where the host was first seen, for the doctor: the environment, target and source. */
  environment: string;
  target: CredentialTarget;
  source: string;
}

/**
 * The per-user answers, persisted across reloads. The VS Code shell implements it with
 * `context.globalState` (src/vscode/common/HostTrustStore.ts); tests with a Map.
 */
export interface HostTrustStore {
  /** Origin → answer, for one user (issuer|subject). */
  answers(user: string): Readonly<Record<string, HostAnswer>>;
  /** Stores an answer; resolves once it is kept. Reporting a failed write is the store's job. */
  record(user: string, origin: string, answer: HostAnswer): Promise<void>;
  /** Forgets an answer (the host asks again at its next use). */
  forget(user: string, origin: string): Promise<void>;
}

export interface HostTrustOptions {
  store: HostTrustStore;
  /** Origins the user's own User-scope settings name (rule 2); read on every decision. */
  userSettingsHosts: () => Iterable<string>;
}

/** A host with its state for the current user. */
export interface HostStatus extends HostUse {
  state: HostTrustState;
  answeredAt?: string;
}

/** The origin of an endpoint URL, or undefined for a value that is not a URL. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every host `targets` of `env` send a token to (the IdP token for an exchange, or the issued
 * credential), with the setting that named each. Fields of kind url / origin are read with
 * their provenance; any other endpoint a target reports is attributed to the target itself.
 */
export function hostsOf(env: Environment, targets: readonly CredentialTarget[], registry: TargetRegistry): HostUse[] {
  const out: HostUse[] = [];
  const seen = new Set<string>();
  const add = (h: HostUse) => {
    const key = `${h.target}\u0000${h.origin}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(h);
  };
  for (const target of targets) {
    const spec = registry.get(target);
    const settings = spec ? env.sections[spec.section] : undefined;
    if (!spec || !settings) continue;
    const fromFields = new Set<string>();
    for (const [field, fs] of Object.entries(spec.fields)) {
      if (fs.kind !== 'url' && fs.kind !== 'origin') continue;
      const value = settings[field];
      const origin = typeof value === 'string' ? originOf(value) : undefined;
      if (!origin) continue;
      fromFields.add(origin);
      const o = env.origins[`${spec.section}.${field}`];
      const base = { origin, environment: env.name, target, field };
      if (o?.kind === 'default') add({ ...base, namedBy: 'default', source: 'the built-in default' });
      else if (o?.kind === 'bundle') add({ ...base, namedBy: 'bundle', source: `${o.source} (target ${env.name})` });
      else if (o?.kind === 'inherited') add({ ...base, namedBy: 'settings', source: settingPath(o.from, spec.section, field) });
      else add({ ...base, namedBy: 'settings', source: settingPath(env.name, spec.section, field) });
    }
    for (const url of spec.endpoints(settings)) {
      const origin = originOf(url);
      if (origin && !fromFields.has(origin)) add({ origin, environment: env.name, target, field: '', namedBy: 'target', source: `the ${spec.service} settings of ${env.name}` });
    }
  }
  return out;
}

/** The state of one host for a user, by the rules at the top of this file. */
export function hostState(h: HostUse, userHosts: ReadonlySet<string>, answers: Readonly<Record<string, HostAnswer>>): { state: HostTrustState; answeredAt?: string } {
  if (h.namedBy === 'default') return { state: 'builtIn' };
  if (userHosts.has(h.origin)) return { state: 'userSettings' };
  const a = Object.prototype.hasOwnProperty.call(answers, h.origin) ? answers[h.origin] : undefined;
  if (a) return { state: a.state, answeredAt: a.at };
  return { state: 'unknown' };
}

/** The origins of every http(s) string anywhere in a settings value (the User-scope environments). */
export function originsIn(value: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > 8) return out;
  if (typeof value === 'string') {
    const o = /^https?:\/\//i.test(value.trim()) ? originOf(value.trim()) : undefined;
    if (o) out.add(o);
  } else if (Array.isArray(value)) for (const v of value) originsIn(v, out, depth + 1);
  else if (value && typeof value === 'object') for (const k of Object.keys(value)) originsIn((value as Record<string, unknown>)[k], out, depth + 1);
  return out;
}

/** "databricks.yml (target staging)" → "named by databricks.yml (target staging)". */
export function describeSource(h: Pick<HostUse, 'namedBy' | 'source'>): string {
  switch (h.namedBy) {
    case 'bundle':
      return `named by ${h.source}`;
    case 'settings':
      return `named by the setting ${h.source}, which is not in your User settings`;
    case 'target':
      return `used by ${h.source}`;
    default:
      return 'a built-in default';
  }
}

const STATE_TEXT: Record<HostTrustState, string> = {
  builtIn: 'trusted (built-in endpoint)',
  userSettings: 'trusted (named in your User settings)',
  trusted: 'trusted (you approved it)',
  rejected: 'not trusted (you declined it)',
  unknown: 'not approved yet (asks before the first token)',
};

export function describeState(s: Pick<HostStatus, 'state' | 'answeredAt'>): string {
  const text = STATE_TEXT[s.state];
  return s.answeredAt ? `${text.replace(/\)$/, '')} on ${s.answeredAt.slice(0, 10)})` : text;
}

/** Doctor lines: one per host, warning for rejected and not yet approved ones. */
export function hostTrustChecks(hosts: readonly HostStatus[]): { area: string; status: 'ok' | 'warn' | 'skip'; message: string; action?: string }[] {
  const byOrigin = new Map<string, HostStatus[]>();
  for (const h of hosts) byOrigin.set(h.origin, [...(byOrigin.get(h.origin) ?? []), h]);
  if (!byOrigin.size) return [{ area: 'Hosts', status: 'skip', message: 'Not signed in, or no environment sends tokens anywhere: hosts are not listed.', action: 'Sign in to see the hosts your environments send tokens to, and whether you trust them.' }];
  return [...byOrigin].map(([origin, uses]) => {
    const worst = uses.find((u) => u.state === 'rejected') ?? uses.find((u) => u.state === 'unknown') ?? uses[0];
    const where = [...new Set(uses.map((u) => `${u.environment}/${u.target}`))].join(', ');
    const named = worst.state === 'builtIn' || worst.state === 'userSettings' ? '' : `; ${describeSource(worst)}`;
    const message = `${origin}: ${describeState(worst)}, for ${where}${named}.`;
    if (worst.state === 'rejected') return { area: 'Hosts', status: 'warn', message, action: 'Tokens are not sent there; its environments are denied. Forget the answer to be asked again.' };
    if (worst.state === 'unknown') return { area: 'Hosts', status: 'warn', message, action: 'The first use of these environments asks you to trust it.' };
    return { area: 'Hosts', status: 'ok', message };
  });
}
