import * as oidc from 'openid-client';
import { UserFacingError } from '../errors';
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

/** Maps what openid-client and fetch throw to errors that say what failed, why and what to do. */
export function describeOidcError(e: unknown, issuer: string, stage: string): UserFacingError {
  if (e instanceof UserFacingError) return e;
  if (e instanceof oidc.AuthorizationResponseError || e instanceof oidc.ResponseBodyError) {
    const code = e.error;
    const desc = e.error_description ? redact(e.error_description) : undefined;
    const why = desc ? `${code}: ${desc}` : code;
    if (code === 'invalid_client' || code === 'unauthorized_client')
      return new UserFacingError('config', `The identity provider does not know this client (${why}).`, 'Check mlspanner.idp.clientId.', undefined, { cause: e });
    if (code === 'invalid_grant')
      return new UserFacingError('auth', `The identity provider refused the ${stage} (${why}).`, 'Sign in again.', undefined, { cause: e });
    if (code === 'invalid_scope')
      return new UserFacingError('config', `The identity provider refused the requested scopes (${why}).`, 'Check mlspanner.idp.scopes.', undefined, { cause: e });
    if (code === 'access_denied')
      return new UserFacingError('auth', `Sign-in was denied (${why}).`, 'Ask your administrator for access to this application, then sign in again.', undefined, { cause: e });
    return new UserFacingError('service', `The identity provider refused the ${stage} (${why}).`, undefined, undefined, { cause: e });
  }
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const netCode = err.cause?.code ?? err.code;
  if (err.code === 'OAUTH_TIMEOUT' || (e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError' && stage !== 'sign-in')
    return new UserFacingError('network', `The identity provider at ${issuer} did not answer in time (${stage}).`, 'Check your network or VPN, then retry.', undefined, { cause: e });
  if (e instanceof TypeError && err.message === 'fetch failed' && !netCode)
    return new UserFacingError('network', `Cannot reach the identity provider at ${issuer} (${err.cause?.message ?? 'fetch failed'}).`, 'Check mlspanner.idp.issuer and your network or VPN.', undefined, { cause: e });
  if (netCode && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(netCode))
    return new UserFacingError('network', `Cannot reach the identity provider at ${issuer} (${netCode}).`, 'Check mlspanner.idp.issuer and your network or VPN.', undefined, { cause: e });
  if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err.code === 'OAUTH_INVALID_RESPONSE' || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    const msg = redact(err.message ?? '');
    if (stage === 'discovery')
      return new UserFacingError('config', `${issuer} did not return an OpenID Connect discovery document (${msg}).`, 'Check mlspanner.idp.issuer: it must be the issuer URL, without /.well-known/openid-configuration.', undefined, { cause: e });
    return new UserFacingError('protocol', `The identity provider sent a malformed response during ${stage} (${msg}).`, 'Retry; if it persists, contact your identity provider administrator.', undefined, { cause: e });
  }
  if (err.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || err.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || err.code === 'OAUTH_INVALID_RESPONSE')
    return new UserFacingError('protocol', `The identity provider's ID token failed validation (${redact(err.message ?? '')}).`, 'Check the system clock and mlspanner.idp.issuer.', undefined, { cause: e });
  return new UserFacingError('service', `Sign-in failed during ${stage}: ${redact(err.message || String(e))}.`, undefined, undefined, { cause: e });
}

/**
 * The OpenID Connect client: discovery, authorization code + PKCE, device code, refresh and
 * revocation, all through openid-client (which validates ID tokens, `state`, `nonce` and
 * RFC 9207 `iss`).
 */
export class OidcClient {
  private constructor(
    readonly settings: OidcSettings,
    readonly config: oidc.Configuration,
  ) {}

  static async discover(settings: OidcSettings): Promise<OidcClient> {
    const url = validateIssuer(settings.issuer);
    if (!settings.clientId) throw new UserFacingError('config', 'mlspanner.idp.clientId is empty.', 'Set it to the client id of the ML Spanner Access application at your identity provider.');
    const execute = url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
    try {
      const config = await oidc.discovery(url, settings.clientId, { token_endpoint_auth_method: 'none' }, oidc.None(), {
        execute,
        timeout: settings.timeoutSeconds ?? 30,
      });
      return new OidcClient(settings, config);
    } catch (e) {
      throw describeOidcError(e, settings.issuer, 'discovery');
    }
  }

  get deviceFlowSupported(): boolean {
    return typeof this.config.serverMetadata().device_authorization_endpoint === 'string';
  }

  get revocationSupported(): boolean {
    return typeof this.config.serverMetadata().revocation_endpoint === 'string';
  }

  /**
   * Asks the token endpoint whether it knows the client before a browser is opened: an unknown
   * client otherwise strands the user on the IdP's error page while VS Code waits. A known
   * public client gets `invalid_grant` for a dummy refresh token; an unknown one `invalid_client`
   * (RFC 6749 §5.2). Any other outcome is inconclusive and ignored.
   */
  async checkClientKnown(): Promise<void> {
    try {
      await oidc.refreshTokenGrant(this.config, 'mlspanner-client-check');
    } catch (e) {
      if (e instanceof oidc.ResponseBodyError && (e.error === 'invalid_client' || e.error === 'unauthorized_client'))
        throw describeOidcError(e, this.settings.issuer, 'client check');
    }
  }

  authorizationUrl(p: { redirectUri: string; codeChallenge: string; state: string; nonce: string }): URL {
    return oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: p.redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: p.codeChallenge,
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
    });
  }

  async exchangeCode(callback: URL, checks: { verifier: string; state: string; nonce: string; redirectUri: string }, now = Date.now()): Promise<TokenSet> {
    try {
      const res = await oidc.authorizationCodeGrant(this.config, callback, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      }, { redirect_uri: checks.redirectUri });
      return toTokenSet(res, now);
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'sign-in');
    }
  }

  async startDeviceAuthorization(now = Date.now()): Promise<{ info: DeviceCodeInfo; handle: oidc.DeviceAuthorizationResponse }> {
    try {
      const handle = await oidc.initiateDeviceAuthorization(this.config, { scope: this.settings.scopes.join(' ') });
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
      throw describeOidcError(e, this.settings.issuer, 'device authorization');
    }
  }

  /** Polls per RFC 8628 §3.5 (interval, slow_down +5 s, expiry) until the user finishes. */
  async pollDevice(handle: oidc.DeviceAuthorizationResponse, signal: AbortSignal): Promise<TokenSet> {
    try {
      return toTokenSet(await oidc.pollDeviceAuthorizationGrant(this.config, handle, undefined, { signal }), Date.now());
    } catch (e) {
      if (signal.aborted) throw e;
      if (e instanceof oidc.ResponseBodyError && e.error === 'expired_token')
        throw new UserFacingError('auth', 'The device code expired before sign-in was completed.', 'Click Sign In to get a new code.');
      throw describeOidcError(e, this.settings.issuer, 'device sign-in');
    }
  }

  async refresh(refreshToken: string, now = Date.now()): Promise<TokenSet> {
    try {
      const res = await oidc.refreshTokenGrant(this.config, refreshToken, { scope: this.settings.scopes.join(' ') });
      return toTokenSet(res, now);
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'session refresh');
    }
  }

  /** RFC 7009: revokes the refresh token (which also ends its access tokens at most IdPs). */
  async revoke(refreshToken: string): Promise<void> {
    if (!this.revocationSupported) return;
    try {
      await oidc.tokenRevocation(this.config, refreshToken, { token_type_hint: 'refresh_token' });
    } catch (e) {
      throw describeOidcError(e, this.settings.issuer, 'revocation');
    }
  }
}

/** What sign-in uses of the client: the seam for tests. */
export type OidcApi = Pick<
  OidcClient,
  'deviceFlowSupported' | 'revocationSupported' | 'checkClientKnown' | 'authorizationUrl' | 'exchangeCode' | 'startDeviceAuthorization' | 'pollDevice' | 'refresh' | 'revoke'
>;

function toTokenSet(res: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, now: number): TokenSet {
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
