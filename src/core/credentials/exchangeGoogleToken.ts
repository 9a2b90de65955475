// Bundle size, measured with esbuild 0.25 (--bundle --platform=node --minify, node20):
// google-auth-library 10.9.1 (IdentityPoolClient with a subject-token supplier) adds 288 KB
// (565 KB with axios vs 277 KB axios alone) for two HTTP requests. The STS exchange and the
// impersonation call are therefore made with the shared axios client, per CONTRACTS.md "Google".
import { UserFacingError } from '../errors';
import { AuthorizedClient, functionTokenSource } from '../http/AuthorizedClient';
import { ServiceError, serviceText, withoutSecret } from '../http/HttpClient';
import type { SubjectTokenKind } from '../auth/IdentitySession';
import { settingPath } from '../policy/Environment';
import type { HttpFactory, IssuedToken } from './Credential';
import { TOKEN_EXCHANGE_GRANT } from './exchangeDatabricksToken';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Google STS accepts an OIDC ID token as id_token, any other OIDC JWT as jwt. */
const SUBJECT_TOKEN_TYPE: Record<SubjectTokenKind, string> = {
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  accessToken: 'urn:ietf:params:oauth:token-type:jwt',
};
/** generateAccessToken issues at most 1 h unless the organisation policy allows 12 h. */
export const MAX_IMPERSONATION_LIFETIME_SECONDS = 3600;

export interface GoogleExchangeRequest {
  environment: string;
  audience: string;
  subjectToken: string;
  subjectTokenKind: SubjectTokenKind;
  stsEndpoint: string;
  iamCredentialsEndpoint: string;
  serviceAccount?: string;
  /** The environment's maxTtlSeconds; impersonation asks for min(this, 3600) s. */
  maxTtlSeconds: number;
  now: number;
}

/**
 * Workload identity federation: STS token exchange (no Authorization header), then, if a
 * service account is configured, generateAccessToken with the STS token.
 */
export async function exchangeGoogleToken(http: HttpFactory, req: GoogleExchangeRequest): Promise<IssuedToken> {
  const at = (k: string) => settingPath(req.environment, 'spanner', k);
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    audience: req.audience,
    scope: CLOUD_PLATFORM_SCOPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    subject_token: req.subjectToken,
    subject_token_type: SUBJECT_TOKEN_TYPE[req.subjectTokenKind],
  });
  let sts: { access_token?: unknown; expires_in?: unknown };
  try {
    const res = await http('Google STS').post<unknown>(`${req.stsEndpoint}/v1/token`, form.toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
    sts = (res.data ?? {}) as typeof sts;
  } catch (e) {
    throw stsError(req, e);
  }
  if (typeof sts.access_token !== 'string' || !sts.access_token)
    throw new UserFacingError('protocol', `Google STS at ${req.stsEndpoint} answered without an access_token.`, `Check ${at('stsEndpoint')}.`);
  const expiresIn = Number(sts.expires_in);
  const stsExpiresAt = Number.isFinite(expiresIn) && expiresIn > 0 ? req.now + expiresIn * 1000 : undefined;
  if (!req.serviceAccount)
    return { kind: 'bearer', accessToken: sts.access_token, serviceExpiresAt: stsExpiresAt, scopes: [CLOUD_PLATFORM_SCOPE], source: 'sts', principal: req.audience };

  const lifetime = Math.min(req.maxTtlSeconds, MAX_IMPERSONATION_LIFETIME_SECONDS);
  let gen: { accessToken?: unknown; expireTime?: unknown };
  try {
    // The STS token is the bearer of this one request; it cannot be renewed here, so a 401 is final.
    const stsToken = String(sts.access_token);
    const iam = new AuthorizedClient(http('Google IAM Credentials'), functionTokenSource(async () => stsToken, 'Google STS'));
    const res = await iam.request<unknown>({
      method: 'POST',
      url: `${req.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${req.serviceAccount}:generateAccessToken`,
      data: { scope: [CLOUD_PLATFORM_SCOPE], lifetime: `${lifetime}s` },
      headers: { 'Content-Type': 'application/json' },
      noAuthRetry: true,
    });
    gen = (res.data ?? {}) as typeof gen;
  } catch (e) {
    throw impersonationError(req, e);
  }
  const expireAt = typeof gen.expireTime === 'string' ? Date.parse(gen.expireTime) : NaN;
  if (typeof gen.accessToken !== 'string' || !gen.accessToken || Number.isNaN(expireAt))
    throw new UserFacingError('protocol', `IAM Credentials at ${req.iamCredentialsEndpoint} answered without accessToken and expireTime.`, `Check ${at('iamCredentialsEndpoint')}.`);
  return { kind: 'bearer', accessToken: gen.accessToken, serviceExpiresAt: expireAt, scopes: [CLOUD_PLATFORM_SCOPE], source: 'impersonation', principal: req.serviceAccount };
}

function stsError(req: GoogleExchangeRequest, e: unknown): UserFacingError {
  const se = e instanceof ServiceError ? e : undefined;
  const what = `Google STS token exchange for "${req.environment}" failed: ${withoutSecret(se?.message ?? serviceText(e instanceof Error ? e.message : String(e)), req.subjectToken)}`;
  const at = (k: string) => settingPath(req.environment, 'spanner', k);
  switch (se?.code) {
    case 'invalid_target':
      // The audience names no workload identity provider (or a disabled one).
      return new UserFacingError(
        'config',
        `Google STS does not know the workload identity provider of "${req.environment}" (invalid_target): ${se.message}`,
        `Check ${at('workloadIdentityAudience')}: it must be //iam.googleapis.com/projects/<project NUMBER>/locations/global/workloadIdentityPools/<pool>/providers/<provider>.`,
        undefined,
        { cause: e },
      );
    case 'invalid_grant':
      return new UserFacingError(
        'auth',
        what,
        `The workload identity provider rejected your sign-in token: check that it trusts your issuer and audience, that its attribute condition admits you, and ${at('subjectToken')}; or sign in again.`,
        undefined,
        { cause: e },
      );
    case 'invalid_request':
      return new UserFacingError('config', what, `Check ${at('subjectToken')} (ID token or access token) and ${at('workloadIdentityAudience')}.`, undefined, { cause: e });
    default:
      if (se?.status === undefined) return new UserFacingError('network', what, `Check ${at('stsEndpoint')} and your network.`, undefined, { cause: e });
      return new UserFacingError(se.kind, what, 'Retry; if it persists, check the Google Cloud status page.', undefined, { cause: e });
  }
}

function impersonationError(req: GoogleExchangeRequest, e: unknown): UserFacingError {
  const se = e instanceof ServiceError ? e : undefined;
  const what = `Impersonating ${req.serviceAccount} for "${req.environment}" failed: ${withoutSecret(se?.message ?? serviceText(e instanceof Error ? e.message : String(e)), req.subjectToken)}`;
  const setting = settingPath(req.environment, 'spanner', 'serviceAccount');
  if (se?.status === 403 || se?.code === 'PERMISSION_DENIED')
    return new UserFacingError(
      'denied',
      what,
      `Ask a Google Cloud admin to grant roles/iam.workloadIdentityUser on ${req.serviceAccount} to your federated identity, or fix ${setting}.`,
      undefined,
      { cause: e },
    );
  if (se?.status === 404 || se?.code === 'NOT_FOUND')
    return new UserFacingError('config', what, `The service account does not exist: fix ${setting}.`, undefined, { cause: e });
  if (se?.status === undefined)
    return new UserFacingError('network', what, `Check ${settingPath(req.environment, 'spanner', 'iamCredentialsEndpoint')} and your network.`, undefined, { cause: e });
  return new UserFacingError(se.kind, what, 'Retry; if it persists, check the Google Cloud status page.', undefined, { cause: e });
}
