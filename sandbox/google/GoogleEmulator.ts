import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BodyTooLarge, closeServer, listen, logRequest, readBody, sendJson } from '../LoopbackServer';
import { groupsOf } from '../trust';
import { TokenRejected, verifyFederatedJwt } from '../verifyJwt';

/**
 * Google STS (workload identity federation) and IAM Credentials on loopback, per
 * CONTRACTS.md "Google", sts.v1.discovery.EXTRACT.json and iamcredentials.v1.discovery.json.
 */

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TOKEN_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);
const MAX_LIFETIME_S = 3600;
const AUDIENCE_PATTERN = /^\/\/iam\.googleapis\.com\/projects\/(\d+)\/locations\/global\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/;

/** A workload identity pool provider: what it trusts and its attribute condition. */
export interface WorkloadIdentityProvider {
  /** Full provider name, the STS `audience`. */
  audience: string;
  issuer: string;
  /** Accepted subject token `aud` values (Google's "allowed audiences"). */
  allowedAudiences: string[];
  subjectClaim: string;
  groupsClaim: string;
  /** Attribute condition: the subject must hold one of these groups (any-of); empty = none. */
  requiredGroups?: string[];
}

/** Who may impersonate a service account (roles/iam.workloadIdentityUser on principalSet / principal). */
export interface ImpersonationRule {
  groups?: string[];
  subjects?: string[];
}

export interface GoogleEmulatorOptions {
  host?: string;
  port?: number;
  providers: WorkloadIdentityProvider[];
  /** Service account email → who may impersonate it. Accounts not listed do not exist. */
  serviceAccounts: Record<string, ImpersonationRule>;
  quiet?: boolean;
  now?: () => number;
}

/** An access token the emulator issued, as other Google emulators (Spanner) look it up. */
export interface GoogleAccessToken {
  kind: 'federated' | 'serviceAccount';
  /** `principal://...` for federated tokens, the email for service-account tokens. */
  principal: string;
  subject: string;
  groups: string[];
  scopes: string[];
  expiresAt: number;
}

export interface GoogleEmulator {
  url: string;
  /** Base URL of STS; the exchange is `POST {stsUrl}/v1/token`. */
  stsUrl: string;
  /** Base URL of IAM Credentials. */
  iamCredentialsUrl: string;
  lookupToken(token: string): GoogleAccessToken | undefined;
  stats(): { stsExchanges: number; generateAccessToken: number };
  close(): Promise<void>;
}

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
  ) {
    super(description);
  }
}

const GOOGLE_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED' };

class GoogleApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function sendGoogleError(res: ServerResponse, e: GoogleApiError): void {
  sendJson(res, e.code, { error: { code: e.code, message: e.message, status: GOOGLE_STATUS[e.code] ?? 'UNKNOWN' } });
}

/** `principal://` identifier of a federated subject (Google IAM principal identifiers). */
export function federatedPrincipal(audience: string, subject: string): string {
  const m = AUDIENCE_PATTERN.exec(audience);
  const pool = m ? `projects/${m[1]}/locations/global/workloadIdentityPools/${m[2]}` : audience.replace(/^\/\/iam\.googleapis\.com\//, '');
  return `principal://iam.googleapis.com/${pool}/subject/${subject}`;
}

export async function startGoogleEmulator(opts: GoogleEmulatorOptions): Promise<GoogleEmulator> {
  const now = opts.now ?? Date.now;
  const tokens = new Map<string, GoogleAccessToken>();
  const counts = { stsExchanges: 0, generateAccessToken: 0 };

  function lookupToken(token: string): GoogleAccessToken | undefined {
    const t = tokens.get(token);
    if (t && t.expiresAt <= now()) {
      tokens.delete(token);
      return undefined;
    }
    return t;
  }

  function mint(record: GoogleAccessToken): string {
    const token = `ya29.sandbox-${randomBytes(32).toString('base64url')}`;
    tokens.set(token, record);
    return token;
  }

  async function exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // STS ExchangeToken: "do not send the Authorization HTTP header" (sts.v1 discovery).
    if (req.headers.authorization) throw new OAuthError(400, 'invalid_request', 'The Authorization header must not be sent to the token exchange endpoint.');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    if (type !== 'application/x-www-form-urlencoded') throw new OAuthError(400, 'invalid_request', 'Request must be application/x-www-form-urlencoded.');
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    const grantType = form.get('grant_type');
    if (!grantType) throw new OAuthError(400, 'invalid_request', 'The grant_type parameter is required.');
    if (grantType !== TOKEN_EXCHANGE_GRANT) throw new OAuthError(400, 'unsupported_grant_type', `Unsupported grant_type ${grantType}.`);
    const requested = form.get('requested_token_type');
    if (requested !== ACCESS_TOKEN_TYPE) throw new OAuthError(400, 'invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TYPE}.`);
    const subjectTokenType = form.get('subject_token_type') ?? '';
    if (!SUBJECT_TOKEN_TYPES.has(subjectTokenType)) throw new OAuthError(400, 'invalid_request', 'subject_token_type must be a JWT or ID token type.');
    const scope = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (!scope.length) throw new OAuthError(400, 'invalid_request', 'The scope parameter is required.');
    if (scope.some((s) => !s.startsWith('https://www.googleapis.com/auth/'))) throw new OAuthError(400, 'invalid_scope', 'Unknown scope.');
    const audience = form.get('audience') ?? '';
    const provider = opts.providers.find((p) => p.audience === audience);
    if (!provider) throw new OAuthError(400, 'invalid_target', 'The target service indicated by the "audience" parameters is invalid.');
    const subjectToken = form.get('subject_token') ?? '';
    if (!subjectToken) throw new OAuthError(400, 'invalid_request', 'The subject_token parameter is required.');

    let verified;
    try {
      verified = await verifyFederatedJwt(subjectToken, {
        issuer: provider.issuer,
        audiences: provider.allowedAudiences,
        subjectClaim: provider.subjectClaim,
      });
    } catch (e) {
      const reason = e instanceof TokenRejected ? e.reason : 'invalid';
      const description = reason === 'ERR_JWT_EXPIRED' ? 'The subject token has expired.' : `The subject token is invalid (${reason}).`;
      throw new OAuthError(400, 'invalid_grant', description);
    }
    const groups = groupsOf(verified.payload, provider.groupsClaim);
    if (provider.requiredGroups?.length && !groups.some((g) => provider.requiredGroups?.includes(g))) {
      throw new OAuthError(400, 'unauthorized_client', 'The given credential is rejected by the attribute condition.');
    }
    const remaining = Math.floor(((verified.payload.exp ?? 0) * 1000 - now()) / 1000);
    const lifetime = Math.min(MAX_LIFETIME_S, remaining);
    if (lifetime <= 0) throw new OAuthError(400, 'invalid_grant', 'The subject token has expired.');
    const accessToken = mint({
      kind: 'federated',
      principal: federatedPrincipal(audience, verified.subject),
      subject: verified.subject,
      groups,
      scopes: scope,
      expiresAt: now() + lifetime * 1000,
    });
    counts.stsExchanges++;
    sendJson(res, 200, { access_token: accessToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: lifetime });
  }

  async function generateAccessToken(req: IncomingMessage, res: ServerResponse, project: string, account: string): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    const caller = bearer ? lookupToken(bearer) : undefined;
    if (!caller) {
      throw new GoogleApiError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (project !== '-') throw new GoogleApiError(400, 'The project in the resource name must be the "-" wildcard.');
    let body: { scope?: unknown; lifetime?: unknown; delegates?: unknown };
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)) || '{}') as typeof body;
    } catch {
      throw new GoogleApiError(400, 'Invalid JSON payload received.');
    }
    if (!Array.isArray(body.scope) || !body.scope.length || !body.scope.every((s) => typeof s === 'string' && s)) {
      throw new GoogleApiError(400, 'Scope must be a non-empty list of OAuth scopes.');
    }
    if (body.delegates !== undefined && (!Array.isArray(body.delegates) || body.delegates.length)) {
      throw new GoogleApiError(400, 'Delegation chains are not supported by the sandbox.');
    }
    let lifetime = MAX_LIFETIME_S;
    if (body.lifetime !== undefined) {
      // google.protobuf.Duration in JSON: decimal seconds with an "s" suffix.
      const m = typeof body.lifetime === 'string' ? /^(\d+)(\.\d+)?s$/.exec(body.lifetime) : null;
      lifetime = m ? Number(m[1]) : NaN;
      if (!Number.isFinite(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_S) {
        throw new GoogleApiError(400, `The lifetime must be between 1s and ${MAX_LIFETIME_S}s.`);
      }
    }
    const rule = opts.serviceAccounts[account];
    const allowed =
      caller.kind === 'federated' &&
      rule !== undefined &&
      ((rule.subjects ?? []).includes(caller.subject) || caller.groups.some((g) => (rule.groups ?? []).includes(g)));
    if (!allowed) {
      throw new GoogleApiError(403, `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`);
    }
    const expiresAt = now() + lifetime * 1000;
    const accessToken = mint({ kind: 'serviceAccount', principal: account, subject: caller.subject, groups: caller.groups, scopes: body.scope as string[], expiresAt });
    counts.generateAccessToken++;
    // Timestamp in RFC 3339 UTC, whole seconds as Google returns it.
    sendJson(res, 200, { accessToken, expireTime: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z') });
  }

  const server = createServer((req, res) => {
    res.on('finish', () => logRequest(opts.quiet, 'google', req, res.statusCode));
    const path = (req.url ?? '/').split('?')[0];
    const iam = /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    const run = async (): Promise<void> => {
      if (path === '/v1/token') {
        if (req.method !== 'POST') throw new OAuthError(405, 'invalid_request', 'POST only.');
        return exchange(req, res);
      }
      if (iam) {
        if (req.method !== 'POST') throw new GoogleApiError(405, 'POST only.');
        return generateAccessToken(req, res, decodeURIComponent(iam[1]), decodeURIComponent(iam[2]));
      }
      throw new GoogleApiError(404, `The requested URL ${path} was not found on this server.`);
    };
    run().catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof OAuthError) return sendJson(res, e.status, { error: e.error, error_description: e.message });
      if (e instanceof GoogleApiError) return sendGoogleError(res, e);
      if (e instanceof BodyTooLarge) return sendGoogleError(res, new GoogleApiError(400, e.message));
      if (!opts.quiet) console.error('[google] internal error:', (e as Error).message);
      sendJson(res, 500, { error: { code: 500, message: 'Internal error.', status: 'INTERNAL' } });
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, host, opts.port ?? 0);
  const url = `http://${host}:${port}`;
  return {
    url,
    stsUrl: url,
    iamCredentialsUrl: url,
    lookupToken,
    stats: () => ({ ...counts }),
    close: () => closeServer(server),
  };
}
