import type * as oidc from 'openid-client';
import type { OidcApi, TokenSet } from '../../../src/core/auth/OidcClient';
import { UserFacingError } from '../../../src/core/errors';
import type { SignInUi } from '../../../src/core/auth/SessionManager';

/** An unsigned JWT with an `exp`: enough for the session to read its expiry. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(claims)}.sig`;
}

export interface FakeProviderOptions {
  issuer?: string;
  /** OIDC Core §12.2: a provider may answer a refresh without a new ID token. */
  idTokenOnRefresh?: boolean;
  /** Refresh-token rotation: each refresh returns a new token and the used one is refused afterwards. */
  rotate?: boolean;
  accessTtlMs?: number;
  idTtlMs?: number;
  promptValuesSupported?: string[];
  endSessionEndpoint?: string;
}

/**
 * A scripted OpenID provider behind the OidcApi seam: a real grant per sign-in with a live
 * refresh token, rotation with reuse detection (a used token is `invalid_grant`, as at Okta,
 * Auth0 and oidc-provider), and a record of every token it was sent.
 */
export class FakeProvider {
  readonly issuer: string;
  refreshes = 0;
  readonly received: string[] = [];
  readonly authorizationUrls: URL[] = [];
  private serial = 0;
  private readonly live = new Set<string>();
  private readonly user = { sub: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['ml-dev'] };
  /** Make each refresh wait for this promise (to hold one in flight). */
  gate?: Promise<void>;

  constructor(
    private readonly now: () => number,
    private readonly opts: FakeProviderOptions = {},
  ) {
    this.issuer = opts.issuer ?? 'https://idp.example.com';
  }

  signInAs(sub: string, name = sub): void {
    Object.assign(this.user, { sub, name, email: `${sub}@example.com` });
  }

  private issue(withIdToken: boolean, rt?: string): TokenSet {
    const n = ++this.serial;
    const now = this.now();
    const claims = { ...this.user, iss: this.issuer, exp: Math.floor((now + (this.opts.idTtlMs ?? 3_600_000)) / 1000) };
    const refreshToken = rt ?? `${this.issuer}#rt-${n}`;
    this.live.add(refreshToken);
    return {
      accessToken: `at-${n}`,
      accessTokenExpiresAt: now + (this.opts.accessTtlMs ?? 3_600_000),
      idToken: withIdToken ? fakeJwt(claims) : undefined,
      refreshToken,
      scopes: ['openid', 'profile'],
      claims: withIdToken ? claims : undefined,
    };
  }

  api(): OidcApi {
    return {
      deviceFlowSupported: true,
      revocationSupported: true,
      endSessionSupported: Boolean(this.opts.endSessionEndpoint),
      promptValuesSupported: this.opts.promptValuesSupported,
      checkClientKnown: async () => undefined,
      authorizationUrl: (p) => {
        const u = new URL(`${this.issuer}/auth`);
        u.searchParams.set('redirect_uri', p.redirectUri);
        u.searchParams.set('state', p.state);
        if (p.prompt) u.searchParams.set('prompt', p.prompt);
        this.authorizationUrls.push(u);
        return u;
      },
      exchangeCode: async () => this.issue(true),
      startDeviceAuthorization: async () => ({
        info: { userCode: 'ABCD-EFGH', verificationUri: `${this.issuer}/device`, expiresAt: this.now() + 600_000 },
        handle: {} as oidc.DeviceAuthorizationResponse,
      }),
      pollDevice: async () => this.issue(true),
      refresh: async (rt) => {
        this.received.push(rt);
        this.refreshes++;
        if (this.gate) await this.gate;
        if (!this.live.has(rt)) throw new UserFacingError('auth', 'The identity provider refused the session refresh (invalid_grant: refresh token already used).');
        if (this.opts.rotate) this.live.delete(rt);
        return this.issue(this.opts.idTokenOnRefresh !== false, this.opts.rotate ? undefined : rt);
      },
      revoke: async (rt) => {
        this.received.push(rt);
        this.live.delete(rt);
      },
      endSessionUrl: (p) => {
        if (!this.opts.endSessionEndpoint) return undefined;
        const u = new URL(this.opts.endSessionEndpoint);
        u.searchParams.set('client_id', 'cid');
        if (p.idTokenHint) u.searchParams.set('id_token_hint', p.idTokenHint);
        return u;
      },
    };
  }
}

/** A browser that follows the authorization URL straight to the loopback callback. */
export function followingBrowser(): SignInUi {
  return {
    openBrowser: async (url) => {
      const u = new URL(url);
      const cb = new URL(u.searchParams.get('redirect_uri')!);
      cb.searchParams.set('code', 'the-code');
      cb.searchParams.set('state', u.searchParams.get('state')!);
      await fetch(cb);
      return true;
    },
    showDeviceCode: () => undefined,
  };
}
