import type { AccessEventInput, AccessEventSink } from '../audit/AccessLog';
import type { IdentitySession, IdentitySource, SubjectTokenKind } from '../auth/IdentitySession';
import { errorMessage, UserFacingError } from '../errors';
import { tokenFingerprint } from '../fingerprint';
import { createHttpClient } from '../http/HttpClient';
import { decideAccess } from '../policy/decideAccess';
import { formatProblem, settingPath, type CredentialTarget, type Environment, type EnvironmentResolution } from '../policy/Environment';
import { assumeAwsRole, awsDurationSeconds, roleSessionName } from './assumeAwsRole';
import { Emitter, type Disposable } from '../events';
import { cappedExpiry, credentialState, needsRefresh, refreshMarginMs, type Credential, type CredentialState, type HttpFactory, type IssuedToken } from './Credential';
import { DatabricksDiscovery, exchangeDatabricksToken } from './exchangeDatabricksToken';
import { exchangeGoogleToken } from './exchangeGoogleToken';

/** Timer functions, injectable so a fake clock (@sinonjs/fake-timers createClock) drives them. */
export interface BrokerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CredentialBrokerOptions {
  identity: IdentitySource;
  /** The current effective environments (re-read on every request, so setting changes apply). */
  environments: () => EnvironmentResolution;
  /** Defaults to createHttpClient per service. */
  http?: HttpFactory;
  sink: AccessEventSink;
  now?: () => number;
  timers?: BrokerTimers;
}

/** A cached credential as the tree and status bar see it: no token material. */
export interface CredentialInfo {
  environment: string;
  target: CredentialTarget;
  principal: string;
  state: CredentialState;
  /** Present once a credential was issued. */
  source?: Credential['source'];
  scopes?: string[];
  issuedAt?: number;
  expiresAt?: number;
  fingerprint?: string;
  /** The last failure, when the last attempt failed. */
  error?: string;
  refreshing: boolean;
}

export interface AutoRefreshOptions {
  /** Only credentials requested within this window are kept fresh (default 30 min). */
  idleMs?: number;
  /** Wait after a failed background refresh before trying again (default 30 s). */
  retryMs?: number;
}

interface Entry {
  key: string;
  environment: string;
  target: CredentialTarget;
  principal: string;
  credential?: Credential;
  inflight?: Promise<Credential>;
  error?: string;
  lastUsedAt: number;
  /** Background refresh backoff after a failure. */
  retryAt?: number;
}

/** The minimum validity asked of the IdP tokens before they are exchanged. */
const SUBJECT_MIN_VALIDITY_SECONDS = 120;
const MAX_TIMER_MS = 2 ** 31 - 1;

function targetSection(target: CredentialTarget): 'databricks' | 'spanner' | 'aws' {
  return target === 'google' ? 'spanner' : target;
}

/** What a credential is for, beyond who asks: a change in any of these must not reuse a cached token. */
function targetIdentity(env: Environment, target: CredentialTarget): { principal: string; parts: unknown[] } {
  switch (target) {
    case 'databricks': {
      const d = env.databricks!;
      return { principal: d.host, parts: [d.host, d.clientId ?? null, [...d.scopes].sort(), d.subjectToken] };
    }
    case 'google': {
      const s = env.spanner!;
      return { principal: s.serviceAccount ?? s.workloadIdentityAudience, parts: [s.workloadIdentityAudience, s.serviceAccount ?? null, s.stsEndpoint, s.iamCredentialsEndpoint, s.subjectToken] };
    }
    case 'aws': {
      const a = env.aws!;
      return { principal: a.roleArn, parts: [a.roleArn, a.stsEndpoint, a.subjectToken, awsDurationSeconds(env.maxTtlSeconds, a.sessionDurationSeconds)] };
    }
  }
}

/**
 * Cache key: (environment, issuer, subject, target and everything that decides where the token
 * comes from and what it is for). Another user, another IdP or an edited setting never gets a
 * token cached for the old one.
 */
export function credentialCacheKey(env: Environment, target: CredentialTarget, who: Pick<IdentitySession, 'issuer' | 'subject'>): string {
  return JSON.stringify([env.name, who.issuer, who.subject, target, env.maxTtlSeconds, ...targetIdentity(env, target).parts]);
}

function subjectToken(session: IdentitySession, kind: SubjectTokenKind): string {
  return kind === 'idToken' ? session.idToken : session.accessToken;
}

/**
 * Exchanges the signed-in identity for per-environment cloud credentials, after the policy
 * allows it; caches them in memory, shares concurrent requests, renews them before expiry and
 * records every issue, refresh, denial, failure and revocation (fingerprints only).
 */
export class CredentialBroker implements Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly changes = new Emitter<void>();
  private readonly clients = new Map<string, ReturnType<HttpFactory>>();
  private readonly discovery: DatabricksDiscovery;
  private readonly now: () => number;
  private readonly timers: BrokerTimers;
  private readonly makeClient: HttpFactory;
  private auto?: Required<AutoRefreshOptions>;
  private timer?: unknown;
  private disposed = false;

  /** Fires when a credential is issued, refreshed, fails, is revoked or cleared. */
  readonly onDidChange = this.changes.event;

  constructor(private readonly options: CredentialBrokerOptions) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.makeClient = options.http ?? ((service) => createHttpClient({ service, now: this.now }));
    this.discovery = new DatabricksDiscovery(this.http);
  }

  private readonly http: HttpFactory = (service) => {
    let c = this.clients.get(service);
    if (!c) {
      c = this.makeClient(service);
      this.clients.set(service, c);
    }
    return c;
  };

  /**
   * A credential for `target` in `environment`, from the cache while it has more than its
   * refresh margin left, else freshly exchanged. Rejects with a UserFacingError: 'denied' when
   * the policy says no, 'config' for an unknown or broken environment, 'auth' when signed out.
   */
  async get(environment: string, target: CredentialTarget, opts: { forceRefresh?: boolean } = {}): Promise<Credential> {
    const { env, session } = this.authorize(environment, target);
    const key = credentialCacheKey(env, target, session);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { key, environment, target, principal: targetIdentity(env, target).principal, lastUsedAt: this.now() };
      this.entries.set(key, entry);
    }
    entry.lastUsedAt = this.now();
    if (entry.inflight) return entry.inflight;
    if (!opts.forceRefresh && entry.credential && !needsRefresh(entry.credential, this.now())) return entry.credential;
    return this.issue(entry, env, session);
  }

  /** Cached credentials and failures, without secrets, for the tree. */
  peek(): CredentialInfo[] {
    const now = this.now();
    return [...this.entries.values()]
      .filter((e) => e.credential || e.error)
      .map((e) => {
        const c = e.credential;
        const live = c && c.expiresAt > now;
        const state: CredentialState = e.error && !live ? 'failed' : c ? credentialState(c, now) : 'failed';
        return {
          environment: e.environment,
          target: e.target,
          principal: e.principal,
          state,
          source: c?.source,
          scopes: c?.scopes,
          issuedAt: c?.issuedAt,
          expiresAt: c?.expiresAt,
          fingerprint: c?.fingerprint,
          error: e.error,
          refreshing: e.inflight !== undefined,
        };
      });
  }

  /** The soonest expiry among cached credentials (an expired one only when nothing is still valid). */
  nearestExpiry(): { environment: string; target: CredentialTarget; expiresAt: number } | undefined {
    const now = this.now();
    const creds = [...this.entries.values()].flatMap((e) => (e.credential ? [e.credential] : []));
    const live = creds.filter((c) => c.expiresAt > now);
    const pool = live.length ? live : creds;
    if (!pool.length) return undefined;
    const pick = live.length
      ? pool.reduce((a, b) => (b.expiresAt < a.expiresAt ? b : a))
      : pool.reduce((a, b) => (b.expiresAt > a.expiresAt ? b : a));
    return { environment: pick.environment, target: pick.target, expiresAt: pick.expiresAt };
  }

  /**
   * Forgets the environment's credentials (all targets, or one). Federated cloud tokens have no
   * revocation endpoint (Google STS, AWS STS sessions; Databricks federation tokens), so revoking
   * means never handing them out again; they lapse at their capped expiry. Returns how many.
   */
  revoke(environment: string, target?: CredentialTarget, reason = 'revoked by the user'): number {
    return this.forget((e) => e.environment === environment && (!target || e.target === target), reason);
  }

  /** Forgets everything (sign-out). */
  clear(reason = 'signed out'): void {
    this.forget(() => true, reason);
  }

  /** Keeps credentials that are in use renewed before they reach their refresh margin. */
  startAutoRefresh(options: AutoRefreshOptions = {}): Disposable {
    this.auto = { idleMs: options.idleMs ?? 30 * 60_000, retryMs: options.retryMs ?? 30_000 };
    this.schedule();
    return { dispose: () => this.stopAutoRefresh() };
  }

  stopAutoRefresh(): void {
    this.auto = undefined;
    this.cancelTimer();
  }

  dispose(): void {
    this.disposed = true;
    this.stopAutoRefresh();
    this.entries.clear();
    this.discovery.forget();
    this.changes.dispose();
  }

  private forget(match: (e: Entry) => boolean, reason: string): number {
    let n = 0;
    let removed = 0;
    for (const [key, e] of [...this.entries]) {
      if (!match(e)) continue;
      this.entries.delete(key);
      removed++;
      if (e.credential) {
        n++;
        this.record(e.credential, { type: 'credentialRevoked', outcome: 'success', reason });
      }
    }
    if (removed) this.changed();
    return n;
  }

  /** Resolves the environment and session and applies the policy; throws when not allowed. */
  private authorize(environment: string, target: CredentialTarget): { env: Environment; session: IdentitySession } {
    if (this.disposed) throw new UserFacingError('cancelled', 'The credential service was shut down.');
    const resolution = this.options.environments();
    const env = resolution.environments[environment];
    if (!env) {
      const problems = resolution.problems.filter((p) => p.environment === environment);
      if (problems.length)
        throw new UserFacingError(
          'config',
          `Environment "${environment}" is not usable: ${problems.map(formatProblem).join('; ')}`,
          'Fix these settings (ML Spanner: Explain Access shows the effective definitions).',
        );
      const known = Object.keys(resolution.environments);
      throw new UserFacingError(
        'config',
        `There is no environment named "${environment}"${known.length ? ` (known: ${known.join(', ')})` : ''}.`,
        `Add it under ${settingPath(environment)} or to databricks.yml targets.`,
      );
    }
    const session = this.options.identity.current();
    if (!session) throw new UserFacingError('auth', `Cannot get ${target} credentials for "${environment}": you are not signed in.`, 'Run "ML Spanner: Sign In".');
    const decision = decideAccess(env, session.groups).targets[target];
    if (!decision.granted) {
      const configured = env[targetSection(target)] !== undefined;
      this.options.sink.record({
        type: 'credentialDenied',
        outcome: 'denied',
        actor: { issuer: session.issuer, subject: session.subject, name: session.name },
        environment,
        target,
        reason: decision.reason,
      });
      // A cached credential from before a group change is not handed out either.
      this.forget((e) => e.environment === environment && e.target === target, `access denied: ${decision.reason}`);
      if (!configured) throw new UserFacingError('config', `No ${target} credentials in "${environment}": ${decision.reason}.`);
      throw new UserFacingError(
        'denied',
        `Access to ${target} in "${environment}" denied: ${decision.reason}.`,
        'Ask your administrator for one of those groups, then sign in again so the new groups reach the extension.',
      );
    }
    return { env, session };
  }

  private issue(entry: Entry, env: Environment, asked: IdentitySession): Promise<Credential> {
    const refreshing = entry.credential !== undefined;
    const p = this.exchange(env, entry.target, asked).then(
      (credential) => {
        if (this.entries.get(entry.key) === entry) {
          entry.credential = credential;
          entry.error = undefined;
          entry.retryAt = undefined;
          this.record(credential, { type: refreshing ? 'credentialRefreshed' : 'credentialIssued', outcome: 'success' });
        }
        return credential;
      },
      (e: unknown) => {
        if (this.entries.get(entry.key) === entry) {
          entry.error = errorMessage(e);
          entry.retryAt = this.now() + (this.auto?.retryMs ?? 30_000);
          this.options.sink.record({
            type: 'credentialFailed',
            outcome: 'failure',
            actor: { issuer: asked.issuer, subject: asked.subject, name: asked.name },
            environment: entry.environment,
            target: entry.target,
            resource: entry.principal,
            reason: entry.error,
          });
        }
        throw e;
      },
    );
    entry.inflight = p;
    const settle = () => {
      if (entry.inflight === p) entry.inflight = undefined;
      this.changed();
    };
    p.then(settle, settle);
    this.changed();
    return p;
  }

  private async exchange(env: Environment, target: CredentialTarget, asked: IdentitySession): Promise<Credential> {
    const session = await this.options.identity.fresh(SUBJECT_MIN_VALIDITY_SECONDS);
    if (session.issuer !== asked.issuer || session.subject !== asked.subject)
      throw new UserFacingError('auth', 'The signed-in account changed while credentials were being requested.', 'Retry.');
    const issuedAt = this.now();
    let issued: IssuedToken;
    let kind: SubjectTokenKind;
    switch (target) {
      case 'databricks': {
        const d = env.databricks!;
        kind = d.subjectToken;
        issued = await exchangeDatabricksToken(this.http, this.discovery, {
          environment: env.name,
          host: d.host,
          clientId: d.clientId,
          scopes: d.scopes,
          subjectToken: subjectToken(session, kind),
          now: issuedAt,
        });
        break;
      }
      case 'google': {
        const s = env.spanner!;
        kind = s.subjectToken;
        issued = await exchangeGoogleToken(this.http, {
          environment: env.name,
          audience: s.workloadIdentityAudience,
          subjectToken: subjectToken(session, kind),
          subjectTokenKind: kind,
          stsEndpoint: s.stsEndpoint,
          iamCredentialsEndpoint: s.iamCredentialsEndpoint,
          serviceAccount: s.serviceAccount,
          maxTtlSeconds: env.maxTtlSeconds,
          now: issuedAt,
        });
        break;
      }
      case 'aws': {
        const a = env.aws!;
        kind = a.subjectToken;
        issued = await assumeAwsRole(this.http, {
          environment: env.name,
          stsEndpoint: a.stsEndpoint,
          roleArn: a.roleArn,
          roleSessionName: roleSessionName(session.subject),
          webIdentityToken: subjectToken(session, kind),
          durationSeconds: awsDurationSeconds(env.maxTtlSeconds, a.sessionDurationSeconds),
          now: issuedAt,
        });
        break;
      }
    }
    const base = {
      environment: env.name,
      issuedAt,
      expiresAt: cappedExpiry(issuedAt, issued.serviceExpiresAt, env.maxTtlSeconds),
      serviceExpiresAt: issued.serviceExpiresAt,
      source: issued.source,
      principal: issued.principal,
      subjectTokenKind: kind,
    };
    if (issued.kind === 'aws')
      return {
        ...base,
        target: 'aws',
        scopes: [],
        accessKeyId: issued.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
        assumedRoleArn: issued.assumedRoleArn,
        fingerprint: tokenFingerprint(issued.sessionToken),
      };
    return { ...base, target: target as 'databricks' | 'google', scopes: issued.scopes, accessToken: issued.accessToken, fingerprint: tokenFingerprint(issued.accessToken) };
  }

  private record(c: Credential, event: Pick<AccessEventInput, 'type' | 'outcome' | 'reason'>): void {
    const who = this.options.identity.current();
    this.options.sink.record({
      ...event,
      actor: who ? { issuer: who.issuer, subject: who.subject, name: who.name } : undefined,
      environment: c.environment,
      target: c.target,
      resource: c.target === 'aws' ? c.assumedRoleArn : c.principal,
      tokenFingerprint: c.fingerprint,
      source: c.source,
      scopes: c.scopes.length ? c.scopes.join(' ') : undefined,
      expiresAt: new Date(c.expiresAt).toISOString(),
    });
  }

  private changed(): void {
    if (this.auto) this.schedule();
    this.changes.fire();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** When the next in-use credential reaches its refresh margin (or its retry time). */
  private dueAt(e: Entry): number | undefined {
    const c = e.credential;
    if (!c || !this.auto || e.inflight) return undefined;
    const due = Math.max(c.expiresAt - refreshMarginMs(c.issuedAt, c.expiresAt), e.retryAt ?? 0);
    return e.lastUsedAt + this.auto.idleMs >= due ? due : undefined;
  }

  private schedule(): void {
    this.cancelTimer();
    if (!this.auto || this.disposed) return;
    const dues = [...this.entries.values()].map((e) => this.dueAt(e)).filter((d): d is number => d !== undefined);
    if (!dues.length) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.min(...dues) - this.now()));
    const handle = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.refreshDue();
    }, delay);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.timer = handle;
  }

  private refreshDue(): void {
    if (!this.auto) return;
    const now = this.now();
    for (const e of [...this.entries.values()]) {
      const due = this.dueAt(e);
      if (due === undefined || due > now) continue;
      try {
        const { env, session } = this.authorize(e.environment, e.target);
        if (credentialCacheKey(env, e.target, session) !== e.key) {
          // Settings or account changed: this entry will never be asked for again.
          this.entries.delete(e.key);
          continue;
        }
        // Failures are recorded and shown by issue(); the entry waits retryMs before the next try.
        this.issue(e, env, session).catch(() => undefined);
      } catch {
        // Denied, signed out or misconfigured: authorize() recorded it; stop keeping it fresh.
        this.entries.delete(e.key);
      }
    }
    this.schedule();
  }
}
