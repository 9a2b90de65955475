// Databricks has no official JS SDK for token federation; this is two plain HTTP requests
// (discovery + RFC 8693 exchange) over the shared axios client.
import { UserFacingError } from '../errors';
import { ServiceError, serviceText, withoutSecret } from '../http/HttpClient';
import { checkEndpointUrl } from '../policy/endpointUrl';
import { settingPath } from '../policy/Environment';
import type { HttpFactory, IssuedToken } from './Credential';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const SERVICE = 'Databricks';

export interface DatabricksExchangeRequest {
  environment: string;
  /** Workspace origin. */
  host: string;
  clientId?: string;
  scopes: string[];
  /** The IdP JWT (ID or access token). */
  subjectToken: string;
  now: number;
}

/**
 * Finds a workspace's token endpoint (CONTRACTS.md "OAuth discovery on a workspace"), one lookup
 * per host; a failed lookup is forgotten so the next attempt retries.
 */
export class DatabricksDiscovery {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(private readonly http: HttpFactory) {}

  tokenEndpoint(host: string, environment: string): Promise<string> {
    let p = this.cache.get(host);
    if (!p) {
      p = this.discover(host, environment);
      this.cache.set(host, p);
      p.catch(() => this.cache.delete(host));
    }
    return p;
  }

  forget(host?: string): void {
    if (host) this.cache.delete(host);
    else this.cache.clear();
  }

  private async discover(host: string, environment: string): Promise<string> {
    const http = this.http(SERVICE);
    const setting = settingPath(environment, 'databricks', 'host');
    let first: unknown;
    for (const path of ['/oidc/.well-known/oauth-authorization-server', '/oidc/.well-known/openid-configuration']) {
      try {
        const res = await http.get<unknown>(host + path, { headers: { Accept: 'application/json' } });
        const endpoint = (res.data as { token_endpoint?: unknown } | undefined)?.token_endpoint;
        if (typeof endpoint !== 'string') throw new UserFacingError('protocol', `${host}${path} has no token_endpoint.`);
        const checked = checkEndpointUrl(endpoint);
        // The IdP token must not leave the workspace the user configured.
        if ('error' in checked || new URL(checked.url).origin !== host)
          throw new UserFacingError(
            'protocol',
            `Databricks discovery at ${host} names a token endpoint outside the workspace (${endpoint.slice(0, 100)}); refusing to send your token there.`,
            `Check ${setting}.`,
          );
        return checked.url;
      } catch (e) {
        if (e instanceof UserFacingError && !(e instanceof ServiceError)) throw e;
        first ??= e;
        // Only a missing document (404) justifies the second well-known path.
        if (!(e instanceof ServiceError && e.status === 404)) break;
      }
    }
    const e = first as ServiceError;
    throw new UserFacingError(
      e.status ? 'config' : e.kind,
      `Cannot find the OAuth endpoints of Databricks workspace ${host} (environment "${environment}"): ${e.message}`,
      e.status === 404
        ? `Check that ${setting} is the workspace URL and that OAuth is enabled for it.`
        : `Check ${setting} and your network.`,
      undefined,
      { cause: e },
    );
  }
}

/**
 * RFC 8693 token exchange at the workspace (Databricks OAuth token federation): the IdP JWT in,
 * a Databricks OAuth token out.
 */
export async function exchangeDatabricksToken(
  http: HttpFactory,
  discovery: DatabricksDiscovery,
  req: DatabricksExchangeRequest,
): Promise<IssuedToken> {
  const tokenEndpoint = await discovery.tokenEndpoint(req.host, req.environment);
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: req.subjectToken,
    subject_token_type: JWT_TOKEN_TYPE,
    scope: req.scopes.join(' '),
  });
  // client_id only for a service-principal federation policy (CONTRACTS.md, Databricks).
  if (req.clientId) form.set('client_id', req.clientId);
  let data: unknown;
  try {
    const res = await http(SERVICE).post<unknown>(tokenEndpoint, form.toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
    data = res.data;
  } catch (e) {
    throw databricksExchangeError(req, e);
  }
  const body = (data ?? {}) as { access_token?: unknown; token_type?: unknown; expires_in?: unknown; scope?: unknown };
  if (typeof body.access_token !== 'string' || !body.access_token)
    throw new UserFacingError('protocol', `Databricks at ${req.host} answered the token exchange without an access_token.`, 'Retry; if it persists, report it to your Databricks admin.');
  if (body.token_type !== undefined && String(body.token_type).toLowerCase() !== 'bearer')
    throw new UserFacingError('protocol', `Databricks at ${req.host} issued a "${String(body.token_type)}" token; only Bearer tokens are supported.`);
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : typeof body.expires_in === 'string' ? Number(body.expires_in) : NaN;
  return {
    kind: 'bearer',
    accessToken: body.access_token,
    serviceExpiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? req.now + expiresIn * 1000 : undefined,
    scopes: typeof body.scope === 'string' && body.scope ? body.scope.split(' ') : req.scopes,
    source: 'federation',
    principal: req.clientId ? `${req.host} (service principal ${req.clientId})` : req.host,
  };
}

function databricksExchangeError(req: DatabricksExchangeRequest, e: unknown): UserFacingError {
  const se = e instanceof ServiceError ? e : undefined;
  const what = `Databricks token exchange for "${req.environment}" at ${req.host} failed: ${withoutSecret(se?.message ?? serviceText(e instanceof Error ? e.message : String(e)), req.subjectToken)}`;
  const at = (k: string) => settingPath(req.environment, 'databricks', k);
  switch (se?.code) {
    case 'invalid_client':
    case 'unauthorized_client':
      return new UserFacingError('config', what, `Check ${at('clientId')}: it must name a service principal with a federation policy for your identity provider.`, undefined, { cause: e });
    case 'invalid_scope':
      return new UserFacingError('config', what, `Check ${at('scopes')} (default ["all-apis"]).`, undefined, { cause: e });
    case 'invalid_grant':
    case 'invalid_request':
    case 'access_denied':
      return new UserFacingError(
        'auth',
        what,
        `Your sign-in token was not accepted: ask your Databricks account admin for a federation policy that trusts your identity provider, check ${at('subjectToken')} (ID or access token), or sign in again.`,
        undefined,
        { cause: e },
      );
    default:
      if (se?.status === undefined) return new UserFacingError('network', what, `Check ${at('host')} and your network.`, undefined, { cause: e });
      return new UserFacingError(se.kind, what, 'Retry; if it persists, check the workspace status.', undefined, { cause: e });
  }
}
