import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BodyTooLarge, closeServer, listen, logRequest, readBody } from '../LoopbackServer';
import { groupsOf, type SandboxTrust } from '../trust';
import { TokenRejected, verifyFederatedJwt } from '../verifyJwt';

/**
 * AWS STS AssumeRoleWithWebIdentity on loopback (query protocol, XML responses), per
 * CONTRACTS.md "AWS IAM" and aws-sts-2011-06-15.min.json.
 */

export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const API_VERSION = '2011-06-15';
const MIN_DURATION_S = 900;
const ROLE_ARN_PATTERN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;

/** A role's trust policy for web identities, reduced to what the sandbox checks. */
export interface AwsRoleTrust {
  roleArn: string;
  /** Condition on the groups claim (any-of); empty = no condition. */
  requiredGroups?: string[];
  /** Condition on the subject (StringLike with `*` wildcards); empty = no condition. */
  subjectPatterns?: string[];
  /** The role's MaxSessionDuration; default 3600. */
  maxSessionDurationSeconds?: number;
}

export interface AwsStsEmulatorOptions {
  host?: string;
  port?: number;
  /** The IAM OIDC provider: issuer and client id list (audiences). */
  trust: SandboxTrust;
  roles: AwsRoleTrust[];
  quiet?: boolean;
  now?: () => number;
}

export interface AwsStsEmulator {
  url: string;
  stats(): { sessionsIssued: number };
  close(): Promise<void>;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function errorXml(e: StsError, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${STS_XML_NAMESPACE}"><Error><Type>${e.type}</Type><Code>${escapeXml(e.code)}</Code>` +
    `<Message>${escapeXml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

function randomId(prefix: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(length);
  let out = prefix;
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

/** Stable role id (AROA...) per ARN, as IAM keeps one for the role's lifetime. */
function roleIdOf(roleArn: string, cache: Map<string, string>): string {
  let id = cache.get(roleArn);
  if (!id) {
    id = randomId('AROA', 17);
    cache.set(roleArn, id);
  }
  return id;
}

export async function startAwsStsEmulator(opts: AwsStsEmulatorOptions): Promise<AwsStsEmulator> {
  const now = opts.now ?? Date.now;
  const roleIds = new Map<string, string>();
  let sessionsIssued = 0;

  async function params(req: IncomingMessage): Promise<URLSearchParams> {
    const url = new URL(req.url ?? '/', 'http://sts.local');
    if (req.method === 'GET') return url.searchParams;
    if (req.method !== 'POST') throw new StsError(405, 'InvalidAction', 'Use GET or POST.');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    if (type !== 'application/x-www-form-urlencoded') throw new StsError(400, 'InvalidParameterValue', 'Content-Type must be application/x-www-form-urlencoded.');
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    for (const [k, v] of url.searchParams) if (!form.has(k)) form.set(k, v);
    return form;
  }

  async function assumeRole(p: URLSearchParams, requestId: string): Promise<string> {
    const missing = ['RoleArn', 'RoleSessionName', 'WebIdentityToken'].filter((k) => !p.get(k));
    if (missing.length) {
      const what = missing.map((k) => `Value null at '${k.charAt(0).toLowerCase()}${k.slice(1)}' failed to satisfy constraint: Member must not be null`);
      throw new StsError(400, 'ValidationError', `${missing.length} validation error${missing.length > 1 ? 's' : ''} detected: ${what.join('; ')}`);
    }
    const roleArn = p.get('RoleArn') as string;
    const sessionName = p.get('RoleSessionName') as string;
    const token = p.get('WebIdentityToken') as string;
    const arn = ROLE_ARN_PATTERN.exec(roleArn);
    if (!arn || roleArn.length < 20 || roleArn.length > 2048) throw new StsError(400, 'ValidationError', `${roleArn} is invalid`);
    if (!SESSION_NAME_PATTERN.test(sessionName)) {
      throw new StsError(400, 'ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
    }
    const role = opts.roles.find((r) => r.roleArn === roleArn);
    const maxDuration = role?.maxSessionDurationSeconds ?? 3600;
    let duration = 3600;
    if (p.has('DurationSeconds')) {
      duration = Number(p.get('DurationSeconds'));
      if (!Number.isInteger(duration) || duration < MIN_DURATION_S) {
        throw new StsError(400, 'ValidationError', `1 validation error detected: Value '${p.get('DurationSeconds')}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_DURATION_S}`);
      }
    }
    if (role && duration > maxDuration) {
      throw new StsError(400, 'ValidationError', `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`);
    }

    let verified;
    try {
      verified = await verifyFederatedJwt(token, { issuer: opts.trust.issuer, audiences: [opts.trust.audience], subjectClaim: opts.trust.subjectClaim });
    } catch (e) {
      const reason = e instanceof TokenRejected ? e.reason : 'invalid';
      if (reason === 'ERR_JWT_EXPIRED') throw new StsError(400, 'ExpiredTokenException', 'Token expired: current date/time is after the token expiration.');
      if (reason === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw new StsError(400, 'InvalidIdentityToken', 'Incorrect token audience or issuer.');
      throw new StsError(400, 'InvalidIdentityToken', `The web identity token is not valid (${reason}).`);
    }
    const groups = groupsOf(verified.payload, opts.trust.groupsClaim);
    const trusted =
      role !== undefined &&
      (!role.requiredGroups?.length || groups.some((g) => role.requiredGroups?.includes(g))) &&
      (!role.subjectPatterns?.length || role.subjectPatterns.some((pattern) => globMatch(pattern, verified.subject)));
    if (!trusted) throw new StsError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');

    const [, account, roleName] = arn;
    const roleId = roleIdOf(roleArn, roleIds);
    const expiration = new Date(now() + duration * 1000).toISOString();
    const audience = Array.isArray(verified.payload.aud) ? verified.payload.aud[0] : verified.payload.aud;
    sessionsIssued++;
    return (
      `<AssumeRoleWithWebIdentityResponse xmlns="${STS_XML_NAMESPACE}"><AssumeRoleWithWebIdentityResult>` +
      `<SubjectFromWebIdentityToken>${escapeXml(verified.subject)}</SubjectFromWebIdentityToken>` +
      `<Audience>${escapeXml(audience ?? '')}</Audience>` +
      `<AssumedRoleUser><Arn>arn:aws:sts::${account}:assumed-role/${escapeXml(roleName)}/${escapeXml(sessionName)}</Arn>` +
      `<AssumedRoleId>${roleId}:${escapeXml(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${randomId('ASIA', 16)}</AccessKeyId>` +
      `<SecretAccessKey>${randomBytes(30).toString('base64')}</SecretAccessKey>` +
      `<SessionToken>${randomBytes(180).toString('base64')}</SessionToken>` +
      `<Expiration>${expiration}</Expiration></Credentials>` +
      `<Provider>${escapeXml(verified.payload.iss ?? opts.trust.issuer)}</Provider>` +
      `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>` +
      `</AssumeRoleWithWebIdentityResponse>`
    );
  }

  const server = createServer((req, res) => {
    res.on('finish', () => logRequest(opts.quiet, 'aws', req, res.statusCode));
    const requestId = randomUUID();
    const run = async (): Promise<void> => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/') throw new StsError(404, 'InvalidAction', `Unknown path ${path}.`);
      const p = await params(req);
      const action = p.get('Action');
      if (action !== 'AssumeRoleWithWebIdentity') throw new StsError(400, 'InvalidAction', `Could not find operation ${action ?? '(none)'} for version ${p.get('Version') ?? '(none)'}`);
      if (p.get('Version') !== API_VERSION) throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${p.get('Version') ?? '(none)'}`);
      sendXml(res, 200, await assumeRole(p, requestId), requestId);
    };
    run().catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof StsError) return sendXml(res, e.status, errorXml(e, requestId), requestId);
      if (e instanceof BodyTooLarge) return sendXml(res, 400, errorXml(new StsError(400, 'ValidationError', e.message), requestId), requestId);
      if (!opts.quiet) console.error('[aws] internal error:', (e as Error).message);
      sendXml(res, 500, errorXml(new StsError(500, 'InternalFailure', 'Internal error.', 'Receiver'), requestId), requestId);
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, host, opts.port ?? 0);
  return {
    url: `http://${host}:${port}`,
    stats: () => ({ sessionsIssued }),
    close: () => closeServer(server),
  };
}
