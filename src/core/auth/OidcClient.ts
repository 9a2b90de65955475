import type * as Oidc from 'openid-client';
import { loadOidc } from './loadOidc';
import { Remedies, UserFacingError, type Remedy } from '../errors';
import { redact } from '../redact';
import { checkEndpointUrl, isLoopbackHost } from '../policy/endpointUrl';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  scopes: string[];
  /** Seconds for each HTTP request to the IdP. */
  timeoutSeconds?: number;
}

export interface TokenSet {
  accessToken: string;
  /** Epoch ms. */
  accessTokenExpiresAt: number;
  idToken?: string;
  refreshToken?: string;
  scopes: string[];
  /** ID token claims, validated by openid-client (signature, iss, aud, exp, nonce). */
  claims?: Record<string, unknown>;
}

export interface DeviceCodeInfo {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresAt: number;
}

export { isLoopbackHost };

/** Validates the issuer setting: https, or http for loopback hosts only; no credentials or query. */
export function validateIssuer(issuer: string): URL {
  const checked = checkEndpointUrl(issuer);
  if ('error' in checked)
    throw new UserFacingError('config', `The setting mlspanner.idp.issuer ("${issuer}") ${checked.error}.`, "Set it to your identity provider's issuer URL, e.g. https://login.example.com/oauth2/default.");
  return new URL(issuer);
}

/** Error codes of a connection that never got an HTTP answer: refused, reset, DNS, TLS, closed. */
const NETWORK_CODE =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENETDOWN|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|UND_ERR_CLOSED|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL)/;

/** The first network error code anywhere in a cause chain (undici nests it in `cause`, AggregateError in `errors`). */
export function networkErrorCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 6) return undefined;
  const err = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof err.code === 'string' && NETWORK_CODE.test(err.code)) return err.code;
  if (Array.isArray(err.errors)) for (const inner of err.errors) {
    const code = networkErrorCode(inner, depth + 1);
    if (code) return code;
  }
  return networkErrorCode(err.cause, depth + 1);
}

/** True when an `access_denied` reads as the provider's policy rather than the user's own refusal. */
function deniedByPolicy(description: string | undefined): boolean {
  return /not (been )?assigned|administrator|admin\b|policy|not allowed|not permitted|not authori[sz]ed|unauthori[sz]ed|conditional access|blocked|disabled|AADSTS50105|AADSTS53/i.test(description ?? '');
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Where a request went, for a message: the issuer as configured, or another endpoint's origin. */
function whereOf(issuer: string, endpoint: string): string {
  if (endpoint === issuer) return issuer;
  try {
    return new URL(endpoint).origin;
  } catch {
    return issuer;
  }
}

/**
 * Maps what openid-client and fetch throw to errors that say what failed, why and what to do.
 * `endpoint` is the URL the failing request went to (the token endpoint may live on another
 * host than the issuer); it names the unreachable host.
 */
export function describeOidcError(e: unknown, issuer: string, stage: string, endpoint: string = issuer): UserFacingError {
  if (e instanceof UserFacingError) return e;
  const withRemedies = (err: UserFacingError): UserFacingError => {
    const remedies = remediesFor(err, stage);
    return remedies.length ? new UserFacingError(err.kind, err.message, err.action, err.detail, { cause: err.cause, remedies }) : err;
  };
  return withRemedies(describe(e, issuer, stage, endpoint));
}

/**
 * The buttons an identity-provider error offers: the setting its action names (Open Settings at
 * that key) and, for a passing network or service trouble, Retry of the step that failed.
 */
function remediesFor(err: UserFacingError, stage: string): Remedy[] {
  const out: Remedy[] = [];
  const key = /mlspanner\.idp\.(issuer|clientId|scopes)/.exec(err.display)?.[0];
  if (key) out.push(Remedies.openSettings(key));
  // "…click Sign In again…": the button it names.
  if (err.kind === 'auth' && /\bSign In again\b/.test(err.display)) out.push(Remedies.signIn);
  if (err.kind === 'network' || err.kind === 'service') {
    if (stage === 'session refresh') out.push(Remedies.retry('mlspanner.refreshCredentials'));
    else if (stage !== 'revocation') out.push(Remedies.retry('mlspanner.signIn'));
  }
  return out;
}

function describe(e: unknown, issuer: string, stage: string, endpoint: string): UserFacingError {
  if (e instanceof loadOidc().AuthorizationResponseError || e instanceof loadOidc().ResponseBodyError) {
    const code = e.error;
    const desc = e.error_description ? redact(e.error_description) : undefined;
    const why = desc ? `${code}: ${desc}` : code;
    if (code === 'invalid_client' || code === 'unauthorized_client')
      return new UserFacingError('config', `The identity provider does not know this client (${why}).`, 'Check mlspanner.idp.clientId.', undefined, { cause: e });
    if (code === 'invalid_grant')
      return new UserFacingError('auth', `The identity provider refused the ${stage} (${why}).`, 'Sign in again.', undefined, { cause: e });
    if (code === 'invalid_scope')
      return new UserFacingError('config', `The identity provider refused the requested scopes (${why}).`, 'Check mlspanner.idp.scopes.', undefined, { cause: e });
    if (code === 'access_denied') {
      // RFC 6749 §4.1.2.1 / RFC 8628 §3.5: the resource owner (or the server) denied the request.
      if (deniedByPolicy(e.error_description))
        return new UserFacingError('auth', `The identity provider denied the sign-in (${why}).`, 'Ask your administrator for access to this application, then sign in again.', undefined, { cause: e });
      return new UserFacingError('auth', `You declined the sign-in at ${hostOf(issuer)} (${why}).`, 'To sign in, click Sign In again and allow ML Spanner Access when the provider asks.', undefined, { cause: e });
    }
    return new UserFacingError('service', `The identity provider refused the ${stage} (${why}).`, undefined, undefined, { cause: e });
  }
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.code === 'OAUTH_TIMEOUT' || (e as Error)?.name === 'TimeoutError' || ((e as Error)?.name === 'AbortError' && stage !== 'sign-in'))
    return new UserFacingError('network', `The identity provider at ${whereOf(issuer, endpoint)} did not answer in time (${stage}).`, 'Check your network or VPN, then retry.', undefined, { cause: e });
  const netCode = networkErrorCode(e);
  if (netCode)
    return new UserFacingError('network', `Cannot reach the identity provider at ${whereOf(issuer, endpoint)} (${netCode}) during ${stage}: it is unreachable from this machine.`, 'Check mlspanner.idp.issuer and your network or VPN, then retry.', undefined, { cause: e });
  if (isFetchFailure(e))
    return new UserFacingError('network', `Cannot reach the identity provider at ${whereOf(issuer, endpoint)} during ${stage} (${redact(deepestMessage(e))}): it is unreachable from this machine.`, 'Check mlspanner.idp.issuer and your network or VPN, then retry.', undefined, { cause: e });
  if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err.code === 'OAUTH_INVALID_RESPONSE' || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    // An overloaded or down provider (429, 5xx) is not a malformed answer: say what it is.
    const status = (err.cause as { status?: unknown } | undefined)?.status;
    if (typeof status === 'number' && (status === 429 || status >= 500))
      return new UserFacingError('service', `The identity provider at ${whereOf(issuer, endpoint)} is unavailable (HTTP ${status}) during ${stage}.`, 'It is having trouble: retry in a few minutes.', undefined, { cause: e });
    const msg = redact(err.message ?? '');
    if (stage === 'discovery')
      return new UserFacingError('config', `${issuer} did not return an OpenID Connect discovery document (${msg}).`, 'Check mlspanner.idp.issuer: it must be the issuer URL, without /.well-known/openid-configuration.', undefined, { cause: e });
    return new UserFacingError('protocol', `The identity provider sent a malformed response during ${stage} (${msg}).`, 'Retry; if it persists, contact your identity provider administrator.', undefined, { cause: e });
  }
  if (err.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || err.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || err.code === 'OAUTH_INVALID_RESPONSE')
    return new UserFacingError('protocol', `The identity provider's ID token failed validation (${redact(err.message ?? '')}).`, 'Check the system clock and mlspanner.idp.issuer.', undefined, { cause: e });
  return new UserFacingError('service', `Sign-in failed during ${stage}: ${redact(err.message || String(e))}.`, undefined, undefined, { cause: e });
}

/** fetch's own "fetch failed" (undici), possibly wrapped by openid-client: no HTTP answer came back. */
function isFetchFailure(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 6) return false;
  if (e instanceof TypeError && e.message === 'fetch failed') return true;
  return isFetchFailure((e as { cause?: unknown }).cause, depth + 1);
}

function deepestMessage(e: unknown): string {
  let cur = e as { message?: string; cause?: unknown } | undefined;
  let msg = 'fetch failed';
  for (let i = 0; cur && typeof cur === 'object' && i < 6; i++) {
    if (cur.message) msg = cur.message;
    cur = cur.cause as typeof cur;
  }
  return msg;
}

/** The discovery document's endpoints that ML Spanner Access sends requests or the user to. */
export const PROVIDER_ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'device_authorization_endpoint',
  'revocation_endpoint',
  'jwks_uri',
  'end_session_endpoint',
] as const;

/**
 * Checks every endpoint the discovery document names: https, or plain http only to a loopback
 * host (RFC 8252 §8.3), and no credentials in the URL. A loopback http issuer does not make the
 * other endpoints safe: each is checked on its own. Returns the problems, worded for the user.
 */
export function checkProviderEndpoints(metadata: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const name of PROVIDER_ENDPOINTS) {
    const value = metadata[name];
    if (value === undefined) continue;
    let u: URL;
    try {
      if (typeof value !== 'string') throw new Error('not a string');
      u = new URL(value);
    } catch {
      problems.push(`${name} is not a URL`);
      continue;
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname)))
      problems.push(`${name} ${u.protocol}//${u.host}${u.pathname} is not https (plain http is allowed for loopback hosts only)`);
    else if (u.username || u.password) problems.push(`${name} contains credentials`);
  }
  return problems;
}

/** Which `prompt` to send for "sign in as a different user" (OIDC Core §3.1.2.1). */
export type AccountPrompt = 'login' | 'select_account';

/**
 * `select_account` only where the provider lists it in `prompt_values_supported`; otherwise
 * `login` (re-authenticate), which every OpenID provider understands.
 */
export function accountPrompt(requested: AccountPrompt, promptValuesSupported: unknown): AccountPrompt {
  if (requested === 'select_account' && Array.isArray(promptValuesSupported) && promptValuesSupported.includes('select_account')) return 'select_account';
  return 'login';
}

/**
 * The OpenID Connect client: discovery, authorization code + PKCE, device code, refresh and
 * revocation, all through openid-client (which validates ID tokens, `state`, `nonce` and
 * RFC 9207 `iss`). Every request it makes is cut off by `close()`, so a client for settings that
 * changed sends nothing more.
 */
export class OidcClient {
  private constructor(
    readonly settings: OidcSettings,
    readonly config: Oidc.Configuration,
    private readonly lifetime: AbortController,
  ) {}

  static async discover(settings: OidcSettings, signal?: AbortSignal): Promise<OidcClient> {
    const url = validateIssuer(settings.issuer);
    if (!settings.clientId) throw new UserFacingError('config', 'mlspanner.idp.clientId is empty.', 'Set it to the client id of the ML Spanner Access application at your identity provider.');
    const lifetime = new AbortController();
    const onAbort = () => lifetime.abort();
    signal?.addEventListener('abort', onAbort);
    const fetchWithLifetime: Oidc.CustomFetch = (input, init) =>
      fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, lifetime.signal]) : lifetime.signal } as RequestInit);
    const execute = url.protocol === 'http:' ? [loadOidc().allowInsecureRequests] : [];
    try {
      const config = await loadOidc().discovery(url, settings.clientId, { token_endpoint_auth_method: 'none' }, loadOidc().None(), {
        execute,
        timeout: settings.timeoutSeconds ?? 30,
        [loadOidc().customFetch]: fetchWithLifetime,
      });
      const problems = checkProviderEndpoints(config.serverMetadata() as Record<string, unknown>);
      if (problems.length)
        throw new UserFacingError(
          'config',
          `The identity provider at ${settings.issuer} names endpoints that tokens must not be sent to: ${problems.join('; ')}.`,
          'Check mlspanner.idp.issuer; the provider administrator must publish https endpoints in its discovery document.',
        );
      // openid-client then allows http for these (loopback-only) endpoints as well.
      if (PROVIDER_ENDPOINTS.some((n) => String(config.serverMetadata()[n] ?? '').startsWith('http:'))) loadOidc().allowInsecureRequests(config);
      config[loadOidc().customFetch] = fetchWithLifetime;
      return new OidcClient(settings, config, lifetime);
    } catch (e) {
      lifetime.abort();
      throw describeOidcError(e, settings.issuer, 'discovery');
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Cuts off every request this client has in flight and refuses new ones. */
  close(): void {
    this.lifetime.abort();
  }

  private endpoint(name: (typeof PROVIDER_ENDPOINTS)[number]): string {
    const v = this.config.serverMetadata()[name];
    return typeof v === 'string' ? v : this.settings.issuer;
  }

  get deviceFlowSupported(): boolean {
    return typeof this.config.serverMetadata().device_authorization_endpoint === 'string';
  }

  get revocationSupported(): boolean {
    return typeof this.config.serverMetadata().revocation_endpoint === 'string';
  }

  /** RP-Initiated Logout 1.0: the provider can end its own browser session. */
  get endSessionSupported(): boolean {
    return typeof this.config.serverMetadata().end_session_endpoint === 'string';
  }

  /** `prompt_values_supported` from discovery (OIDC Discovery / Prompt Create §4.1), when given. */
  get promptValuesSupported(): string[] | undefined {
    const v = (this.config.serverMetadata() as Record<string, unknown>).prompt_values_supported;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  }

  /**
   * Asks the token endpoint whether it knows the client before a browser is opened: an unknown
   * client otherwise strands the user on the IdP's error page while VS Code waits. A known
   * public client gets `invalid_grant` for a dummy refresh token; an unknown one `invalid_client`
   * (RFC 6749 §5.2). Any other outcome is inconclusive and ignored.
   */
  async checkClientKnown(): Promise<void> {
    try {
      await loadOidc().refreshTokenGrant(this.config, 'mlspanner-client-check');
    } catch (e) {
      if (e instanceof loadOidc().ResponseBodyError && (e.error === 'invalid_client' || e.error === 'unauthorized_client'))
        throw describeOidcError(e, this.settings.issuer, 'client check', this.endpoint('token_endpoint'));
      const net = describeOidcError(e, this.settings.issuer, 'client check', this.endpoint('token_endpoint'));
      if (net.kind === 'network') throw net;
    }
  }

  authorizationUrl(p: { redirectUri: string; codeChallenge: string; state: string; nonce: string; prompt?: AccountPrompt }): URL {
    return loadOidc().buildAuthorizationUrl(this.config, {
      redirect_uri: p.redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: p.codeChallenge,
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
      ...(p.prompt ? { prompt: p.prompt } : {}),
    });
  }

  /**
   * RP-Initiated Logout 1.0 §2: the end-session URL with `id_token_hint` and `client_id`, for the
   * browser. Undefined when the provider has no end-session endpoint. The URL carries the ID
   * token: open it, never log it.
   */
  endSessionUrl(p: { idTokenHint?: string }): URL | undefined {
    if (!this.endSessionSupported) return undefined;
    const params: Record<string, string> = { client_id: this.settings.clientId };
    if (p.idTokenHint) params.id_token_hint = p.idTokenHint;
    return loadOidc().buildEndSessionUrl(this.config, params);
  }

  async exchangeCode(callback: URL, checks: { verifier: string; state: string; nonce: string; redirectUri: string }, now = Date.now()): Promise<TokenSet> {
    try {
      const res = await loadOidc().authorizationCodeGrant(this.config, callback, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      }, { redirect_uri: checks.redirectUri });
      return toTokenSet(res, now);
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'sign-in', this.endpoint('token_endpoint'));
    }
  }

  async startDeviceAuthorization(now = Date.now()): Promise<{ info: DeviceCodeInfo; handle: Oidc.DeviceAuthorizationResponse }> {
    try {
      const handle = await loadOidc().initiateDeviceAuthorization(this.config, { scope: this.settings.scopes.join(' ') });
      return {
        handle,
        info: {
          userCode: handle.user_code,
          verificationUri: handle.verification_uri,
          verificationUriComplete: handle.verification_uri_complete,
          expiresAt: now + handle.expires_in * 1000,
        },
      };
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'device authorization', this.endpoint('device_authorization_endpoint'));
    }
  }

  /** Polls per RFC 8628 §3.5 (interval, slow_down +5 s, expiry) until the user finishes. */
  async pollDevice(handle: Oidc.DeviceAuthorizationResponse, signal: AbortSignal): Promise<TokenSet> {
    try {
      return toTokenSet(await loadOidc().pollDeviceAuthorizationGrant(this.config, handle, undefined, { signal }), Date.now());
    } catch (e) {
      if (signal.aborted) throw e;
      if (e instanceof loadOidc().ResponseBodyError && e.error === 'expired_token')
        throw new UserFacingError('auth', 'The device code expired before sign-in was completed.', 'Click Sign In to get a new code.');
      throw describeOidcError(e, this.settings.issuer, 'device sign-in', this.endpoint('token_endpoint'));
    }
  }

  /**
   * RFC 6749 §6: a refresh asks for no `scope`, which means the scope originally granted. Asking
   * again for the configured list fails with `invalid_scope` at providers that granted less
   * (e.g. `offline_access` only with consent).
   */
  async refresh(refreshToken: string, now = Date.now()): Promise<TokenSet> {
    try {
      const res = await loadOidc().refreshTokenGrant(this.config, refreshToken);
      return toTokenSet(res, now);
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'session refresh', this.endpoint('token_endpoint'));
    }
  }

  /** RFC 7009: revokes the refresh token (which also ends its access tokens at most IdPs). */
  async revoke(refreshToken: string): Promise<void> {
    if (!this.revocationSupported) return;
    try {
      await loadOidc().tokenRevocation(this.config, refreshToken, { token_type_hint: 'refresh_token' });
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'revocation', this.endpoint('revocation_endpoint'));
    }
  }
}

/** What sign-in uses of the client: the seam for tests. */
export type OidcApi = Pick<
  OidcClient,
  'deviceFlowSupported' | 'revocationSupported' | 'checkClientKnown' | 'authorizationUrl' | 'exchangeCode' | 'startDeviceAuthorization' | 'pollDevice' | 'refresh' | 'revoke'
> &
  Partial<Pick<OidcClient, 'endSessionSupported' | 'promptValuesSupported' | 'endSessionUrl' | 'close'>>;

function toTokenSet(res: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers, now: number): TokenSet {
  if (!res.access_token) throw new UserFacingError('protocol', 'The identity provider returned no access token.', 'Contact your identity provider administrator.');
  const expiresIn = res.expiresIn() ?? 3600;
  return {
    accessToken: res.access_token,
    accessTokenExpiresAt: now + expiresIn * 1000,
    idToken: res.id_token,
    refreshToken: res.refresh_token,
    scopes: typeof res.scope === 'string' ? res.scope.split(' ').filter(Boolean) : [],
    claims: res.claims() as Record<string, unknown> | undefined,
  };
}
