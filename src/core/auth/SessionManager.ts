import { randomUUID } from 'node:crypto';

import { loadOidc } from './loadOidc';
import { doublingDelayMs } from '../backoff';
import { forgetSecret, registerSecret } from '../redact';
import type { AccessEventSink } from '../audit/AccessLog';
import { CancelledError, UserFacingError, errorMessage, isCancellation } from '../errors';
import { Emitter } from '../events';
import { tokenFingerprint } from '../fingerprint';
import { displayName, emailOf, extractGroups, jwtExpiry } from './claims';
import type { IdentitySession, IdentitySource, SubjectTokenKind } from './IdentitySession';
import { LoopbackServer } from './LoopbackServer';
import { OidcClient, accountPrompt, type AccountPrompt, type DeviceCodeInfo, type OidcApi, type OidcSettings, type TokenSet } from './OidcClient';
import { chooseSignInFlow, type FlowContext, type FlowSetting, type SignInFlow } from './signInFlow';

export interface IdpSettings extends OidcSettings {
  groupsClaim: string;
  flow: FlowSetting;
}

/**
 * Where refresh tokens live: VS Code SecretStorage (the OS keychain), shared by every window of
 * the same VS Code. It is the source of truth: each window re-reads it before a refresh and
 * follows its changes (`onDidChange` fires for writes by any window, this one included).
 */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
  onDidChange(listener: (e: { key: string }) => unknown): { dispose(): unknown };
}

/** What sign-in needs from the UI; the vscode layer implements it, tests script it. */
export interface SignInUi {
  /** Opens the authorization URL; resolves false when it could not (the URL stays copyable). */
  openBrowser(url: string): Promise<boolean>;
  /** Device code flow: show the code and where to enter it. */
  showDeviceCode(info: DeviceCodeInfo): void;
  signal?: AbortSignal;
}

export interface SignInOptions {
  /**
   * Sign in as a different user (OIDC Core §3.1.2.1): 'login' makes the provider ask for
   * credentials again; 'select_account' shows its account picker where discovery lists it in
   * `prompt_values_supported`, and falls back to 'login' elsewhere. The device code flow has no
   * `prompt`: there the provider's own page decides.
   */
  prompt?: AccountPrompt;
}

export interface SignOutOptions {
  /**
   * Also end the provider's browser session (OpenID RP-Initiated Logout 1.0), so the next
   * sign-in asks who you are. Where the provider has an end-session endpoint, the result
   * carries `endSessionUrl` for the shell to open in the browser.
   */
  endProviderSession?: boolean;
}

export interface SignOutResult {
  revoked: boolean;
  revokeError?: string;
  /** The provider's end-session URL (with `id_token_hint` and `client_id`): open it, never log it. */
  endSessionUrl?: string;
}

export type SessionState =
  | { kind: 'signedOut'; reason?: string }
  | { kind: 'signingIn'; flow?: SignInFlow }
  | { kind: 'signedIn'; session: IdentitySession; refreshError?: string };

/** The SecretStorage record: a refresh token bound to the provider and client it came from. */
interface StoredSession {
  v: 2;
  issuer: string;
  clientId: string;
  refreshToken: string;
  /** Missing only in records migrated from the plain format. */
  subject?: string;
  /** The last ID token claims, to show the account when a refresh returns no ID token. */
  claims?: Record<string, unknown>;
}

/** One window's claim to refresh now; other windows wait for it instead of refreshing too. */
interface LeaseRecord {
  owner: string;
  until: number;
}

export interface SessionManagerDeps {
  settings: () => IdpSettings;
  secrets: SecretStore;
  sink: AccessEventSink;
  /** Facts about the window for the flow decision (remote, browser reachability). */
  flowContext: () => Promise<Omit<FlowContext, 'setting' | 'deviceFlowSupported'>>;
  discover?: (s: OidcSettings, signal?: AbortSignal) => Promise<OidcApi>;
  now?: () => number;
  /** How long sign-in waits for the browser or the device code (default 5 minutes). */
  signInTimeoutMs?: number;
  /** Failures of background refreshes, for the log. */
  onBackgroundError?: (e: unknown) => void;
  /** What the session does and why (which sign-in flow, a session adopted from another window), for the log. Never a token. */
  log?: (level: 'info' | 'warn', message: string) => void;
  /** How long a window waits after writing the refresh lease before it checks it won (default 150 ms). */
  leaseSettleMs?: number;
  /** Identifies this window in the refresh lease (default: random). */
  windowId?: string;
}

/** Silent refresh starts this long before expiry: at least 60 s, or 10 % of the lifetime. */
export function refreshLeadMs(lifetimeMs: number): number {
  return Math.max(60_000, Math.floor(lifetimeMs * 0.1));
}

/** Backoff for background refreshes that failed for a passing reason (network, 5xx). */
export function retryBackoffMs(failures: number): number {
  return doublingDelayMs(15_000, failures, 5 * 60_000);
}

/**
 * Refreshes that are not an explicit user Refresh are at least this far apart, whatever the
 * tokens say: a provider that hands out tokens with a stale or tiny expiry cannot make the
 * session refresh in a loop.
 */
export const MIN_REFRESH_INTERVAL_MS = 30_000;

/** How long one window may hold the refresh lease: longer than one token request with its timeout. */
export const REFRESH_LEASE_MS = 45_000;

export const SECRET_KEY_PREFIX = 'mlspanner.session:';
export const LEASE_KEY_PREFIX = 'mlspanner.refreshLease:';

/** Who, for the access log: never a token. */
export function actorOf(s: IdentitySession): { issuer: string; subject: string; name: string } {
  return { issuer: s.issuer, subject: s.subject, name: s.name };
}

function isConfigured(s: IdpSettings): boolean {
  return Boolean(s.issuer && s.clientId);
}

function sameProvider(a: IdpSettings, b: IdpSettings): boolean {
  return a.issuer === b.issuer && a.clientId === b.clientId;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

const SETTINGS_CHANGED = 'The identity provider settings changed.';

/** Rejects with CancelledError when `signal` aborts first; the work itself is cut off by its owner. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CancelledError(String(signal.reason ?? 'Cancelled.')));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CancelledError(String(signal.reason ?? 'Cancelled.')));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError(String(signal.reason ?? 'Cancelled.')));
    const onAbort = () => (clearTimeout(t), reject(new CancelledError(String(signal.reason ?? 'Cancelled.'))));
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The signed-in identity: sign-in (loopback + PKCE, or device code), silent restore and refresh,
 * sign-out with revocation. Refresh tokens go only to the SecretStore, which every window of
 * VS Code shares and which is the truth: a window re-reads it before refreshing, one window
 * refreshes at a time (a short lease record), and a sign-in or sign-out in one window shows in
 * all. Access and ID tokens stay in memory. Emits on every state change; never calls any UI
 * except through SignInUi.
 */
export class SessionManager implements IdentitySource {
  private readonly changed = new Emitter<SessionState>();
  readonly onDidChange = this.changed.event;
  private _state: SessionState = { kind: 'signedOut' };
  /** The last record this window read or wrote: a cache of the store, checked before each use. */
  private record?: StoredSession;
  /** The last session this window accepted (also while a new sign-in runs). */
  private live?: IdentitySession;
  private client?: { key: string; settings: IdpSettings; client: Promise<OidcApi> };
  private refreshing?: Promise<IdentitySession>;
  private timer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private lastRefreshAt?: number;
  private lastFailureAt?: number;
  private lastError?: UserFacingError;
  private signInAbort?: AbortController;
  /** Everything started under one epoch is cancelled when the provider settings change or the user signs out. */
  private epoch = new AbortController();
  private syncing: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly owner: string;
  private readonly secretSub: { dispose(): unknown };
  private disposed = false;

  constructor(private readonly deps: SessionManagerDeps) {
    this.now = deps.now ?? Date.now;
    this.owner = deps.windowId ?? randomUUID();
    this.secretSub = deps.secrets.onDidChange((e) => {
      const settings = this.deps.settings();
      if (this.disposed || !isConfigured(settings) || e.key !== this.secretKey(settings)) return;
      this.syncing = this.syncing.then(() => this.syncFromStore(settings)).catch((err) => this.backgroundError(err));
    });
  }

  get state(): SessionState {
    return this._state;
  }

  /**
   * Re-reads the stored session (e.g. when the window gets focus): where a host does not tell
   * other windows about SecretStorage writes (a browser tab of code-server), a sign-in or
   * sign-out in another window is followed here.
   */
  resync(): Promise<void> {
    const settings = this.deps.settings();
    if (this.disposed || !isConfigured(settings)) return Promise.resolve();
    this.syncing = this.syncing.then(() => this.syncFromStore(settings)).catch((err) => this.backgroundError(err));
    return this.syncing;
  }

  current(): IdentitySession | undefined {
    return this._state.kind === 'signedIn' ? this._state.session : undefined;
  }

  /**
   * When the session is due: the access token's expiry, or the ID token's when the last token
   * response renewed it and it ends first. An ID token the provider did not renew (OIDC Core
   * §12.2) never drives the schedule: its expiry does not move, and refreshing cannot change it.
   */
  static expiresAt(s: IdentitySession): number {
    return s.idTokenRenewed === false ? s.accessTokenExpiresAt : Math.min(s.accessTokenExpiresAt, s.idTokenExpiresAt);
  }

  private setState(s: SessionState): void {
    // The tokens this window holds are redacted by value wherever text is shown or written.
    const held = (x: SessionState) => (x.kind === 'signedIn' ? [x.session.idToken, x.session.accessToken] : []);
    const before = held(this._state);
    const after = held(s);
    after.forEach(registerSecret);
    before.forEach(forgetSecret);
    this._state = s;
    this.changed.fire(s);
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.deps.log?.(level, message);
  }

  /** Work nobody awaits: its failures go to the log, cancellations (settings changed, sign-out, close) nowhere. */
  private backgroundError(e: unknown): void {
    if (!isCancellation(e)) this.deps.onBackgroundError?.(e);
  }

  private secretKey(s: IdpSettings = this.deps.settings()): string {
    return `${SECRET_KEY_PREFIX}${s.issuer}|${s.clientId}`;
  }

  private leaseKey(s: IdpSettings): string {
    return `${LEASE_KEY_PREFIX}${s.issuer}|${s.clientId}`;
  }

  /** The client for exactly these settings: a token bound to another provider never meets it. */
  private clientFor(s: IdpSettings): Promise<OidcApi> {
    const key = `${s.issuer}|${s.clientId}|${s.scopes.join(' ')}|${s.timeoutSeconds ?? ''}`;
    if (!this.client || this.client.key !== key) {
      this.closeClient();
      const client = (this.deps.discover ?? OidcClient.discover)(s, this.epoch.signal);
      // A failed discovery is not cached: the next attempt tries again.
      client.catch(() => {
        if (this.client?.client === client) this.client = undefined;
      });
      this.client = { key, settings: s, client };
    }
    return this.client.client;
  }

  private closeClient(): void {
    const old = this.client;
    this.client = undefined;
    old?.client.then((c) => c.close?.()).catch(() => undefined);
  }

  /** Cancels everything in flight (sign-in, refresh, lease waits) and starts a new epoch. */
  private newEpoch(reason: string): void {
    this.epoch.abort(reason);
    this.epoch = new AbortController();
    this.signInAbort?.abort(reason);
    this.refreshing = undefined;
  }

  // ---- the stored record -------------------------------------------------------------------

  /**
   * Reads the record for these settings. A record bound to another issuer or client is dropped,
   * never sent; the plain format (a bare refresh token under the provider's key) is migrated.
   */
  private async readRecord(settings: IdpSettings): Promise<StoredSession | undefined> {
    const key = this.secretKey(settings);
    const raw = await this.deps.secrets.get(key);
    if (!raw) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined && /^[\x21-\x7e]{8,}$/.test(raw)) {
      // The plain format: the key alone bound the token to its provider and client.
      const migrated: StoredSession = { v: 2, issuer: settings.issuer, clientId: settings.clientId, refreshToken: raw };
      await this.writeRecord(settings, migrated);
      return migrated;
    }
    const r = parsed as (Omit<Partial<StoredSession>, 'v'> & { v?: number }) | undefined;
    // A newer version of the extension in another window may have written a newer format: leave it.
    if (r && typeof r === 'object' && typeof r.v === 'number' && r.v > 2) return undefined;
    const valid = r && typeof r === 'object' && (r.v === 1 || r.v === 2) && typeof r.refreshToken === 'string' && r.refreshToken !== '';
    if (!valid || r.issuer !== settings.issuer || r.clientId !== settings.clientId) {
      this.log('warn', valid ? `Dropped a stored sign-in that belongs to ${r.issuer} (client ${r.clientId}), not to the configured provider.` : 'Dropped a stored sign-in in an unknown format.');
      await this.deps.secrets.delete(key);
      return undefined;
    }
    return { v: 2, issuer: r.issuer!, clientId: r.clientId!, refreshToken: r.refreshToken!, subject: typeof r.subject === 'string' ? r.subject : undefined, claims: r.claims };
  }

  private async writeRecord(settings: IdpSettings, record: StoredSession): Promise<void> {
    // Cached first, so this window recognises its own write when onDidChange reports it.
    this.record = record;
    await this.deps.secrets.store(this.secretKey(settings), JSON.stringify(record));
  }

  private async forget(settings: IdpSettings, onlyToken?: string): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.record = undefined;
    this.failures = 0;
    this.lastError = undefined;
    if (onlyToken !== undefined) {
      // Delete only what this window knows to be dead: another window may have stored a newer one.
      const raw = await this.deps.secrets.get(this.secretKey(settings));
      if (raw && !raw.includes(JSON.stringify(onlyToken))) return;
    }
    await this.deps.secrets.delete(this.secretKey(settings));
  }

  // ---- the refresh lease ----------------------------------------------------------------------

  private async readLease(settings: IdpSettings): Promise<LeaseRecord | undefined> {
    const raw = await this.deps.secrets.get(this.leaseKey(settings));
    if (!raw) return undefined;
    try {
      const l = JSON.parse(raw) as LeaseRecord;
      return typeof l.owner === 'string' && typeof l.until === 'number' ? l : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Watches `keys` from now on. `wait(until)` resolves when one of them changed since the watch
   * began (even before `wait` was called), at `until`, or rejects on abort.
   */
  private watchStore(keys: string[], signal: AbortSignal): { wait(until: number): Promise<void>; dispose(): void } {
    let fired = false;
    let wake: (() => void) | undefined;
    const sub = this.deps.secrets.onDidChange((e) => {
      if (!keys.includes(e.key)) return;
      fired = true;
      wake?.();
    });
    return {
      wait: (until) =>
        new Promise<void>((resolve, reject) => {
          if (fired) return resolve();
          if (signal.aborted) return reject(new CancelledError(String(signal.reason ?? 'Cancelled.')));
          const done = (err?: unknown) => {
            clearTimeout(timer);
            wake = undefined;
            signal.removeEventListener('abort', onAbort);
            if (err) reject(err);
            else resolve();
          };
          const onAbort = () => done(new CancelledError(String(signal.reason ?? 'Cancelled.')));
          const timer = setTimeout(() => done(), Math.max(0, until - this.now()));
          wake = () => done();
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      dispose: () => sub.dispose(),
    };
  }

  /**
   * One window refreshes at a time: SecretStorage has no compare-and-swap, so a window writes
   * its lease, lets concurrent writers land, and proceeds only if the lease is still its own.
   * While another window holds a live lease, this one waits for the store to change (the
   * rotated token, or the lease released) or for the lease to lapse.
   */
  private async acquireLease(settings: IdpSettings, signal: AbortSignal): Promise<void> {
    const leaseKey = this.leaseKey(settings);
    const deadline = this.now() + 2 * REFRESH_LEASE_MS;
    for (let round = 0; round < 20; round++) {
      // Watch before reading, so a release between the read and the wait is not missed.
      const watch = this.watchStore([leaseKey, this.secretKey(settings)], signal);
      try {
        const lease = await this.readLease(settings);
        if (lease && lease.owner !== this.owner && lease.until > this.now() && this.now() < deadline) {
          await watch.wait(Math.min(lease.until, deadline));
          continue;
        }
      } finally {
        watch.dispose();
      }
      await this.deps.secrets.store(leaseKey, JSON.stringify({ owner: this.owner, until: this.now() + REFRESH_LEASE_MS } satisfies LeaseRecord));
      await sleep(this.deps.leaseSettleMs ?? 150, signal);
      const check = await this.readLease(settings);
      if (check?.owner === this.owner || this.now() >= deadline) return;
    }
  }

  private async releaseLease(settings: IdpSettings): Promise<void> {
    const lease = await this.readLease(settings).catch(() => undefined);
    if (lease?.owner === this.owner) await this.deps.secrets.delete(this.leaseKey(settings));
  }

  // ---- sign-in --------------------------------------------------------------------------------

  /** Interactive sign-in. Rejects with CancelledError on cancel, UserFacingError otherwise. */
  async signIn(ui: SignInUi, options: SignInOptions = {}): Promise<IdentitySession> {
    this.signInAbort?.abort();
    const abort = new AbortController();
    this.signInAbort = abort;
    const epoch = this.epoch;
    const signal = AbortSignal.any([abort.signal, epoch.signal, ...(ui.signal ? [ui.signal] : [])]);
    const settings = this.deps.settings();
    this.setState({ kind: 'signingIn' });
    try {
      if (!isConfigured(settings))
        throw new UserFacingError('config', 'ML Spanner Access is not configured: set mlspanner.idp.issuer and mlspanner.idp.clientId.', 'Open the settings and enter your identity provider.');
      const client = await abortable(this.clientFor(settings), signal);
      const { flow, note } = chooseSignInFlow({
        ...(await this.deps.flowContext()),
        setting: settings.flow,
        deviceFlowSupported: client.deviceFlowSupported,
      });
      this.log('info', `Sign-in at ${hostOf(settings.issuer)} uses the ${flow === 'deviceCode' ? 'device code flow (RFC 8628)' : 'loopback redirect (authorization code + PKCE)'}${settings.flow === 'auto' ? ', chosen for this window' : `, as mlspanner.idp.flow asks`}.`);
      if (note) {
        this.log('warn', note);
        this.deps.onBackgroundError?.(new Error(note));
      }
      this.setState({ kind: 'signingIn', flow });
      await abortable(client.checkClientKnown(), signal);
      const tokens =
        flow === 'deviceCode' ? await this.deviceFlow(client, ui, signal, options) : await this.loopbackFlow(client, ui, signal, options);
      if (epoch.signal.aborted) throw new CancelledError(`Sign-in stopped: ${SETTINGS_CHANGED}`);
      const session = this.build(tokens, settings);
      this.lastRefreshAt = this.now();
      await this.commit(session, settings, tokens.refreshToken, { force: true });
      this.deps.sink.record({
        type: 'signIn',
        outcome: 'success',
        actor: actorOf(session),
        target: 'idp',
        resource: session.issuer,
        detail: `flow ${flow}${options.prompt ? `; prompt ${accountPrompt(options.prompt, client.promptValuesSupported)}` : ''}; groups ${session.groups.join(', ') || 'none'}`,
        tokenFingerprint: tokenFingerprint(session.accessToken),
      });
      return session;
    } catch (e) {
      const settingsChanged = epoch.signal.aborted && epoch.signal.reason === SETTINGS_CHANGED;
      const err = settingsChanged
        ? new CancelledError(`Sign-in stopped: ${SETTINGS_CHANGED}`)
        : signal.aborted && !(e instanceof UserFacingError && e.kind !== 'cancelled')
          ? new CancelledError('Sign-in cancelled.')
          : e;
      this.deps.sink.record({
        type: 'signInFailed',
        outcome: err instanceof CancelledError ? 'cancelled' : 'failure',
        target: 'idp',
        resource: settings.issuer,
        detail: errorMessage(err),
      });
      // A failed or cancelled sign-in keeps an existing session (nothing is lost); after a
      // settings change the state was already set for the new provider.
      if (!epoch.signal.aborted && this._state.kind === 'signingIn' && this.signInAbort === abort)
        this.setState(this.live ? { kind: 'signedIn', session: this.live } : { kind: 'signedOut' });
      throw err;
    } finally {
      if (this.signInAbort === abort) this.signInAbort = undefined;
    }
  }

  cancelSignIn(): void {
    this.signInAbort?.abort();
  }

  private async loopbackFlow(client: OidcApi, ui: SignInUi, signal: AbortSignal, options: SignInOptions): Promise<TokenSet> {
    const server = await LoopbackServer.start();
    try {
      const verifier = loadOidc().randomPKCECodeVerifier();
      const state = loadOidc().randomState();
      const nonce = loadOidc().randomNonce();
      const redirectUri = server.redirectUri;
      const prompt = options.prompt ? accountPrompt(options.prompt, client.promptValuesSupported) : undefined;
      if (prompt) this.log('info', `Sign-in asks the provider to ${prompt === 'select_account' ? 'let you pick the account' : 'ask for your credentials again'} (prompt=${prompt}).`);
      const url = client.authorizationUrl({ redirectUri, codeChallenge: await loadOidc().calculatePKCECodeChallenge(verifier), state, nonce, prompt });
      const waiting = server.waitForCallback({ state, timeoutMs: this.deps.signInTimeoutMs ?? 300_000, signal });
      void ui.openBrowser(url.href).catch(() => false);
      const callback = await waiting;
      return await abortable(client.exchangeCode(callback, { verifier, state, nonce, redirectUri }, this.now()), signal);
    } finally {
      server.close();
    }
  }

  private async deviceFlow(client: OidcApi, ui: SignInUi, signal: AbortSignal, options: SignInOptions): Promise<TokenSet> {
    if (options.prompt) this.log('info', 'The device code flow has no prompt parameter: to use another account, sign out at the provider in the browser that enters the code.');
    const { info, handle } = await abortable(client.startDeviceAuthorization(this.now()), signal);
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

  // ---- sessions from token responses ---------------------------------------------------------

  /** Builds the session from a token response. A refresh without an ID token keeps the earlier one for its claims. */
  private build(tokens: TokenSet, settings: IdpSettings, previous?: IdentitySession, storedClaims?: Record<string, unknown>): IdentitySession {
    const claims = tokens.claims ?? previous?.claims ?? storedClaims;
    if (!claims || typeof claims.sub !== 'string')
      throw new UserFacingError('protocol', 'The identity provider returned no ID token with a subject.', 'Make sure mlspanner.idp.scopes includes "openid".');
    if (previous && previous.subject !== claims.sub)
      throw new UserFacingError('auth', 'The refreshed session belongs to another user.', 'Sign in again.');
    const now = this.now();
    const newIdExpiry = jwtExpiry(tokens.idToken);
    // A new ID token (not the one held, not an older issue) that this machine sees as expired on
    // arrival: the clock here is off, which no refresh or provider setting can fix.
    const heldIat = (previous?.claims ?? storedClaims)?.iat;
    if (tokens.idToken && newIdExpiry !== undefined && newIdExpiry <= now && tokens.idToken !== previous?.idToken && typeof claims.iat === 'number' && (typeof heldIat !== 'number' || claims.iat > heldIat))
      throw new UserFacingError(
        'config',
        `This computer's clock is at least ${Math.max(1, Math.round((now - claims.iat * 1000) / 60_000))} min ahead of the identity provider's: the ID token it just issued (valid until ${new Date(newIdExpiry).toISOString().slice(11, 16)} UTC) has already expired by this clock.`,
        'Set the date and time automatically in your system settings, then sign in again.',
      );
    // A "new" ID token that has already expired (some providers repeat the old one) renews nothing.
    const renewed = Boolean(tokens.idToken) && (newIdExpiry === undefined || newIdExpiry > now);
    const idToken = renewed ? tokens.idToken! : (previous?.idToken ?? tokens.idToken ?? '');
    return {
      issuer: settings.issuer,
      subject: claims.sub,
      name: displayName(claims),
      email: emailOf(claims),
      groups: extractGroups(claims, settings.groupsClaim),
      claims,
      idToken,
      idTokenExpiresAt: (renewed ? newIdExpiry : (jwtExpiry(idToken) ?? previous?.idTokenExpiresAt)) ?? tokens.accessTokenExpiresAt,
      idTokenRenewed: renewed,
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: tokens.accessTokenExpiresAt,
      // RFC 6749 §5.1: a response without `scope` granted what was asked (on refresh: the original grant).
      scopes: tokens.scopes.length ? tokens.scopes : (previous?.scopes ?? settings.scopes),
    };
  }

  /** Stores the (possibly rotated) refresh token, shows the session, schedules its refresh. */
  private async commit(session: IdentitySession, settings: IdpSettings, refreshToken: string | undefined, opts: { force?: boolean; keepStored?: boolean } = {}): Promise<void> {
    // Providers that do not rotate refresh tokens return none on refresh: keep the one we have.
    const rt = refreshToken ?? (opts.force ? undefined : this.record?.refreshToken);
    if (rt && !opts.keepStored) await this.writeRecord(settings, { v: 2, issuer: settings.issuer, clientId: settings.clientId, refreshToken: rt, subject: session.subject, claims: { ...session.claims } });
    else if (!rt) {
      // A new sign-in without a refresh token replaces whatever was stored (another user's, perhaps).
      this.record = undefined;
      if (opts.force) await this.deps.secrets.delete(this.secretKey(settings));
    }
    this.failures = 0;
    this.lastError = undefined;
    this.live = session;
    // A refresh during a new interactive sign-in keeps the sign-in on screen.
    if (this._state.kind !== 'signingIn' || opts.force) this.setState({ kind: 'signedIn', session });
    this.schedule(session);
  }

  /** The earliest time a refresh other than an explicit user Refresh may start. */
  private nextRefreshAllowedAt(): number {
    let t = this.lastRefreshAt !== undefined ? this.lastRefreshAt + MIN_REFRESH_INTERVAL_MS : 0;
    if (this.failures && this.lastFailureAt !== undefined) t = Math.max(t, this.lastFailureAt + retryBackoffMs(this.failures));
    return t;
  }

  private schedule(session: IdentitySession): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.record) return;
    const now = this.now();
    const expiresAt = SessionManager.expiresAt(session);
    const lifetime = Math.max(0, expiresAt - now);
    const dueAt = Math.max(this.failures ? now : now + lifetime - refreshLeadMs(lifetime), this.nextRefreshAllowedAt());
    // The timer fires early by the lease settle time, so the request itself goes out when due.
    const delay = Math.max(0, dueAt - now - (this.deps.leaseSettleMs ?? 150));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow().catch((e) => this.backgroundError(e));
    }, delay);
    // Do not keep a Node process (tests, CLI) alive for a refresh.
    (this.timer as { unref?: () => void }).unref?.();
  }

  // ---- restore and refresh ---------------------------------------------------------------------

  /** Silent restore at startup: uses the stored refresh token; never opens a browser. */
  async restore(): Promise<IdentitySession | undefined> {
    if (this._state.kind === 'signedIn') return this._state.session;
    const settings = this.deps.settings();
    if (!isConfigured(settings)) return undefined;
    const epoch = this.epoch;
    const record = await this.readRecord(settings);
    if (!record || epoch.signal.aborted) return undefined;
    this.record = record;
    try {
      return await this.refreshNow();
    } catch (e) {
      // A refused token was cleared by refresh(). A passing failure (network, 5xx) keeps the
      // stored token, so Refresh or the next start can still restore the session.
      if (e instanceof UserFacingError && (e.kind === 'auth' || e.kind === 'cancelled')) return undefined;
      if (!epoch.signal.aborted && this._state.kind === 'signedOut') this.setState({ kind: 'signedOut', reason: `Could not restore your session: ${errorMessage(e)}` });
      throw e;
    }
  }

  /** Refreshes now, as the user's explicit Refresh: not held back by the minimum interval. A refused refresh token signs out with the reason. */
  refresh(): Promise<IdentitySession> {
    return this.refreshNow();
  }

  /** Single-flight refresh under the lease, with the token read from the store. */
  private refreshNow(): Promise<IdentitySession> {
    if (this.refreshing) return this.refreshing;
    const run = this.runRefresh();
    this.refreshing = run;
    const clear = () => {
      if (this.refreshing === run) this.refreshing = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async runRefresh(): Promise<IdentitySession> {
    const settings = this.deps.settings();
    const epoch = this.epoch;
    const signal = epoch.signal;
    const previous = this.live;
    if (!this.record && !(await this.readRecord(settings)))
      throw new UserFacingError('auth', 'You are not signed in to ML Spanner Access.', 'Sign in from the ML Spanner sidebar.');
    let usedToken: string | undefined;
    try {
      const client = await abortable(this.clientFor(settings), signal);
      await this.acquireLease(settings, signal);
      try {
        // The store is the truth: another window may have rotated the token or signed out.
        let record = await this.readRecord(settings);
        for (let attempt = 0; ; attempt++) {
          if (!record) {
            const reason = previous ? 'You signed out in another window.' : 'You are not signed in to ML Spanner Access.';
            throw new UserFacingError('auth', reason, 'Sign in from the ML Spanner sidebar.', undefined);
          }
          if (record.issuer !== settings.issuer || record.clientId !== settings.clientId) throw new CancelledError(SETTINGS_CHANGED);
          usedToken = record.refreshToken;
          let tokens: TokenSet;
          try {
            tokens = await abortable(client.refresh(record.refreshToken, this.now()), signal);
          } catch (e) {
            if (e instanceof UserFacingError && e.kind === 'auth' && attempt < 2) {
              // invalid_grant: if another window rotated the token meanwhile, adopt its token.
              const latest = await this.readRecord(settings);
              if (latest && latest.refreshToken !== record.refreshToken) {
                this.log('info', 'The refresh token was rotated by another window; using the new one.');
                record = latest;
                continue;
              }
            }
            throw e;
          }
          if (signal.aborted) throw new CancelledError(String(signal.reason));
          // Follow the store if it changed underneath (a sign-in in another window).
          const latest = await this.readRecord(settings);
          const storeMoved = latest !== undefined && latest.refreshToken !== record.refreshToken;
          const sameUser = !previous || record.subject === undefined || record.subject === previous.subject;
          const session = this.build(tokens, settings, sameUser ? previous : undefined, record.claims);
          if (storeMoved && latest.subject !== undefined && latest.subject !== session.subject && attempt < 2) {
            record = latest;
            continue;
          }
          this.lastRefreshAt = this.now();
          await this.commit(session, settings, tokens.refreshToken ?? record.refreshToken, { keepStored: storeMoved });
          if (storeMoved) this.record = latest;
          this.deps.sink.record({
            type: 'sessionRefreshed',
            outcome: 'success',
            actor: actorOf(session),
            target: 'idp',
            resource: session.issuer,
            tokenFingerprint: tokenFingerprint(session.accessToken),
          });
          return session;
        }
      } finally {
        await this.releaseLease(settings);
      }
    } catch (e) {
      if (signal.aborted || (e instanceof UserFacingError && e.kind === 'cancelled')) throw e instanceof CancelledError ? e : new CancelledError(String(signal.reason ?? 'Cancelled.'));
      const err = e instanceof UserFacingError ? e : new UserFacingError('service', errorMessage(e));
      this.deps.sink.record({ type: 'sessionRefreshFailed', outcome: 'failure', target: 'idp', resource: settings.issuer, detail: err.display });
      if (err.kind === 'auth') {
        // Delete the stored token only if it is the one refused; with none used, the store was already empty.
        if (usedToken) await this.forget(settings, usedToken);
        else {
          clearTimeout(this.timer);
          this.timer = undefined;
          this.record = undefined;
        }
        this.live = undefined;
        const reason = err.message.startsWith('You ') ? err.message : `Your session ended: ${err.message}`;
        if (this._state.kind !== 'signingIn') this.setState({ kind: 'signedOut', reason });
        throw new UserFacingError('auth', reason, 'Sign in again.', undefined, { cause: e });
      }
      // Network or server trouble: keep the session and the refresh token, retry with backoff.
      this.failures++;
      this.lastFailureAt = this.now();
      this.lastError = err;
      if (previous && this._state.kind === 'signedIn') {
        this.setState({ kind: 'signedIn', session: previous, refreshError: err.display });
        this.schedule(previous);
      }
      throw err;
    }
  }

  /** Follows a change of the stored record made by another window (or this one). */
  private async syncFromStore(settings: IdpSettings): Promise<void> {
    if (this.disposed || !sameProvider(settings, this.deps.settings())) return;
    const raw = await this.deps.secrets.get(this.secretKey(settings));
    if (!raw) {
      const had = this.record;
      this.record = undefined;
      if (had && this._state.kind === 'signedIn' && !this.refreshing) {
        // Signed out (or refused) in another window: this window follows, without revoking again.
        clearTimeout(this.timer);
        this.timer = undefined;
        this.live = undefined;
        this.log('info', 'Signed out in another window.');
        this.setState({ kind: 'signedOut', reason: 'You signed out in another window.' });
      }
      return;
    }
    const record = await this.readRecord(settings);
    if (!record || record.refreshToken === this.record?.refreshToken) return;
    const s = this.current();
    if (s && (record.subject === undefined || record.subject === s.subject)) {
      // Another window rotated the refresh token: adopt it; this window's access token stays valid.
      this.record = record;
      if (this.timer === undefined && !this.refreshing) this.schedule(s);
      return;
    }
    if (this._state.kind === 'signingIn' || this.refreshing) return;
    // Signed in in another window (or as another user there): this window follows.
    this.log('info', 'Signed in in another window; restoring the session here.');
    this.record = record;
    this.live = undefined;
    await this.refreshNow().catch((e) => this.backgroundError(e));
  }

  async fresh(minValiditySeconds = 60, token?: SubjectTokenKind): Promise<IdentitySession> {
    const s = this.current();
    const need = minValiditySeconds * 1000;
    const now = this.now();
    const validUntil = (x: IdentitySession) =>
      token === 'idToken' ? x.idTokenExpiresAt : token === 'accessToken' ? x.accessTokenExpiresAt : SessionManager.expiresAt(x);
    if (s && validUntil(s) - now > need) return s;
    if (!s || !this.record) {
      if (s && validUntil(s) > now) return s;
      throw new UserFacingError('auth', 'You are not signed in to ML Spanner Access.', 'Sign in from the ML Spanner sidebar.');
    }
    // Refreshing cannot renew an ID token the provider does not re-issue: say so, once per call, no loop.
    if (token === 'idToken' && s.idTokenRenewed === false) throw this.idTokenNotRenewed(s);
    if (this.now() < this.nextRefreshAllowedAt() && !this.refreshing) {
      if (validUntil(s) > now) return s;
      throw (
        this.lastError ??
        new UserFacingError(
          'protocol',
          `The identity provider's tokens expired within ${Math.round((now - (this.lastRefreshAt ?? now)) / 1000)} s of the last refresh; the session is refreshed again from ${new Date(this.nextRefreshAllowedAt()).toISOString().slice(11, 19)} UTC.`,
          'Retry in a moment. If it keeps happening, ask the identity provider administrator for tokens that live at least a few minutes.',
        )
      );
    }
    const r = await this.refreshNow();
    if (token === 'idToken' && r.idTokenRenewed === false && r.idTokenExpiresAt - this.now() <= need) throw this.idTokenNotRenewed(r);
    return r;
  }

  private idTokenNotRenewed(s: IdentitySession): UserFacingError {
    const when = s.idTokenExpiresAt > this.now() ? `expires at ${new Date(s.idTokenExpiresAt).toISOString().slice(11, 16)} UTC` : `expired at ${new Date(s.idTokenExpiresAt).toISOString().slice(11, 16)} UTC`;
    return new UserFacingError(
      'auth',
      `The identity provider at ${hostOf(s.issuer)} does not issue a new ID token when the session is refreshed, and the one from sign-in ${when}.`,
      'Sign in again to get a new ID token, or set the target\'s subjectToken to "accessToken" if it accepts the access token.',
    );
  }

  // ---- sign-out and settings ------------------------------------------------------------------

  /**
   * Signs out in every window: revokes the refresh token where the IdP offers revocation
   * (RFC 7009) and deletes the stored record (other windows follow it). With
   * `endProviderSession`, also returns the provider's end-session URL for the shell to open.
   */
  async signOut(options: SignOutOptions = {}): Promise<SignOutResult> {
    const settings = this.deps.settings();
    const session = this.current() ?? this.live;
    const rt = this.record?.refreshToken ?? (isConfigured(settings) ? (await this.readRecord(settings).catch(() => undefined))?.refreshToken : undefined);
    // Nothing started before the sign-out may store a token after it.
    this.newEpoch('Signed out.');
    await this.forget(settings);
    await this.releaseLease(settings).catch(() => undefined);
    this.live = undefined;
    this.lastRefreshAt = undefined;
    this.setState({ kind: 'signedOut' });
    let revoked = false;
    let revokeError: string | undefined;
    let endSessionUrl: string | undefined;
    if (isConfigured(settings) && (rt || options.endProviderSession)) {
      try {
        const client = await this.clientFor(settings);
        if (rt) {
          await client.revoke(rt);
          revoked = client.revocationSupported;
        }
        if (options.endProviderSession) endSessionUrl = client.endSessionUrl?.({ idTokenHint: session?.idToken || undefined })?.href;
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
      detail:
        (revoked ? 'refresh token revoked' : revokeError ? `revocation failed: ${revokeError}` : 'no revocation endpoint') +
        (options.endProviderSession ? (endSessionUrl ? '; provider session end requested' : '; the provider offers no end-session endpoint') : ''),
    });
    return { revoked, revokeError, endSessionUrl };
  }

  /**
   * Settings that identify the provider changed: everything in flight for the old provider is
   * cancelled (its client sends nothing more), its session leaves this window, and a session
   * stored for the new provider, if any, is restored. The old provider's record stays in the
   * store, bound to it, so switching back restores that session.
   */
  async settingsChanged(previous: IdpSettings): Promise<void> {
    const now = this.deps.settings();
    if (sameProvider(previous, now)) {
      if (previous.scopes.join(' ') !== now.scopes.join(' ')) this.closeClient();
      if (previous.groupsClaim !== now.groupsClaim && this.current()) {
        const s = this.current()!;
        this.live = { ...s, groups: extractGroups(s.claims, now.groupsClaim) };
        this.setState({ kind: 'signedIn', session: this.live });
      }
      return;
    }
    this.newEpoch(SETTINGS_CHANGED);
    this.closeClient();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.record = undefined;
    this.live = undefined;
    this.failures = 0;
    this.lastError = undefined;
    this.lastRefreshAt = undefined;
    this.setState({ kind: 'signedOut', reason: SETTINGS_CHANGED });
    if (!isConfigured(now)) return;
    await this.restore().catch((e) => this.log('warn', `Could not restore the session for ${hostOf(now.issuer)}: ${errorMessage(e)}`));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.newEpoch('Closed.');
    this.secretSub.dispose();
    this.closeClient();
    const settings = this.deps.settings();
    if (isConfigured(settings)) void this.releaseLease(settings).catch(() => undefined);
    this.changed.dispose();
  }
}
