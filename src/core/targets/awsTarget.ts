import type * as AwsModule from '../credentials/assumeAwsRole';
import { awsStsEndpointFor, DEFAULT_SUBJECT_TOKEN, type AwsSettings } from '../policy/Environment';
import { formatDuration, tokenName } from '../format/duration';
import { FIELD_PATTERNS, SUBJECT_TOKEN_FIELD } from '../policy/settingFields';
import type { CredentialTargetSpec } from './CredentialTargetSpec';

/** The exchange and its helpers load on first use (features.js), not at activation. */
function aws(): typeof AwsModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../credentials/assumeAwsRole') as typeof AwsModule;
}

function code(v: string): string {
  return '`' + v.replace(/`/g, "'") + '`';
}

/** AWS sessions by AssumeRoleWithWebIdentity. */
export const awsTarget: CredentialTargetSpec<AwsSettings> = {
  id: 'aws',
  section: 'aws',
  label: 'AWS session',
  service: 'AWS',
  fields: {
    roleArn: { kind: 'string', pattern: FIELD_PATTERNS.roleArn, hint: 'arn:aws:iam::<12-digit account>:role/<name>' },
    region: { kind: 'string', pattern: FIELD_PATTERNS.awsRegion, hint: 'an AWS region such as us-east-1' },
    subjectToken: SUBJECT_TOKEN_FIELD,
    stsEndpoint: { kind: 'url' },
    sessionDurationSeconds: { kind: 'integer', min: 900, max: 43_200 },
  },
  required: ['roleArn'],
  keyField: 'roleArn',
  sourceLabels: { 'assume-role-with-web-identity': 'AssumeRoleWithWebIdentity' },
  defaults: (values) => ({ subjectToken: DEFAULT_SUBJECT_TOKEN, stsEndpoint: awsStsEndpointFor(values.get('region') as string | undefined) }),
  subjectToken: (s) => s.subjectToken,
  identity: (s, env) => ({ principal: s.roleArn, parts: [s.roleArn, s.stsEndpoint, s.subjectToken, aws().awsDurationSeconds(env.maxTtlSeconds, s.sessionDurationSeconds)] }),
  ttlCapSeconds: (s, env) => (s.sessionDurationSeconds ? Math.min(env.maxTtlSeconds, s.sessionDurationSeconds) : env.maxTtlSeconds),
  exchange: async (ctx) => {
    const { assumeAwsRole, awsDurationSeconds, roleSessionName } = aws();
    const durationSeconds = awsDurationSeconds(ctx.environment.maxTtlSeconds, ctx.settings.sessionDurationSeconds);
    const issued = await assumeAwsRole(ctx.http, {
      environment: ctx.environment.name,
      stsEndpoint: ctx.settings.stsEndpoint,
      roleArn: ctx.settings.roleArn,
      roleSessionName: roleSessionName(ctx.who.subject),
      webIdentityToken: ctx.subjectToken,
      durationSeconds,
      now: ctx.now,
    });
    // <Expiration> is on AWS's clock; the session lasts DurationSeconds from the request, which
    // this machine can measure on its own clock (a clock minutes ahead would otherwise see a
    // fresh session as nearly expired and exchange again and again).
    return { ...issued, serviceExpiresAt: ctx.now + durationSeconds * 1000 };
  },
  processEnv: (c, s) => {
    if (c.kind !== 'aws') return {};
    const vars: Record<string, string> = { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken };
    if (s.region) vars.AWS_REGION = vars.AWS_DEFAULT_REGION = s.region;
    return vars;
  },
  explain: (s, _env, ttl) => [
    `Lifetime: at most ${formatDuration(ttl)} (AWS issues at least 15 min; a shorter cap is enforced by expiring the session early).`,
    `Your IdP **${tokenName(s.subjectToken)}** is sent to AWS STS ${code(s.stsEndpoint)} (AssumeRoleWithWebIdentity) for role ${code(s.roleArn)}${s.region ? ` in ${code(s.region)}` : ''}.`,
  ],
  endpoints: (s) => [s.stsEndpoint],
};
