import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BodyTooLarge, closeServer, listen, logRequest, readBody } from '../LoopbackServer';
import { groupsOf, type SandboxTrust } from '../trust';
import { TokenRejected, verifyFederatedJwt } from '../verifyJwt';

/**
 * AWS STS AssumeRoleWithWebIdentity and GetCallerIdentity on loopback (query protocol, XML
 * responses), per CONTRACTS.md "AWS IAM" and aws-sts-2011-06-15.min.json. GetCallerIdentity
 * checks the Signature Version 4 signature with the session's secret key and the session token,
 * as AWS does, so a client that answers with the assumed role really holds that session.
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
  stats(): { sessionsIssued: number; callerIdentityCalls: number };
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

/** An issued session, as STS knows it when the keys come back signed. */
interface StsSession {
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
  arn: string;
  userId: string;
  account: string;
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * The SigV4 signature of a request (AWS "Create a signed AWS API request"): canonical request,
 * string to sign, signing key from the secret, date, region and service.
 */
export function sigV4Signature(input: {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  signedHeaders: string[];
  body: string;
  amzDate: string;
  scope: { date: string; region: string; service: string };
  secretAccessKey: string;
}): string {
  const canonicalQuery = [...input.query]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = input.signedHeaders
    .map((h) => {
      const v = input.headers[h];
      return `${h}:${(Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const path = input.path.split('/').map((seg) => uriEncode(decodeURIComponent(seg))).join('/') || '/';
  const canonicalRequest = [input.method, path, canonicalQuery, canonicalHeaders, input.signedHeaders.join(';'), sha256Hex(input.body)].join('\n');
  const scope = `${input.scope.date}/${input.scope.region}/${input.scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, input.scope.date), input.scope.region), input.scope.service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

const AUTHORIZATION_PATTERN = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

export async function startAwsStsEmulator(opts: AwsStsEmulatorOptions): Promise<AwsStsEmulator> {
  const now = opts.now ?? Date.now;
  const roleIds = new Map<string, string>();
  const sessions = new Map<string, StsSession>();
  let sessionsIssued = 0;
  let callerIdentityCalls = 0;

  async function params(req: IncomingMessage): Promise<{ params: URLSearchParams; body: string }> {
    const url = new URL(req.url ?? '/', 'http://sts.local');
    if (req.method === 'GET') return { params: url.searchParams, body: '' };
    if (req.method !== 'POST') throw new StsError(405, 'InvalidAction', 'Use GET or POST.');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    if (type !== 'application/x-www-form-urlencoded') throw new StsError(400, 'InvalidParameterValue', 'Content-Type must be application/x-www-form-urlencoded.');
    const body = await readBody(req, 64 * 1024);
    const form = new URLSearchParams(body);
    for (const [k, v] of url.searchParams) if (!form.has(k)) form.set(k, v);
    return { params: form, body };
  }

  /** GetCallerIdentity: needs no permission, only a valid signature by a live session. */
  function getCallerIdentity(req: IncomingMessage, body: string, requestId: string): string {
    const auth = AUTHORIZATION_PATTERN.exec(req.headers.authorization ?? '');
    if (!auth) throw new StsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    const [, accessKeyId, date, region, service, signedHeaderList, signature] = auth;
    const session = sessions.get(accessKeyId);
    if (!session) throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    const signedHeaders = signedHeaderList.split(';');
    const amzDate = req.headers['x-amz-date'];
    if (typeof amzDate !== 'string' || !amzDate.startsWith(date) || !signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
      throw new StsError(400, 'IncompleteSignature', 'The request signature must cover the host and x-amz-date headers.');
    }
    if (service !== 'sts') throw new StsError(400, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: 'sts'.`);
    const url = new URL(req.url ?? '/', 'http://sts.local');
    const expected = sigV4Signature({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, signedHeaders, body, amzDate, scope: { date, region, service }, secretAccessKey: session.secretAccessKey });
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      throw new StsError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
    if (req.headers['x-amz-security-token'] !== session.sessionToken || !signedHeaders.includes('x-amz-security-token')) {
      throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (session.expiresAt <= now()) throw new StsError(400, 'ExpiredToken', 'The security token included in the request is expired');
    callerIdentityCalls++;
    return (
      `<GetCallerIdentityResponse xmlns="${STS_XML_NAMESPACE}"><GetCallerIdentityResult>` +
      `<Arn>${escapeXml(session.arn)}</Arn><UserId>${escapeXml(session.userId)}</UserId><Account>${session.account}</Account>` +
      `</GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
    );
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
    const expiresAt = now() + duration * 1000;
    const expiration = new Date(expiresAt).toISOString();
    const audience = Array.isArray(verified.payload.aud) ? verified.payload.aud[0] : verified.payload.aud;
    const accessKeyId = randomId('ASIA', 16);
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(180).toString('base64');
    const assumedArn = `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`;
    for (const [key, old] of sessions) if (old.expiresAt <= now()) sessions.delete(key);
    sessions.set(accessKeyId, { secretAccessKey, sessionToken, expiresAt, arn: assumedArn, userId: `${roleId}:${sessionName}`, account });
    sessionsIssued++;
    return (
      `<AssumeRoleWithWebIdentityResponse xmlns="${STS_XML_NAMESPACE}"><AssumeRoleWithWebIdentityResult>` +
      `<SubjectFromWebIdentityToken>${escapeXml(verified.subject)}</SubjectFromWebIdentityToken>` +
      `<Audience>${escapeXml(audience ?? '')}</Audience>` +
      `<AssumedRoleUser><Arn>${escapeXml(assumedArn)}</Arn>` +
      `<AssumedRoleId>${roleId}:${escapeXml(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId>` +
      `<SecretAccessKey>${secretAccessKey}</SecretAccessKey>` +
      `<SessionToken>${sessionToken}</SessionToken>` +
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
      const { params: p, body } = await params(req);
      const action = p.get('Action');
      if (action !== 'AssumeRoleWithWebIdentity' && action !== 'GetCallerIdentity') {
        throw new StsError(400, 'InvalidAction', `Could not find operation ${action ?? '(none)'} for version ${p.get('Version') ?? '(none)'}`);
      }
      if (p.get('Version') !== API_VERSION) throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${p.get('Version') ?? '(none)'}`);
      sendXml(res, 200, action === 'GetCallerIdentity' ? getCallerIdentity(req, body, requestId) : await assumeRole(p, requestId), requestId);
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
    stats: () => ({ sessionsIssued, callerIdentityCalls }),
    close: () => closeServer(server),
  };
}
