import type { AccessEventSink } from '../audit/AccessLog';
import type { IdentitySession, IdentitySource } from '../auth/IdentitySession';
import { CredentialBroker, type AutoRefreshOptions, type BrokerTimers, type CredentialInfo } from '../credentials/CredentialBroker';
import type { Credential, HttpFactory } from '../credentials/Credential';
import { Remedies, UserFacingError } from '../errors';
import { credentialTokenSource, type TokenSource } from '../http/AuthorizedClient';
import type { Disposable } from '../events';
import type { AccessDecision } from '../policy/decideAccess';
import { policyDecision } from './policyVerdict';
import { formatProblem, settingPath, type CredentialTarget, type Environment, type EnvironmentResolution } from '../policy/Environment';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { actorOf, userKey } from './userKey';
import { describeSource, hostsOf, hostState, type HostStatus, type HostTrustOptions, type HostUse } from './hostTrust';

/** What a credential is used for: the gate decides per purpose, and the access log says it. */
export type Purpose =
  | 'view' // the Environments tree shows (and so issues) an environment's credentials
  | 'refresh' // the user refreshes credentials already in use
  | 'terminal' // Open Terminal with Credentials
  | 'job' // Run Job…, Run Job in Staging…, listing jobs
  | 'notebook' // Run Current Notebook…
  | 'query' // Run ML Spanner Query…
  | 'workspace' // Use Environment for This Workspace (terminals, tasks, debug, notebooks)
  | 'endpoint' // a local credential endpoint serving a process
  | 'secretScope' // moving a hard-coded secret into a Databricks secret scope
  | 'doctor' // the doctor checks a credential
  | 'explain'; // Explain Access: reads the policy, issues nothing

export const PURPOSES: readonly Purpose[] = ['view', 'refresh', 'terminal', 'job', 'notebook', 'query', 'workspace', 'endpoint', 'secretScope', 'doctor', 'explain'];

/** Purposes that issue nothing: they never need a confirmation. */
const ISSUES_NOTHING: ReadonlySet<Purpose> = new Set(['explain']);

export interface AccessRequest {
  environment: string;
  purpose: Purpose;
  /** The targets the use needs; default: every target the environment configures. */
  targets?: readonly CredentialTarget[];
  /** Who acts: the user, or an agent (a language model tool) on the user's behalf. */
  via?: 'user' | 'agent';
  /** The tool name when `via` is 'agent'. */
  tool?: string;
  /** What is about to happen, for the confirmation and the log: "Run nightly-features". */
  action?: string;
}

/**
 * Permission to use an environment's credentials for one purpose, given by the gate (after a
 * confirmation where the environment asks for one). Holders pass it back for every credential.
 */
export interface Grant {
  readonly environment: string;
  readonly purpose: Purpose;
  readonly targets: readonly CredentialTarget[];
  readonly via: 'user' | 'agent';
  readonly tool?: string;
  /** The reason the user gave when confirming (prod-like environments). */
  readonly reason?: string;
  /** issuer|subject of the user it was given to: nobody else can use it. */
  readonly user: string;
}

export type GateDecision =
  | { kind: 'granted'; grant: Grant; env: Environment; decision: AccessDecision }
  /**
   * The user must say yes first: to hosts not approved yet (`hosts`, see hostTrust.ts), and/or to
   * a use of a prod-like environment with a reason. After the hosts are answered, ask again.
   */
  | { kind: 'confirm'; env: Environment; decision: AccessDecision; targets: readonly CredentialTarget[]; why: string; hosts?: readonly HostStatus[] }
  /** `env` and `decision` are there when the environment exists (for views and explain). */
  | { kind: 'denied'; reason: string; error: UserFacingError; env?: Environment; decision?: AccessDecision };

export interface AccessGateOptions {
  identity: IdentitySource;
  /** The current effective environments (re-read on every request, so setting changes apply). */
  environments: () => EnvironmentResolution;
  sink: AccessEventSink;
  registry?: TargetRegistry;
  /** How long a confirmation is remembered per environment and purpose (default 0: never). */
  rememberConfirmationMs?: () => number;
  http?: HttpFactory;
  now?: () => number;
  timers?: BrokerTimers;
  /**
   * Host trust: before the first token goes to a host the user has not approved, the gate asks
   * (see hostTrust.ts). The extension always passes it; without it no host is checked.
   */
  hostTrust?: HostTrustOptions;
}

/** Read-only view of the issued credentials (no token material) and the actions on them. */
export interface CredentialsView {
  peek(): CredentialInfo[];
  nearestExpiry(preferEnvironment?: string): { environment: string; target: CredentialTarget; expiresAt: number } | undefined;
  revoke(environment: string, target?: CredentialTarget, reason?: string): number;
  clear(reason?: string): void;
  readonly onDidChange: CredentialBroker['onDidChange'];
}

/**
 * The one place that decides whether a credential may be used: every consumer (tree, refresh,
 * terminal, jobs, notebooks, queries, explain, local endpoints, agent tools) asks it, and it
 * writes every denial and every confirmation to the access log. It owns the credential broker:
 * nothing else can obtain a credential.
 */
export class AccessGate implements Disposable {
  private readonly broker: CredentialBroker;
  private readonly registry: TargetRegistry;
  private readonly now: () => number;
  /** user|environment|purpose → the remembered confirmation. */
  private readonly remembered = new Map<string, { until: number; reason: string }>();
  /** The hosts of an effective environment, per set of targets (environments are immutable). */
  private readonly hostCache = new WeakMap<Environment, Map<string, HostUse[]>>();

  constructor(private readonly options: AccessGateOptions) {
    this.registry = options.registry ?? BUILTIN_TARGETS;
    this.now = options.now ?? Date.now;
    this.broker = new CredentialBroker({
      identity: options.identity,
      registry: this.registry,
      sink: options.sink,
      http: options.http,
      now: options.now,
      timers: options.timers,
      reauthorize: (environment, target) => this.reauthorize(environment, target),
    });
  }

  get targets(): TargetRegistry {
    return this.registry;
  }

  get credentials(): CredentialsView {
    return this.broker;
  }

  /** Keeps credentials in use renewed (each renewal re-checks the user's groups). */
  startAutoRefresh(options?: AutoRefreshOptions): Disposable {
    return this.broker.startAutoRefresh(options);
  }

  /** The effective definition of an environment (no decision: for rendering what a grant covers). */
  environment(name: string): Environment | undefined {
    const envs = this.options.environments().environments;
    return Object.prototype.hasOwnProperty.call(envs, name) ? envs[name] : undefined;
  }

  /** A token source for the authorized HTTP client: bearer tokens of `target` under the grant. */
  tokenSource(grant: Grant, target: CredentialTarget): TokenSource {
    return credentialTokenSource((forceRefresh) => this.credential(grant, target, { forceRefresh }), { environment: grant.environment, now: this.now });
  }

  /**
   * The decision for a request, with no side effect: views and pickers render it. A remembered
   * confirmation counts as given.
   */
  evaluate(req: AccessRequest): GateDecision {
    const env = this.environment(req.environment);
    if (!env) {
      const error = unknownEnvironment(req.environment, this.options.environments());
      return { kind: 'denied', reason: error.message, error };
    }
    const session = this.options.identity.current();
    const what = this.describeTargets(req.targets);
    let decision = policyDecision(env, session?.groups ?? [], this.registry);
    const denied = (error: UserFacingError): GateDecision => ({ kind: 'denied', reason: error.message, error, env, decision });
    if (!session)
      return denied(new UserFacingError('auth', `Cannot use ${what} in "${env.name}": you are not signed in.`, undefined, undefined, { remedies: [Remedies.signIn] }));
    const wanted = req.targets ?? this.registry.ids().filter((t) => decision.targets[t]?.configured);
    for (const t of wanted) if (!this.registry.get(t)) return denied(new UserFacingError('config', `"${t}" is not a known kind of credential (known: ${this.registry.ids().join(', ')}).`));
    if (!decision.granted)
      return denied(
        new UserFacingError('denied', `Access to ${what} in "${env.name}" denied: ${decision.reason}.`, 'Ask your administrator for one of those groups, then sign in again so the new groups reach the extension.', undefined, {
          remedies: [Remedies.explainAccess(env.name)],
        }),
      );
    if (!ISSUES_NOTHING.has(req.purpose)) {
      if (!wanted.length)
        return denied(new UserFacingError('config', `"${env.name}" has no credentials configured.`, `Add ${this.registry.all().map((t) => t.section).join(', ')} to ${settingPath(env.name)}.`, undefined, { remedies: [Remedies.openSettings(settingPath(env.name))] }));
      const unconfigured = wanted.filter((t) => !decision.targets[t].granted);
      if (unconfigured.length)
        return denied(
          new UserFacingError('config', `No ${this.describeTargets(unconfigured)} in "${env.name}": ${decision.targets[unconfigured[0]].reason}.`, undefined, undefined, {
            remedies: [Remedies.openSettings(settingPath(env.name))],
          }),
        );
    }
    const base = { environment: env.name, purpose: req.purpose, targets: wanted, via: req.via ?? 'user', tool: req.tool, user: userKey(session) } as const;
    // Host trust (hostTrust.ts): the decision says it for Explain Access; uses wait for the user.
    const hosts = this.hostStatuses(env, wanted, base.user, true);
    if (hosts.length) decision = withHostReasons(decision, hosts);
    if (hosts.length && !ISSUES_NOTHING.has(req.purpose)) {
      const rejected = hosts.find((h) => h.state === 'rejected');
      if (rejected) return denied(hostRejectedError(rejected));
      if (base.via === 'agent') return denied(hostNeedsUserError(hosts[0], true));
      return { kind: 'confirm', env, decision, targets: wanted, hosts, why: hostsWhy(env.name, hosts, this.registry) };
    }
    if (decision.confirm && !ISSUES_NOTHING.has(req.purpose)) {
      const kept = this.remembered.get(this.rememberKey(base.user, env.name, req.purpose));
      if (kept && kept.until > this.now()) return { kind: 'granted', grant: { ...base, reason: kept.reason }, env, decision };
      return { kind: 'confirm', env, decision, targets: wanted, why: `${env.name} is a production-like environment: every use is confirmed with a reason, which goes into the access log.` };
    }
    return { kind: 'granted', grant: base, env, decision };
  }

  /** Like evaluate(), and a denial is written to the access log. */
  request(req: AccessRequest): GateDecision {
    const d = this.evaluate(req);
    if (d.kind === 'denied') this.deny(req, d);
    return d;
  }

  /**
   * The user confirmed a use of a `confirm` environment with a reason: one access-log entry, and
   * a grant for that purpose (remembered for the configured window, by default not at all).
   */
  confirm(req: AccessRequest, reason: string): Grant {
    const text = reason.trim();
    if (text.length < 3) throw new UserFacingError('config', 'A reason of at least 3 characters is required to use a production-like environment.');
    const d = this.openHostsDenied(req, this.evaluate(req));
    if (d.kind === 'denied') throw this.deny(req, d);
    const session = this.options.identity.current()!;
    const grant: Grant = { environment: req.environment, purpose: req.purpose, targets: d.kind === 'granted' ? d.grant.targets : d.targets, via: req.via ?? 'user', tool: req.tool, reason: text, user: userKey(session) };
    this.options.sink.record({
      type: 'accessConfirmed',
      outcome: 'success',
      actor: actorOf(session),
      environment: req.environment,
      target: grant.targets.join(','),
      purpose: req.purpose,
      reason: text,
      action: req.action,
      via: grant.via,
      tool: req.tool,
    });
    const window = this.options.rememberConfirmationMs?.() ?? 0;
    if (window > 0) this.remembered.set(this.rememberKey(grant.user, req.environment, req.purpose), { until: this.now() + window, reason: text });
    return grant;
  }

  /**
   * A credential under a grant. The grant's user must still be the signed-in one and the policy
   * must still admit them (groups can change at a refresh); else a recorded denial.
   */
  async credential(grant: Grant, target: CredentialTarget, opts: { forceRefresh?: boolean } = {}): Promise<Credential> {
    const req: AccessRequest = { environment: grant.environment, purpose: grant.purpose, targets: [target], via: grant.via, tool: grant.tool };
    if (!grant.targets.includes(target)) throw new UserFacingError('denied', `This use of "${grant.environment}" was granted for ${this.describeTargets(grant.targets)}, not ${this.describeTargets([target])}.`);
    // The last check before a token goes out: a host nobody approved gets nothing.
    const d = this.openHostsDenied(req, this.evaluate(req));
    if (d.kind === 'denied') throw this.deny(req, d);
    const session = this.options.identity.current()!;
    if (userKey(session) !== grant.user) throw new UserFacingError('auth', 'The signed-in account changed: this action was allowed for another account.', undefined, undefined, { remedies: [Remedies.retry('mlspanner.refreshCredentials')] });
    return this.broker.get(d.env, target, session, opts);
  }

  /** For the broker's background renewals: the current environment and session, or a throw. */
  private reauthorize(environment: string, target: CredentialTarget): { env: Environment; session: IdentitySession } {
    const req: AccessRequest = { environment, purpose: 'refresh', targets: [target] };
    const d = this.openHostsDenied(req, this.evaluate(req));
    if (d.kind === 'denied') throw this.deny(req, d);
    // Renewing a credential already issued (after any confirmation) is part of the same use.
    return { env: d.env, session: this.options.identity.current()! };
  }

  /**
   * The user's answer for hosts a decision asked about (`confirm` with `hosts`): one
   * `hostTrusted` or `hostRejected` access-log entry per host, remembered per user across
   * reloads. Only the user answers, in the editor: an agent's request is refused.
   */
  async answerHosts(req: AccessRequest, hosts: readonly Pick<HostUse, 'origin'>[], answer: 'trusted' | 'rejected'): Promise<void> {
    if ((req.via ?? 'user') === 'agent') throw new UserFacingError('denied', 'Only the user can approve a host, in the editor; an agent cannot.');
    const trust = this.options.hostTrust;
    const env = this.environment(req.environment);
    const session = this.options.identity.current();
    if (!trust || !env) return;
    if (!session) throw new UserFacingError('auth', 'Sign in before answering for a host.', undefined, undefined, { remedies: [Remedies.signIn] });
    const user = userKey(session);
    // Only hosts the environment really uses can be answered for, each once.
    const known = new Map(hostsOf(env, req.targets ?? this.registry.ids(), this.registry).map((h) => [h.origin, h]));
    for (const origin of new Set(hosts.map((h) => h.origin))) {
      const h = known.get(origin);
      if (!h) throw new UserFacingError('config', `"${env.name}" sends no token to ${origin}.`);
      this.options.sink.record({
        type: answer === 'trusted' ? 'hostTrusted' : 'hostRejected',
        outcome: answer === 'trusted' ? 'success' : 'denied',
        actor: actorOf(session),
        environment: env.name,
        target: h.target,
        resource: origin,
        detail: describeSource(h),
        purpose: req.purpose,
        action: req.action,
        via: 'user',
      });
      await trust.store.record(user, origin, { state: answer, at: new Date(this.now()).toISOString(), environment: env.name, target: h.target, source: h.source });
    }
  }

  /** Forgets the signed-in user's answer for a host: its next use asks again. */
  async forgetHost(origin: string): Promise<void> {
    const session = this.options.identity.current();
    if (session && this.options.hostTrust) await this.options.hostTrust.store.forget(userKey(session), origin);
  }

  /**
   * Every host the environments send tokens to, with its state for the signed-in user (for the
   * doctor and Manage Trusted Hosts). Empty when signed out (answers are per user) or without
   * host trust.
   */
  hostReport(): HostStatus[] {
    const session = this.options.identity.current();
    if (!session) return [];
    const user = userKey(session);
    return Object.values(this.options.environments().environments).flatMap((env) =>
      this.hostStatuses(
        env,
        this.registry.all().filter((t) => env.sections[t.section]).map((t) => t.id),
        user,
      ),
    );
  }

  /** The hosts `targets` of `env` send tokens to, with their state; `openOnly`: rejected and unknown ones. */
  private hostStatuses(env: Environment, targets: readonly CredentialTarget[], user: string | undefined, openOnly = false): HostStatus[] {
    const trust = this.options.hostTrust;
    if (!trust) return [];
    const named = trust.userSettingsHosts();
    const userHosts = named instanceof Set ? (named as ReadonlySet<string>) : new Set(named);
    const answers = user ? trust.store.answers(user) : {};
    let perTargets = this.hostCache.get(env);
    if (!perTargets) this.hostCache.set(env, (perTargets = new Map()));
    const key = targets.join('\u0000');
    let hosts = perTargets.get(key);
    if (!hosts) perTargets.set(key, (hosts = hostsOf(env, targets, this.registry)));
    const out: HostStatus[] = [];
    for (const h of hosts) {
      const st = hostState(h, userHosts, answers);
      if (!openOnly || st.state === 'rejected' || st.state === 'unknown') out.push({ ...h, ...st });
    }
    return out;
  }

  /** A decision that still waits for hosts to be answered is a denial where a token would go out. */
  private openHostsDenied(req: AccessRequest, d: GateDecision): GateDecision {
    if (d.kind !== 'confirm' || !d.hosts?.length) return d;
    const error = hostNeedsUserError(d.hosts[0]);
    return { kind: 'denied', reason: error.message, error, env: d.env, decision: d.decision };
  }

  /** Forget remembered confirmations (sign-out, account change). */
  forgetConfirmations(): void {
    this.remembered.clear();
  }

  dispose(): void {
    this.broker.dispose();
    this.remembered.clear();
  }

  /** Records a denial; credentials cached from before a group change are not handed out again. */
  private deny(req: AccessRequest, d: Extract<GateDecision, { kind: 'denied' }>): UserFacingError {
    this.recordDenial(req, d.reason);
    if (d.decision && !d.decision.granted) this.broker.revoke(req.environment, undefined, `access denied: ${d.decision.reason}`);
    else if (d.error instanceof HostTrustError) this.broker.revoke(req.environment, d.error.host.target, `host not trusted: ${d.error.host.origin}`);
    return d.error;
  }

  private recordDenial(req: AccessRequest, reason: string): void {
    const session = this.options.identity.current();
    this.options.sink.record({
      type: 'accessDenied',
      outcome: 'denied',
      actor: session ? actorOf(session) : undefined,
      environment: req.environment,
      target: req.targets?.join(','),
      purpose: req.purpose,
      reason,
      action: req.action,
      via: req.via ?? 'user',
      tool: req.tool,
    });
  }

  private rememberKey(user: string, environment: string, purpose: Purpose): string {
    return JSON.stringify([user, environment, purpose]);
  }

  private describeTargets(targets: readonly CredentialTarget[] | undefined): string {
    if (!targets?.length) return 'credentials';
    return targets.map((t) => this.registry.get(t)?.label ?? t).join(', ');
  }
}

function unknownEnvironment(name: string, resolution: EnvironmentResolution): UserFacingError {
  const problems = resolution.problems.filter((p) => p.environment === name);
  if (problems.length)
    return new UserFacingError('config', `Environment "${name}" is not usable: ${problems.map(formatProblem).join('; ')}`, 'Fix these settings (Explain Access shows the effective definitions).', undefined, {
      remedies: [Remedies.openSettings(settingPath(name))],
    });
  const known = Object.keys(resolution.environments);
  return new UserFacingError('config', `There is no environment named "${name}"${known.length ? ` (known: ${known.join(', ')})` : ''}.`, `Add it under ${settingPath(name)}.`, undefined, {
    remedies: [Remedies.openSettings('mlspanner.environments')],
  });
}

/** A denial because of a host: carries the host so a declined one drops its credentials. */
class HostTrustError extends UserFacingError {
  constructor(
    readonly host: HostStatus,
    message: string,
    action: string,
    remedies: UserFacingError['remedies'],
  ) {
    super('denied', message, action, undefined, { remedies });
  }
}

function hostRejectedError(h: HostStatus): UserFacingError {
  return new HostTrustError(
    h,
    `Tokens of "${h.environment}" are not sent to ${h.origin}: you declined to trust this host (${describeSource(h)}).`,
    'If it is your workspace after all, run ML Spanner: Manage Trusted Hosts… to forget the answer, then use the environment again.',
    [{ title: 'Manage Trusted Hosts…', command: 'mlspanner.manageTrustedHosts' }, Remedies.explainAccess(h.environment)],
  );
}

function hostNeedsUserError(h: HostStatus, agent = false): UserFacingError {
  const approve = `use "${h.environment}" once yourself in the editor (for example Issue… in the ML Spanner Environments view), which asks whether to trust it`;
  return new HostTrustError(
    h,
    agent
      ? // The agent sees only the message: it says what the user must do, and that an agent cannot.
        `No token of "${h.environment}" goes to ${h.origin} (${describeSource(h)}) until the user approves that host, and only the user can, in the editor: ask them to ${approve}.`
      : `No token of "${h.environment}" goes to ${h.origin} before you approve that host (${describeSource(h)}).`,
    `Approve it in the editor: ${approve}.`,
    [Remedies.explainAccess(h.environment)],
  );
}

function hostsWhy(environment: string, hosts: readonly HostStatus[], registry: TargetRegistry): string {
  const lines = hosts.map((h) => `${h.origin} (${registry.get(h.target)?.label ?? h.target}; ${describeSource(h)})`);
  return `Tokens of ${environment} would go to ${hosts.length === 1 ? 'a host' : 'hosts'} you have not approved yet: ${lines.join('; ')}. Trust only hosts you know to be your own.`;
}

/** The decision with each target's reason saying what its hosts wait for (or were refused). */
function withHostReasons(decision: AccessDecision, hosts: readonly HostStatus[]): AccessDecision {
  const targets = { ...decision.targets };
  for (const h of hosts) {
    const t = targets[h.target];
    if (!t) continue;
    targets[h.target] =
      h.state === 'rejected'
        ? { ...t, granted: false, reason: `you declined to trust ${h.origin} (${describeSource(h)}), so no token is sent there` }
        : { ...t, reason: `${t.reason}; the first use asks you to trust ${h.origin} (${describeSource(h)})` };
  }
  return { ...decision, targets };
}
