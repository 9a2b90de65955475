import * as oidc from 'openid-client';
import type { AccessEventSink } from '../audit/AccessLog';
import { CancelledError, UserFacingError, errorMessage } from '../errors';
import { Emitter } from '../events';
import { tokenFingerprint } from '../fingerprint';
import { displayName, emailOf, extractGroups, jwtExpiry } from './claims';
import type { IdentitySession, IdentitySource } from './IdentitySession';
import { LoopbackServer } from './LoopbackServer';
import { OidcClient, type DeviceCodeInfo, type OidcApi, type OidcSettings, type TokenSet } from './OidcClient';
import { chooseSignInFlow, type FlowContext, type FlowSetting, type SignInFlow } from './signInFlow';

export interface IdpSettings extends OidcSettings {
  groupsClaim: string;
  flow: FlowSetting;
}

/** Where refresh tokens live: VS Code SecretStorage (the OS keychain) in the extension. */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

/** What sign-in needs from the UI; the vscode layer implements it, tests script it. */
export interface SignInUi {
  /** Opens the authorization URL; resolves false when it could not (the URL stays copyable). */
  openBrowser(url: string): Promise<boolean>;
  /** Device code flow: show the code and where to enter it. */
  showDeviceCode(info: DeviceCodeInfo): void;
  signal?: AbortSignal;
}

export type SessionState =
  | { kind: 'signedOut'; reason?: string }
  | { kind: 'signingIn'; flow?: SignInFlow }
  | { kind: 'signedIn'; session: IdentitySession; refreshError?: string };

interface StoredSession {
  v: 1;
  issuer: string;
  clientId: string;
  refreshToken: string;
  subject: string;
  /** The last ID token claims, to show the account before the first refresh returns. */
  claims: Record<string, unknown>;
}

export interface SessionManagerDeps {
  settings: () => IdpSettings;
  secrets: SecretStore;
  sink: AccessEventSink;
  /** Facts about the window for the flow decision (remote, browser reachability). */
  flowContext: () => Promise<Omit<FlowContext, 'setting' | 'deviceFlowSupported'>>;
  discover?: (s: OidcSettings) => Promise<OidcApi>;
  now?: () => number;
  /** How long sign-in waits for the browser or the device code (default 5 minutes). */
  signInTimeoutMs?: number;
  /** Failures of background refreshes, for the log. */
  onBackgroundError?: (e: unknown) => void;
}

/** Silent refresh starts this long before expiry: at least 60 s, or 10 % of the lifetime. */
export function refreshLeadMs(lifetimeMs: number): number {
  return Math.max(60_000, Math.floor(lifetimeMs * 0.1));
}

/** Backoff for background refreshes that failed for a passing reason (network, 5xx). */
export function retryBackoffMs(failures: number): number {
  return Math.min(5 * 60_000, 15_000 * 2 ** Math.max(0, failures - 1));
}

export const SECRET_KEY_PREFIX = 'mlspanner.session:';

/** Who, for the access log: never a token. */
export function actorOf(s: IdentitySession): { issuer: string; subject: string; name: string } {
  return { issuer: s.issuer, subject: s.subject, name: s.name };
}

/**
 * The signed-in identity: sign-in (loopback + PKCE, or device code), silent restore and refresh,
 * sign-out with revocation. Refresh tokens go only to the SecretStore; access and ID tokens stay
 * in memory. Emits on every state change; never calls any UI except through SignInUi.
 */
export class SessionManager implements IdentitySource {
  private readonly changed = new Emitter<SessionState>();
  readonly onDidChange = this.changed.event;
  private _state: SessionState = { kind: 'signedOut' };
  private refreshToken?: string;
  private client?: { key: string; client: Promise<OidcApi> };
  private refreshing?: Promise<IdentitySession>;
  private timer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private signInAbort?: AbortController;
  private readonly now: () => number;

  constructor(private readonly deps: SessionManagerDeps) {
    this.now = deps.now ?? Date.now;
  }

  get state(): SessionState {
    return this._state;
  }

  current(): IdentitySession | undefined {
    return this._state.kind === 'signedIn' ? this._state.session : undefined;
  }

  /** When the session's tokens expire (the earlier of access and ID token). */
  static expiresAt(s: IdentitySession): number {
    return Math.min(s.accessTokenExpiresAt, s.idTokenExpiresAt);
  }

  private setState(s: SessionState): void {
    this._state = s;
    this.changed.fire(s);
  }

  private secretKey(s: IdpSettings = this.deps.settings()): string {
    return `${SECRET_KEY_PREFIX}${s.issuer}|${s.clientId}`;
  }

  private oidcClient(): Promise<OidcApi> {
    const s = this.deps.settings();
    const key = `${s.issuer}|${s.clientId}|${s.scopes.join(' ')}`;
    if (!this.client || this.client.key !== key) {
      const client = (this.deps.discover ?? OidcClient.discover)(s);
      // A failed discovery is not cached: the next attempt tries again.
      client.catch(() => {
        if (this.client?.client === client) this.client = undefined;
      });
      this.client = { key, client };
    }
    return this.client.client;
  }

  /** Interactive sign-in. Rejects with CancelledError on cancel, UserFacingError otherwise. */
  async signIn(ui: SignInUi): Promise<IdentitySession> {
    this.signInAbort?.abort();
    const abort = new AbortController();
    this.signInAbort = abort;
    const onOuterAbort = () => abort.abort();
    ui.signal?.addEventListener('abort', onOuterAbort);
    const settings = this.deps.settings();
    const previous = this._state;
    this.setState({ kind: 'signingIn' });
    try {
      const client = await this.oidcClient();
      const { flow, note } = chooseSignInFlow({
        ...(await this.deps.flowContext()),
        setting: settings.flow,
        deviceFlowSupported: client.deviceFlowSupported,
      });
      if (note) this.deps.onBackgroundError?.(new Error(note));
      this.setState({ kind: 'signingIn', flow });
      await client.checkClientKnown();
      const tokens = flow === 'deviceCode' ? await this.deviceFlow(client, ui, abort.signal) : await this.loopbackFlow(client, ui, abort.signal);
      const session = await this.accept(tokens, settings);
      this.deps.sink.record({
        type: 'signIn',
        outcome: 'success',
        actor: actorOf(session),
        target: 'idp',
        resource: session.issuer,
        detail: `flow ${flow}; groups ${session.groups.join(', ') || 'none'}`,
        tokenFingerprint: tokenFingerprint(session.accessToken),
      });
      return session;
    } catch (e) {
      const err = abort.signal.aborted && !(e instanceof UserFacingError && e.kind !== 'cancelled') ? new CancelledError('Sign-in cancelled.') : e;
      this.deps.sink.record({
        type: 'signInFailed',
        outcome: err instanceof CancelledError ? 'cancelled' : 'failure',
        target: 'idp',
        resource: settings.issuer,
        detail: errorMessage(err),
      });
      // A failed or cancelled sign-in keeps an existing session (nothing is lost).
      this.setState(previous.kind === 'signingIn' ? { kind: 'signedOut' } : previous);
      throw err;
    } finally {
      ui.signal?.removeEventListener('abort', onOuterAbort);
      if (this.signInAbort === abort) this.signInAbort = undefined;
    }
  }

  cancelSignIn(): void {
    this.signInAbort?.abort();
  }

  private async loopbackFlow(client: OidcApi, ui: SignInUi, signal: AbortSignal): Promise<TokenSet> {
    const server = await LoopbackServer.start();
    try {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const redirectUri = server.redirectUri;
      const url = client.authorizationUrl({ redirectUri, codeChallenge: await oidc.calculatePKCECodeChallenge(verifier), state, nonce });
      const waiting = server.waitForCallback({ state, timeoutMs: this.deps.signInTimeoutMs ?? 300_000, signal });
      void ui.openBrowser(url.href).catch(() => false);
      const callback = await waiting;
      return await client.exchangeCode(callback, { verifier, state, nonce, redirectUri }, this.now());
    } finally {
      server.close();
    }
  }

  private async deviceFlow(client: OidcApi, ui: SignInUi, signal: AbortSignal): Promise<TokenSet> {
    const { info, handle } = await client.startDeviceAuthorization(this.now());
    ui.showDeviceCode(info);
    const timeoutMs = Math.min(this.deps.signInTimeoutMs ?? 300_000, info.expiresAt - this.now());
    const timeout = AbortSignal.timeout(Math.max(1000, timeoutMs));
    try {
      return await client.pollDevice(handle, AbortSignal.any([signal, timeout]));
    } catch (e) {
      if (timeout.aborted && !signal.aborted)
        throw new UserFacingError('auth', `Sign-in timed out after ${Math.round(timeoutMs / 1000)} s waiting for the device code to be entered.`, 'Click Sign In to get a new code.');
      if (signal.aborted) throw new CancelledError('Sign-in cancelled.');
      throw e;
    }
  }

  /** Builds the session from a token response, stores the refresh token, schedules refresh. */
  private async accept(tokens: TokenSet, settings: IdpSettings, previous?: IdentitySession, storedClaims?: Record<string, unknown>): Promise<IdentitySession> {
    const claims = tokens.claims ?? previous?.claims ?? storedClaims;
    if (!claims || typeof claims.sub !== 'string')
      throw new UserFacingError('protocol', 'The identity provider returned no ID token with a subject.', 'Make sure mlspanner.idp.scopes includes "openid".');
    if (previous && previous.subject !== claims.sub)
      throw new UserFacingError('auth', 'The refreshed session belongs to another user.', 'Sign in again.');
    const idToken = tokens.idToken ?? previous?.idToken ?? '';
    const session: IdentitySession = {
      issuer: settings.issuer,
      subject: claims.sub,
      name: displayName(claims),
      email: emailOf(claims),
      groups: extractGroups(claims, settings.groupsClaim),
      claims,
      idToken,
      idTokenExpiresAt: jwtExpiry(idToken) ?? tokens.accessTokenExpiresAt,
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: tokens.accessTokenExpiresAt,
      scopes: tokens.scopes.length ? tokens.scopes : settings.scopes,
    };
    // Providers that do not rotate refresh tokens return none on refresh: keep the one we have.
    if (tokens.refreshToken) this.refreshToken = tokens.refreshToken;
    if (this.refreshToken) {
      const stored: StoredSession = { v: 1, issuer: settings.issuer, clientId: settings.clientId, refreshToken: this.refreshToken, subject: session.subject, claims };
      await this.deps.secrets.store(this.secretKey(settings), JSON.stringify(stored));
    }
    this.failures = 0;
    this.setState({ kind: 'signedIn', session });
    this.schedule(session);
    return session;
  }

  private schedule(session: IdentitySession): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.refreshToken) return;
    const expiresAt = SessionManager.expiresAt(session);
    const lifetime = Math.max(0, expiresAt - this.now());
    const due = this.failures ? retryBackoffMs(this.failures) : Math.max(0, lifetime - refreshLeadMs(lifetime));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh().catch((e) => this.deps.onBackgroundError?.(e));
    }, due);
    // Do not keep a Node process (tests, CLI) alive for a refresh.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Silent restore at startup: uses the stored refresh token; never opens a browser. */
  async restore(): Promise<IdentitySession | undefined> {
    if (this._state.kind === 'signedIn') return this._state.session;
    const settings = this.deps.settings();
    const raw = await this.deps.secrets.get(this.secretKey(settings));
    if (!raw) return undefined;
    let stored: StoredSession;
    try {
      stored = JSON.parse(raw) as StoredSession;
      if (stored.v !== 1 || !stored.refreshToken) throw new Error('unknown format');
    } catch {
      await this.deps.secrets.delete(this.secretKey(settings));
      return undefined;
    }
    this.refreshToken = stored.refreshToken;
    try {
      return await this.refresh(stored.claims);
    } catch (e) {
      // A refused token was cleared by refresh(). A passing failure (network, 5xx) keeps the
      // stored token, so Refresh or the next start can still restore the session.
      if (e instanceof UserFacingError && e.kind === 'auth') return undefined;
      this.setState({ kind: 'signedOut', reason: `Could not restore your session: ${errorMessage(e)}` });
      throw e;
    }
  }

  /** Refreshes now (single-flight). A refused refresh token signs out with the reason. */
  refresh(storedClaims?: Record<string, unknown>): Promise<IdentitySession> {
    if (this.refreshing) return this.refreshing;
    const run = (async () => {
      const settings = this.deps.settings();
      const rt = this.refreshToken;
      if (!rt) throw new UserFacingError('auth', 'You are not signed in to ML Spanner Access.', 'Sign in from the ML Spanner sidebar.');
      const previous = this.current();
      try {
        const client = await this.oidcClient();
        const tokens = await client.refresh(rt, this.now());
        const session = await this.accept(tokens, settings, previous, storedClaims);
        this.deps.sink.record({
          type: 'sessionRefreshed',
          outcome: 'success',
          actor: actorOf(session),
          target: 'idp',
          resource: session.issuer,
          tokenFingerprint: tokenFingerprint(session.accessToken),
        });
        return session;
      } catch (e) {
        const err = e instanceof UserFacingError ? e : new UserFacingError('service', errorMessage(e));
        this.deps.sink.record({ type: 'sessionRefreshFailed', outcome: 'failure', target: 'idp', resource: settings.issuer, detail: err.display });
        if (err.kind === 'auth') {
          await this.forget(settings);
          const reason = `Your session ended: ${err.message}`;
          this.setState({ kind: 'signedOut', reason });
          throw new UserFacingError('auth', reason, 'Sign in again.', undefined, { cause: e });
        }
        // Network or server trouble: keep the session and the refresh token, retry with backoff.
        this.failures++;
        if (previous) {
          this.setState({ kind: 'signedIn', session: previous, refreshError: err.display });
          this.schedule(previous);
        }
        throw err;
      }
    })();
    this.refreshing = run;
    run.then(
      () => (this.refreshing = undefined),
      () => (this.refreshing = undefined),
    );
    return run;
  }

  async fresh(minValiditySeconds = 60): Promise<IdentitySession> {
    const s = this.current();
    if (s && SessionManager.expiresAt(s) - this.now() > minValiditySeconds * 1000) return s;
    if (!this.refreshToken) {
      if (s && SessionManager.expiresAt(s) > this.now()) return s;
      throw new UserFacingError('auth', 'You are not signed in to ML Spanner Access.', 'Sign in from the ML Spanner sidebar.');
    }
    return this.refresh();
  }

  /** Signs out: revokes the refresh token where the IdP offers revocation (RFC 7009), clears secrets. */
  async signOut(): Promise<{ revoked: boolean; revokeError?: string }> {
    const settings = this.deps.settings();
    const session = this.current();
    const rt = this.refreshToken;
    await this.forget(settings);
    this.setState({ kind: 'signedOut' });
    let revoked = false;
    let revokeError: string | undefined;
    if (rt) {
      try {
        const client = await this.oidcClient();
        await client.revoke(rt);
        revoked = client.revocationSupported;
      } catch (e) {
        revokeError = errorMessage(e);
      }
    }
    this.deps.sink.record({
      type: 'signOut',
      outcome: 'success',
      actor: session && actorOf(session),
      target: 'idp',
      resource: settings.issuer,
      detail: revoked ? 'refresh token revoked' : revokeError ? `revocation failed: ${revokeError}` : 'no revocation endpoint',
    });
    return { revoked, revokeError };
  }

  /** Settings that identify the provider changed: the old session no longer applies. */
  async settingsChanged(previous: IdpSettings): Promise<void> {
    const now = this.deps.settings();
    if (previous.issuer === now.issuer && previous.clientId === now.clientId && previous.scopes.join(' ') === now.scopes.join(' ')) {
      if (previous.groupsClaim !== now.groupsClaim && this.current()) {
        const s = this.current()!;
        this.setState({ kind: 'signedIn', session: { ...s, groups: extractGroups(s.claims, now.groupsClaim) } });
      }
      return;
    }
    this.client = undefined;
    clearTimeout(this.timer);
    this.refreshToken = undefined;
    this.setState({ kind: 'signedOut', reason: 'The identity provider settings changed.' });
    await this.restore().catch(() => undefined);
  }

  private async forget(settings: IdpSettings): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.refreshToken = undefined;
    this.failures = 0;
    await this.deps.secrets.delete(this.secretKey(settings));
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.signInAbort?.abort();
    this.changed.dispose();
  }
}
