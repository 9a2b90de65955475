import type * as GoogleModule from '../credentials/exchangeGoogleToken';
import { DEFAULT_ENDPOINTS, DEFAULT_SUBJECT_TOKEN, type SpannerSettings } from '../policy/Environment';
import { formatDuration, tokenName } from '../format/duration';
import { FIELD_PATTERNS, SUBJECT_TOKEN_FIELD } from '../policy/settingFields';
import type { CredentialTargetSpec } from './CredentialTargetSpec';

/** The exchange loads on first use (features.js), not at activation. */
function google(): typeof GoogleModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../credentials/exchangeGoogleToken') as typeof GoogleModule;
}

function code(v: string): string {
  return '`' + v.replace(/`/g, "'") + '`';
}

/** Google access tokens for ML Spanner: STS token exchange, then optional impersonation. */
export const googleTarget: CredentialTargetSpec<SpannerSettings> = {
  id: 'google',
  section: 'spanner',
  label: 'Google token (ML Spanner)',
  service: 'Google (ML Spanner)',
  fields: {
    project: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Google Cloud project id' },
    instance: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Spanner instance id' },
    database: { kind: 'string', pattern: FIELD_PATTERNS.gcpId, hint: 'a Spanner database id' },
    workloadIdentityAudience: {
      kind: 'string',
      pattern: FIELD_PATTERNS.workloadIdentityAudience,
      hint: '//iam.googleapis.com/projects/<NUMBER>/locations/global/workloadIdentityPools/<POOL>/providers/<PROVIDER>',
    },
    serviceAccount: { kind: 'string', pattern: FIELD_PATTERNS.serviceAccount, hint: 'a service account email such as runner@project.iam.gserviceaccount.com' },
    subjectToken: SUBJECT_TOKEN_FIELD,
    stsEndpoint: { kind: 'url' },
    iamCredentialsEndpoint: { kind: 'url' },
    endpoint: { kind: 'url' },
  },
  required: ['project', 'instance', 'database', 'workloadIdentityAudience'],
  keyField: 'workloadIdentityAudience',
  sourceLabels: { sts: 'Google STS', impersonation: 'STS + impersonation' },
  defaults: () => ({
    subjectToken: DEFAULT_SUBJECT_TOKEN,
    stsEndpoint: DEFAULT_ENDPOINTS.googleSts,
    iamCredentialsEndpoint: DEFAULT_ENDPOINTS.iamCredentials,
    endpoint: DEFAULT_ENDPOINTS.spanner,
  }),
  subjectToken: (s) => s.subjectToken,
  identity: (s) => ({
    principal: s.serviceAccount ?? s.workloadIdentityAudience,
    parts: [s.workloadIdentityAudience, s.serviceAccount ?? null, s.stsEndpoint, s.iamCredentialsEndpoint, s.subjectToken],
  }),
  ttlCapSeconds: (_s, env) => env.maxTtlSeconds,
  exchange: (ctx) =>
    google().exchangeGoogleToken(ctx.http, {
      environment: ctx.environment.name,
      audience: ctx.settings.workloadIdentityAudience,
      subjectToken: ctx.subjectToken,
      subjectTokenKind: ctx.settings.subjectToken,
      stsEndpoint: ctx.settings.stsEndpoint,
      iamCredentialsEndpoint: ctx.settings.iamCredentialsEndpoint,
      serviceAccount: ctx.settings.serviceAccount,
      maxTtlSeconds: ctx.environment.maxTtlSeconds,
      now: ctx.now,
    }),
  processEnv: (c, s): Record<string, string> =>
    c.kind === 'bearer'
      ? {
          CLOUDSDK_AUTH_ACCESS_TOKEN: c.accessToken, // gcloud
          GOOGLE_OAUTH_ACCESS_TOKEN: c.accessToken, // Terraform, some client libraries
          CLOUDSDK_CORE_PROJECT: s.project,
          GOOGLE_CLOUD_PROJECT: s.project,
        }
      : {},
  explain: (s, _env, ttl) => [
    `Lifetime: at most ${formatDuration(ttl)}${s.serviceAccount ? ` (impersonation asks for ${Math.min(ttl, 3600)} s)` : ''}.`,
    `Your IdP **${tokenName(s.subjectToken)}** is sent to Google STS ${code(s.stsEndpoint + '/v1/token')} with audience ${code(s.workloadIdentityAudience)}, scope ${code(google().CLOUD_PLATFORM_SCOPE)}.`,
    s.serviceAccount
      ? `The STS token is sent to ${code(`${s.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${s.serviceAccount}:generateAccessToken`)} to impersonate ${code(s.serviceAccount)}.`
      : 'The STS token is used directly (no service account impersonation).',
    `The Google token is sent only to ${code(s.endpoint)} for database ${code(`projects/${s.project}/instances/${s.instance}/databases/${s.database}`)}.`,
  ],
  endpoints: (s) => [s.stsEndpoint, ...(s.serviceAccount ? [s.iamCredentialsEndpoint] : []), s.endpoint],
};
