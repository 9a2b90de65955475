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
  | { kind: 'confirm'; env: Environment; decision: AccessDecision; targets: readonly CredentialTarget[]; why: string }
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
    const decision = policyDecision(env, session?.groups ?? [], this.registry);
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
    const d = this.evaluate(req);
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
    const d = this.evaluate(req);
    if (d.kind === 'denied') throw this.deny(req, d);
    const session = this.options.identity.current()!;
    if (userKey(session) !== grant.user) throw new UserFacingError('auth', 'The signed-in account changed: this action was allowed for another account.', undefined, undefined, { remedies: [Remedies.retry('mlspanner.refreshCredentials')] });
    return this.broker.get(d.env, target, session, opts);
  }

  /** For the broker's background renewals: the current environment and session, or a throw. */
  private reauthorize(environment: string, target: CredentialTarget): { env: Environment; session: IdentitySession } {
    const d = this.request({ environment, purpose: 'refresh', targets: [target] });
    if (d.kind === 'denied') throw d.error;
    // Renewing a credential already issued (after any confirmation) is part of the same use.
    return { env: d.env, session: this.options.identity.current()! };
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
