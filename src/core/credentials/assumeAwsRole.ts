// Bundle size, measured with esbuild 0.25 (--bundle --platform=node --minify, node20):
// @aws-sdk/client-sts 3.1177 (STSClient + AssumeRoleWithWebIdentityCommand) adds 452 KB
// (729 KB with axios vs 277 KB axios alone) for one unsigned request. AssumeRoleWithWebIdentity
// needs no SigV4 signature, so it is one form POST over the shared axios client.
import { UserFacingError } from '../errors';
import { ServiceError, serviceText, withoutSecret } from '../http/HttpClient';
import { settingPath } from '../policy/Environment';
import type * as AwsStsXml from './awsStsXml';
import type { HttpFactory, IssuedToken } from './Credential';

/** The STS XML reader, loaded with the first AWS exchange rather than at activation. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stsXml = (): typeof AwsStsXml => require('./awsStsXml') as typeof AwsStsXml;

/** AWS STS bounds for DurationSeconds (aws-sts-2011-06-15: 900 to the role's maximum, at most 12 h). */
export const AWS_MIN_DURATION_SECONDS = 900;
export const AWS_MAX_DURATION_SECONDS = 43_200;

export interface AssumeRoleRequest {
  environment: string;
  stsEndpoint: string;
  roleArn: string;
  roleSessionName: string;
  webIdentityToken: string;
  durationSeconds: number;
  now: number;
}

/**
 * RoleSessionName from the IdP subject, so CloudTrail shows who acted: characters outside
 * [\w+=,.@-] become "-", 2 to 64 characters (the API's roleSessionNameType).
 */
export function roleSessionName(subject: string): string {
  let name = subject.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  if (name.length < 2) name = `mlspanner-${name}`.slice(0, 64);
  return name;
}

/**
 * DurationSeconds: the requested session length (sessionDurationSeconds, else maxTtlSeconds),
 * never above maxTtlSeconds, within AWS's [900, 43200]. A cap below 900 s still asks for 900 s;
 * the broker then expires the session at the cap.
 */
export function awsDurationSeconds(maxTtlSeconds: number, sessionDurationSeconds?: number): number {
  const wanted = Math.min(sessionDurationSeconds ?? maxTtlSeconds, maxTtlSeconds);
  return Math.max(AWS_MIN_DURATION_SECONDS, Math.min(AWS_MAX_DURATION_SECONDS, Math.floor(wanted)));
}

/** STS AssumeRoleWithWebIdentity, query protocol (CONTRACTS.md "AWS IAM"): unsigned form POST, XML answer. */
export async function assumeAwsRole(http: HttpFactory, req: AssumeRoleRequest): Promise<IssuedToken> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: req.roleArn,
    RoleSessionName: req.roleSessionName,
    WebIdentityToken: req.webIdentityToken,
    DurationSeconds: String(req.durationSeconds),
  });
  let status: number;
  let body: string;
  try {
    const res = await http('AWS STS').post<string>(req.stsEndpoint + '/', form.toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', Accept: 'text/xml' },
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      // AWS errors are XML documents we read ourselves; throttling and outages still go
      // through the client's Retry-After handling.
      validateStatus: (s) => ![429, 502, 503, 504].includes(s),
    });
    status = res.status;
    body = typeof res.data === 'string' ? res.data : String(res.data ?? '');
  } catch (e) {
    const se = e instanceof ServiceError ? e : undefined;
    throw new UserFacingError(
      se?.status === undefined ? 'network' : 'service',
      `AWS STS for "${req.environment}" failed: ${withoutSecret(se?.message ?? serviceText(e instanceof Error ? e.message : String(e)), req.webIdentityToken)}`,
      `Check ${settingPath(req.environment, 'aws', 'stsEndpoint')} (or aws.region) and your network, then retry.`,
      undefined,
      { cause: e },
    );
  }
  if (status >= 200 && status < 300) {
    const s = stsXml().parseAssumeRoleWithWebIdentityResponse(body);
    return {
      kind: 'aws',
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      sessionToken: s.sessionToken,
      serviceExpiresAt: s.expiration,
      assumedRoleArn: s.assumedRoleArn,
      source: 'assume-role-with-web-identity',
      principal: req.roleArn,
    };
  }
  const err = stsXml().parseAwsError(body);
  throw awsError(req, status, err && { ...err, message: withoutSecret(err.message, req.webIdentityToken) });
}

/** Maps STS error codes (API reference, AssumeRoleWithWebIdentity "Errors") to what to do. */
export function awsError(req: Pick<AssumeRoleRequest, 'environment' | 'roleArn'>, status: number, err: { code: string; message: string } | undefined): UserFacingError {
  const at = (k: string) => settingPath(req.environment, 'aws', k);
  if (!err)
    return new UserFacingError('protocol', `AWS STS for "${req.environment}" answered HTTP ${status} without an AWS error document.`, `Check ${at('stsEndpoint')}.`);
  // STS echoes parts of the request in <Message> (for a malformed token, the token itself):
  // redacted and cut before it reaches any message.
  const what = `AWS STS refused to assume ${req.roleArn} for "${req.environment}": ${serviceText(err.code, 80)}: ${err.message ? serviceText(err.message) : 'no message'}`;
  switch (err.code) {
    case 'InvalidIdentityToken':
    case 'IDPRejectedClaim':
      return new UserFacingError(
        'auth',
        what,
        `Check that the role's account has an IAM OIDC identity provider for your issuer with your client id as audience, and ${at('subjectToken')}; or sign in again.`,
      );
    case 'ExpiredTokenException':
      return new UserFacingError('auth', what, 'Your sign-in token expired: sign in again.');
    case 'AccessDenied':
      return new UserFacingError('denied', what, `Ask an AWS admin to allow your identity in the trust policy of ${req.roleArn}, or fix ${at('roleArn')}.`);
    case 'ValidationError':
      return new UserFacingError(
        'config',
        what,
        `Check ${at('roleArn')}, and lower ${at('sessionDurationSeconds')} or ${settingPath(req.environment, 'maxTtlSeconds')} if the role's maximum session duration is shorter.`,
      );
    case 'IDPCommunicationError':
      return new UserFacingError('network', what, 'AWS could not reach your identity provider to verify the token: retry in a moment.');
    case 'RegionDisabledException':
      return new UserFacingError('config', what, `Activate STS in that region or change ${at('region')}.`);
    default:
      return new UserFacingError('service', what, 'Retry; if it persists, check the AWS Health Dashboard.');
  }
}
