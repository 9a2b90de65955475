import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import Provider, { errors, type KoaContext } from 'oidc-provider';
import { closeServer, isLoopbackAddress, listen, logRequest, readBody, sendJson, sendText } from '../LoopbackServer';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage, loginPage } from './pages';
import { MemoryStore } from './MemoryStore';
import { DEMO_USERS, findUser, userClaims, type DemoUser } from './users';

export const SANDBOX_CLIENT_ID = 'mlspanner-vscode';
/** RFC 8707 resource the IdP's JWT access tokens are issued for (their `aud`). */
export const SANDBOX_API_RESOURCE = 'urn:mlspanner:api';
const CLIENT_NAME = 'ML Spanner Access';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface IdentityProviderOptions {
  /** Default 127.0.0.2 (see E2E.md: code-server rewrites 127.0.0.1 URLs). */
  host?: string;
  /** 0 = any free port. */
  port?: number;
  idTokenTtlSeconds?: number;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /** Keeps the signing key and cookie keys across restarts when set. */
  stateDir?: string;
  quiet?: boolean;
  /**
   * Refresh-token rotation (default true, as Okta, Auth0 and Entra do for public clients): each
   * refresh returns a new refresh token, and presenting a used one is `invalid_grant` and
   * revokes the whole grant (reuse detection).
   */
  rotateRefreshToken?: boolean;
  /**
   * A strict provider (default false): `offline_access` is granted only when the user is asked
   * for consent (the sandbox no longer adds `prompt=consent` for its first-party client), refresh
   * tokens are issued to the native client anyway (as Keycloak and Entra do), and a refresh that
   * asks for a scope beyond what was granted is refused with `invalid_scope` (RFC 6749 §6). The
   * token response's `scope` says what was granted.
   */
  strictRefreshScope?: boolean;
  /** Whether a refresh returns a new ID token (default true; OIDC Core §12.2 makes it optional). */
  idTokenOnRefresh?: boolean;
}

export interface TokenEndpointFault {
  /** HTTP status of the injected failure; omit to only delay. */
  status?: number;
  delayMs?: number;
  /** Drop the connection without an answer (the provider is down or the network cut it). */
  reset?: boolean;
  /** How many token requests in a row fail this way (default 1; Infinity until cleared). */
  count?: number;
}

export interface SandboxIdentityProvider {
  issuer: string;
  clientId: string;
  resource: string;
  users: readonly DemoUser[];
  /** Revokes every grant, token and browser session of a user; refresh then fails with invalid_grant. */
  revokeUser(username: string): number;
  /** The next token endpoint request fails (or is slowed) once. */
  failTokenEndpointOnce(fault?: TokenEndpointFault): void;
  /** The next `fault.count` token endpoint requests fail (or are slowed); undefined clears. */
  failTokenEndpoint(fault: TokenEndpointFault | undefined): void;
  close(): Promise<void>;
}

interface SigningState {
  jwk: Record<string, unknown>;
  cookieKeys: string[];
}

function createSigningState(): SigningState {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  return { jwk, cookieKeys: [randomBytes(32).toString('base64url')] };
}

function loadSigningState(stateDir: string | undefined): SigningState {
  if (!stateDir) return createSigningState();
  const file = join(stateDir, 'idp-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SigningState;
  const state = createSigningState();
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
  return state;
}

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export async function startIdentityProvider(opts: IdentityProviderOptions = {}): Promise<SandboxIdentityProvider> {
  const host = opts.host ?? '127.0.0.2';
  const idTokenTtl = opts.idTokenTtlSeconds ?? 3600;
  const accessTokenTtl = opts.accessTokenTtlSeconds ?? 3600;
  const refreshTokenTtl = opts.refreshTokenTtlSeconds ?? 14 * 24 * 3600;
  const strictRefreshScope = opts.strictRefreshScope ?? false;
  const store = new MemoryStore();
  const signing = loadSigningState(opts.stateDir);
  let pendingFault: TokenEndpointFault | undefined;
  let pendingCount = 0;

  // Requests are routed once the provider exists: its issuer needs the bound port.
  const server = createServer();
  const port = await listen(server, host, opts.port ?? 0);
  const issuer = `http://${host}:${port}`;

  const provider = new Provider(issuer, {
    adapter: store.adapterFactory(),
    clients: [
      {
        client_id: SANDBOX_CLIENT_ID,
        client_name: CLIENT_NAME,
        // RFC 8252: a public native client; loopback redirects match on any port (§7.3).
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    jwks: { keys: [signing.jwk] },
    cookies: { keys: signing.cookieKeys },
    async findAccount(_ctx: KoaContext, sub: string) {
      const user = findUser(sub);
      if (!user) return undefined;
      return { accountId: user.username, claims: async () => userClaims(user) };
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    // `groups` rides on `profile` too, so the default `openid profile email offline_access` gets it.
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'groups'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Put scope-derived claims in the ID token itself: federation consumers read them there.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it.
        async allowedPolicy(_ctx: KoaContext, client: { clientId: string }, token: { clientId?: string }) {
          return token.clientId === client.clientId;
        },
      },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(ctx: KoaContext, form: string, _out: unknown, err?: { name?: string; userCode?: string }) {
          let message: string | undefined;
          if (err && (err.userCode || err.name === 'NoCodeError')) message = 'The code you entered is incorrect. Try again.';
          else if (err && err.name === 'AbortedError') message = 'The sign-in request was cancelled.';
          else if (err) message = 'There was an error processing your request.';
          ctx.type = 'html';
          ctx.body = deviceInputPage(form, message);
        },
        async userCodeConfirmSource(ctx: KoaContext, form: string, _client: unknown, _info: unknown, userCode: string) {
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(form, CLIENT_NAME, userCode);
        },
        async successSource(ctx: KoaContext) {
          ctx.type = 'html';
          ctx.body = deviceSuccessPage(CLIENT_NAME);
        },
      },
      resourceIndicators: {
        enabled: true,
        async defaultResource() {
          return SANDBOX_API_RESOURCE;
        },
        // Token and refresh requests without `resource` get the resource granted at authorization.
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_ctx: KoaContext, indicator: string) {
          if (indicator !== SANDBOX_API_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: SANDBOX_API_RESOURCE,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    async issueRefreshToken(_ctx: KoaContext, client: { grantTypeAllowed(t: string): boolean }, code: { scopes: Set<string> }) {
      return client.grantTypeAllowed('refresh_token') && (strictRefreshScope || code.scopes.has('offline_access'));
    },
    async extraTokenClaims(_ctx: KoaContext, token: { kind: string; accountId?: string }) {
      const user = token.kind === 'AccessToken' && token.accountId ? findUser(token.accountId) : undefined;
      return user ? { groups: [...user.groups] } : undefined;
    },
    interactions: { url: async (_ctx: KoaContext, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: accessTokenTtl,
      IdToken: idTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: refreshTokenTtl,
      RefreshToken: refreshTokenTtl,
    },
    rotateRefreshToken: opts.rotateRefreshToken ?? true,
    async renderError(ctx: KoaContext, out: { error: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  });

  provider.use(async (ctx, next) => {
    // oidc-provider drops offline_access unless prompt=consent (OIDC Core §11). This first-party
    // client is consented by the administrator, so the sandbox adds the prompt on its behalf.
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      const query = new URLSearchParams(ctx.querystring);
      const scopes = (query.get('scope') ?? '').split(' ');
      const prompts = (query.get('prompt') ?? '').split(' ').filter(Boolean);
      if (!strictRefreshScope && query.get('client_id') === SANDBOX_CLIENT_ID && scopes.includes('offline_access') && !prompts.includes('consent') && !prompts.includes('none')) {
        query.set('prompt', [...prompts, 'consent'].join(' '));
        ctx.querystring = query.toString();
      }
    }
    if (ctx.method === 'POST' && ctx.path === '/token' && pendingFault) {
      const fault = pendingFault;
      if (--pendingCount <= 0) pendingFault = undefined;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.reset) {
        ctx.respond = false;
        ctx.req.socket.destroy();
        return;
      }
      if (fault.status) {
        ctx.status = fault.status;
        ctx.type = 'application/json';
        ctx.body = { error: 'temporarily_unavailable', error_description: 'injected by the sandbox' };
        return;
      }
    }
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token') return;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || typeof body.access_token !== 'string') return;
    // OIDC Core §12.2: a refresh response need not carry a new ID token.
    if (opts.idTokenOnRefresh === false && ctx.oidc?.params?.grant_type === 'refresh_token') delete body.id_token;
    // RFC 6749 §5.1: the strict provider says which scopes it granted (its access tokens are
    // for the API resource, so oidc-provider would report only the resource's scopes).
    if (strictRefreshScope) {
      const e = ctx.oidc?.entities ?? {};
      const granted = e.AuthorizationCode?.scope ?? e.RefreshToken?.scope ?? e.DeviceCode?.scope;
      if (typeof granted === 'string') body.scope = granted;
    }
  });
  if (!opts.quiet) {
    provider.on('server_error', (_ctx: unknown, err: unknown) => console.error('[idp] server error:', (err as Error).message));
  }

  const handleOidc = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('finish', () => logRequest(opts.quiet, 'idp', req, res.statusCode));
    const path = (req.url ?? '/').split('?')[0];
    if (path.startsWith('/__sandbox/')) return void handleAdmin(req, res, path);
    if (path.startsWith('/interaction/')) return void handleInteraction(provider, req, res, path);
    handleOidc(req, res);
  });

  async function handleInteraction(p: Provider, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      const details = await p.interactionDetails(req, res);
      const action = `/interaction/${details.uid}/login`;
      if (details.params.client_id !== SANDBOX_CLIENT_ID) {
        return sendText(res, 400, 'text/html; charset=utf-8', errorPage('unauthorized_client', 'only the first-party client signs in here'));
      }
      if (details.prompt.name === 'login') {
        if (req.method === 'POST' && path === action) {
          const form = new URLSearchParams(await readBody(req, 64 * 1024));
          const username = form.get('username') ?? '';
          const user = findUser(username);
          if (!user || form.get('password') !== user.password) {
            const page = loginPage({ action, clientName: CLIENT_NAME, users: DEMO_USERS, error: 'Wrong username or password.', username });
            return sendText(res, 401, 'text/html; charset=utf-8', page);
          }
          return await p.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
        }
        const page = loginPage({ action, clientName: CLIENT_NAME, users: DEMO_USERS, username: details.params.login_hint });
        return sendText(res, 200, 'text/html; charset=utf-8', page);
      }
      if (details.prompt.name === 'consent') {
        // First-party client: consent is implicit, so grant what was asked without a page.
        const accountId = details.session?.accountId;
        if (!accountId) throw new Error('consent without a signed-in account');
        const grant = (details.grantId ? await p.Grant.find(details.grantId) : undefined) ?? new p.Grant({ accountId, clientId: SANDBOX_CLIENT_ID });
        const missing = details.prompt.details as ConsentDetails;
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
        const grantId = await grant.save();
        return await p.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      return sendText(res, 400, 'text/html; charset=utf-8', errorPage('invalid_request', `unsupported prompt ${details.prompt.name}`));
    } catch (e) {
      if (!res.headersSent) sendText(res, 400, 'text/html; charset=utf-8', errorPage('invalid_request', (e as Error).message));
    }
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!isLoopbackAddress(req.socket.remoteAddress)) return sendJson(res, 403, { error: 'access_denied', error_description: 'loopback only' });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' });
    let body: Record<string, unknown> = {};
    try {
      const text = await readBody(req, 16 * 1024);
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'body must be JSON' });
    }
    if (path === '/__sandbox/revoke-user') {
      const username = typeof body.username === 'string' ? body.username : '';
      if (!findUser(username)) return sendJson(res, 404, { error: 'invalid_request', error_description: 'unknown user' });
      return sendJson(res, 200, { revokedGrants: revokeUser(username) });
    }
    if (path === '/__sandbox/token-fault') {
      const status = typeof body.status === 'number' ? body.status : undefined;
      const delayMs = typeof body.delayMs === 'number' ? body.delayMs : undefined;
      const reset = body.reset === true;
      pendingFault = { status: status ?? (delayMs || reset ? undefined : 503), delayMs, reset };
      pendingCount = typeof body.count === 'number' && body.count > 0 ? body.count : 1;
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 404, { error: 'invalid_request', error_description: 'unknown admin endpoint' });
  }

  function revokeUser(username: string): number {
    const user = findUser(username);
    return user ? store.revokeAccount(user.username) : 0;
  }

  return {
    issuer,
    clientId: SANDBOX_CLIENT_ID,
    resource: SANDBOX_API_RESOURCE,
    users: DEMO_USERS,
    revokeUser,
    failTokenEndpointOnce(fault: TokenEndpointFault = { status: 503 }) {
      pendingFault = fault;
      pendingCount = 1;
    },
    failTokenEndpoint(fault) {
      pendingFault = fault;
      pendingCount = fault ? (fault.count ?? 1) : 0;
    },
    close: () => closeServer(server),
  };
}
