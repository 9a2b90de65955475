import type { AccessEventInput, AccessEventSink } from '../audit/AccessLog';
import type { IdentitySession, IdentitySource } from '../auth/IdentitySession';
import { doublingDelayMs } from '../backoff';
import { errorMessage, UserFacingError, type ErrorKind, type Remedy } from '../errors';
import { tokenFingerprint } from '../fingerprint';
import { forgetSecret, redact, registerSecret } from '../redact';
import { createHttpClient } from '../http/HttpClient';
import type { CredentialTarget, Environment } from '../policy/Environment';
import { Emitter, type Disposable } from '../events';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import type { AnyTargetSpec } from '../targets/CredentialTargetSpec';
import { cappedExpiry, credentialState, dueForRefreshAt, needsRefresh, type Credential, type CredentialState, type HttpFactory } from './Credential';

/** Timer functions, injectable so a fake clock (@sinonjs/fake-timers createClock) drives them. */
export interface BrokerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The access gate's answer for a background refresh: the current environment and session, or a throw. */
export type Reauthorize = (environment: string, target: CredentialTarget) => { env: Environment; session: IdentitySession };

export interface CredentialBrokerOptions {
  identity: IdentitySource;
  /** Re-checks access before a background refresh (the gate: groups may have changed). */
  reauthorize: Reauthorize;
  registry?: TargetRegistry;
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
  /** The last failed attempt, typed, while no attempt has succeeded since. */
  lastError?: CredentialFailure;
  refreshing: boolean;
}

/**
 * A failed issue or refresh, for views and notifications: what kind of failure, the redacted
 * one-line message, when, and when the broker tries again by itself. A "failure episode" runs
 * from the first failure after a success (`since`) to the next success; `attempts` counts it.
 */
export interface CredentialFailure {
  kind: ErrorKind;
  /** Redacted: what failed and why (no token material). */
  message: string;
  /** Redacted: what to do, when the error says. */
  action?: string;
  /** Getting a fresh subject token from the sign-in session (the IdP), or the exchange at the service. */
  stage: 'identity' | 'exchange';
  /** The service that answered or could not be reached ("Databricks", "Google STS"), when known. */
  service?: string;
  /** Remedies the error itself names (Open Settings at a key, Explain Access, Sign In). */
  remedies: readonly Remedy[];
  /** Epoch ms of the last failed attempt. */
  at: number;
  /** Epoch ms of the first failure of this episode. */
  since: number;
  /** Failed attempts in this episode. */
  attempts: number;
  /** Epoch ms of the next automatic attempt; undefined when none is planned (idle, never issued, auto refresh off, or one in flight). */
  nextAttemptAt?: number;
}

/** Errors raised while getting the subject token from the sign-in session (not by the exchange). */
const identityFailures = new WeakSet<object>();

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
  failure?: Omit<CredentialFailure, 'nextAttemptAt'>;
  lastUsedAt: number;
  /** Background refresh backoff after a failure. */
  retryAt?: number;
}

/** The failure record of an attempt that threw `e`, continuing the episode of `previous`. */
function failureOf(e: unknown, at: number, previous: Entry['failure']): NonNullable<Entry['failure']> {
  const u = e instanceof UserFacingError ? e : undefined;
  // The exchanges wrap the HTTP client's ServiceError (which names the service) as the cause.
  const service = (e as { service?: unknown } | undefined)?.service ?? ((e as { cause?: { service?: unknown } } | undefined)?.cause)?.service;
  return {
    kind: u?.kind ?? 'service',
    message: redact(u ? u.message : errorMessage(e)),
    action: u?.action ? redact(u.action) : undefined,
    stage: e && typeof e === 'object' && identityFailures.has(e) ? 'identity' : 'exchange',
    service: typeof service === 'string' ? service : undefined,
    remedies: u?.remedies ?? [],
    at,
    since: previous?.since ?? at,
    attempts: (previous?.attempts ?? 0) + 1,
  };
}

/** The minimum validity asked of the IdP tokens before they are exchanged. */
const SUBJECT_MIN_VALIDITY_SECONDS = 120;
const MAX_TIMER_MS = 2 ** 31 - 1;

function secretsOf(c: Credential): string[] {
  return c.kind === 'aws' ? [c.secretAccessKey, c.sessionToken] : [c.accessToken];
}

/**
 * Cache key: (environment, issuer, subject, target and everything that decides where the token
 * comes from and what it is for). Another user, another IdP or an edited setting never gets a
 * token cached for the old one.
 */
/**
 * How long a failing automatic renewal waits before the next try: `retryMs`, doubled after each
 * failure of the same episode, at most 5 minutes. An outage of an hour costs about 15 attempts
 * (and access-log entries) per credential, not 120.
 */
export function retryDelayMs(retryMs: number, attempts: number): number {
  return doublingDelayMs(retryMs, attempts, Math.max(retryMs, 5 * 60_000));
}

export function credentialCacheKey(env: Environment, target: CredentialTarget, who: Pick<IdentitySession, 'issuer' | 'subject'>, registry: TargetRegistry = BUILTIN_TARGETS): string {
  const spec = registry.spec(target);
  return JSON.stringify([env.name, who.issuer, who.subject, target, env.maxTtlSeconds, ...spec.identity(env.sections[spec.section], env).parts]);
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
  private readonly states = new Map<string, unknown>();
  private readonly registry: TargetRegistry;
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
    this.registry = options.registry ?? BUILTIN_TARGETS;
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
   * A credential for `target` in an environment the access gate has authorized for `session`:
   * from the cache while it has more than its refresh margin left, else freshly exchanged.
   * Only the gate calls this (src/core/access/AccessGate.ts): it decides, the broker issues.
   */
  async get(env: Environment, target: CredentialTarget, session: IdentitySession, opts: { forceRefresh?: boolean } = {}): Promise<Credential> {
    if (this.disposed) throw new UserFacingError('cancelled', 'The credential service was shut down.');
    const spec = this.registry.spec(target);
    const settings = env.sections[spec.section];
    if (!settings) throw new UserFacingError('config', `No ${spec.service} credentials in "${env.name}": it is not configured.`);
    const key = credentialCacheKey(env, target, session, this.registry);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { key, environment: env.name, target, principal: spec.identity(settings, env).principal, lastUsedAt: this.now() };
      this.entries.set(key, entry);
    }
    entry.lastUsedAt = this.now();
    if (entry.inflight) return entry.inflight;
    const c = entry.credential;
    if (c && !opts.forceRefresh && !needsRefresh(c, this.now())) return c;
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
          lastError: e.failure ? { ...e.failure, nextAttemptAt: this.dueAt(e) } : undefined,
          refreshing: e.inflight !== undefined,
        };
      });
  }

  /** The soonest expiry among cached credentials (an expired one only when nothing is still valid). */
  nearestExpiry(preferEnvironment?: string): { environment: string; target: CredentialTarget; expiresAt: number } | undefined {
    const now = this.now();
    const all = [...this.entries.values()].flatMap((e) => (e.credential ? [e.credential] : []));
    const preferred = preferEnvironment ? all.filter((c) => c.environment === preferEnvironment) : [];
    const creds = preferred.length ? preferred : all;
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
    for (const e of this.entries.values()) if (e.credential) secretsOf(e.credential).forEach(forgetSecret);
    this.entries.clear();
    this.states.clear();
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
        secretsOf(e.credential).forEach(forgetSecret);
        n++;
        this.record(e.credential, { type: 'credentialRevoked', outcome: 'success', reason });
      }
    }
    if (removed) this.changed();
    return n;
  }

  private issue(entry: Entry, env: Environment, asked: IdentitySession): Promise<Credential> {
    const refreshing = entry.credential !== undefined;
    const p = this.exchange(env, entry.target, asked).then(
      (credential) => {
        if (this.entries.get(entry.key) === entry) {
          // The values held now are redacted wherever text is shown or written.
          if (entry.credential) secretsOf(entry.credential).forEach(forgetSecret);
          secretsOf(credential).forEach(registerSecret);
          entry.credential = credential;
          entry.error = undefined;
          entry.failure = undefined;
          entry.retryAt = undefined;
          this.record(credential, { type: refreshing ? 'credentialRefreshed' : 'credentialIssued', outcome: 'success' });
        }
        return credential;
      },
      (e: unknown) => {
        if (this.entries.get(entry.key) === entry) {
          entry.error = errorMessage(e);
          entry.failure = failureOf(e, this.now(), entry.failure);
          entry.retryAt = this.now() + retryDelayMs(this.auto?.retryMs ?? 30_000, entry.failure.attempts);
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

  private state(spec: AnyTargetSpec): unknown {
    if (!spec.createState) return undefined;
    if (!this.states.has(spec.id)) this.states.set(spec.id, spec.createState(this.http));
    return this.states.get(spec.id);
  }

  private async exchange(env: Environment, target: CredentialTarget, asked: IdentitySession): Promise<Credential> {
    const spec = this.registry.spec(target);
    const settings = env.sections[spec.section];
    const kind = spec.subjectToken(settings);
    // The token this target sends must be fresh: an ID token where the provider renews none is
    // reported once by the session, never sent expired.
    const session = await this.options.identity.fresh(SUBJECT_MIN_VALIDITY_SECONDS, kind).catch((e: unknown) => {
      if (e && typeof e === 'object') identityFailures.add(e);
      throw e;
    });
    if (session.issuer !== asked.issuer || session.subject !== asked.subject)
      throw new UserFacingError('auth', 'The signed-in account changed while credentials were being requested.', 'Retry.');
    const issuedAt = this.now();
    const issued = await spec.exchange({
      environment: env,
      settings,
      subjectToken: kind === 'idToken' ? session.idToken : session.accessToken,
      who: { issuer: session.issuer, subject: session.subject },
      http: this.http,
      state: this.state(spec),
      now: issuedAt,
    });
    // The lifetime is measured on this machine's clock from the moment of the request: a skewed
    // clock must neither expire a fresh credential at once nor keep a dead one.
    const expiresAt = cappedExpiry(issuedAt, issued.serviceExpiresAt, spec.ttlCapSeconds(settings, env));
    const base = {
      environment: env.name,
      target,
      issuedAt,
      expiresAt,
      serviceExpiresAt: issued.serviceExpiresAt,
      source: issued.source,
      principal: issued.principal,
      subjectTokenKind: kind,
    };
    if (issued.kind === 'aws')
      return {
        ...base,
        kind: 'aws',
        scopes: [],
        accessKeyId: issued.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
        assumedRoleArn: issued.assumedRoleArn,
        fingerprint: tokenFingerprint(issued.sessionToken),
      };
    return { ...base, kind: 'bearer', scopes: issued.scopes, accessToken: issued.accessToken, fingerprint: tokenFingerprint(issued.accessToken) };
  }

  private record(c: Credential, event: Pick<AccessEventInput, 'type' | 'outcome' | 'reason'>): void {
    const who = this.options.identity.current();
    this.options.sink.record({
      ...event,
      actor: who ? { issuer: who.issuer, subject: who.subject, name: who.name } : undefined,
      environment: c.environment,
      target: c.target,
      resource: c.kind === 'aws' ? c.assumedRoleArn : c.principal,
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
    const due = Math.max(dueForRefreshAt(c), e.retryAt ?? 0);
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
        const { env, session } = this.options.reauthorize(e.environment, e.target);
        if (credentialCacheKey(env, e.target, session, this.registry) !== e.key) {
          // Settings or account changed: this entry will never be asked for again.
          this.entries.delete(e.key);
          continue;
        }
        // Failures are recorded and shown by issue(); the entry waits retryMs before the next try.
        this.issue(e, env, session).catch(() => undefined);
      } catch {
        // Denied, signed out or misconfigured: the gate recorded it; stop keeping it fresh.
        this.entries.delete(e.key);
      }
    }
    this.schedule();
  }
}
