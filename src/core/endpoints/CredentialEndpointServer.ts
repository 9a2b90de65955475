import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessEventSink, Outcome } from '../audit/AccessLog';
import type { AwsCredential, BearerCredential, Credential } from '../credentials/Credential';
import { errorMessage, UserFacingError } from '../errors';
import type { Disposable } from '../events';
import type { Environment } from '../policy/Environment';
import { redact } from '../redact';
import { ConsumerFiles } from './ConsumerFiles';
import {
  awsBody,
  awsConfigFile,
  awsVariables,
  databricksBody,
  databricksVariables,
  DATABRICKS_HOST_HEADER,
  DATABRICKS_METADATA_VERSION,
  DATABRICKS_VERSION_HEADER,
  errorBody,
  googleBody,
  googleCredentialsFile,
  googleIntrospection,
  googleVariables,
  GOOGLE_INTROSPECT_PATH,
  isAwsCredential,
  NOT_BLANKABLE,
  sameDatabricksHost,
  TARGET_PATH,
  type EndpointFailure,
  type EndpointTarget,
  type TargetVariables,
} from './endpointProtocols';

/** Who uses a registration: one terminal, task, debug session, notebook kernel or .env file. */
export interface EndpointConsumer {
  kind: 'terminal' | 'task' | 'debug' | 'notebook' | 'envFile' | 'workspace';
  /** Readable, e.g. the terminal's or launch configuration's name. Not secret. */
  name: string;
}

/**
 * Gets the credential a consumer asked for. The shell passes the access gate and the broker
 * here; it rejects with a UserFacingError ('denied' → 403, 'auth' → 401, else 502/503).
 */
export type EndpointCredentialSource = (environment: string, target: EndpointTarget, consumer: EndpointConsumer) => Promise<Credential>;

export interface CredentialEndpointServerOptions {
  credential: EndpointCredentialSource;
  /** The current effective environment by name (for the Databricks host, Google project, AWS region). */
  environment: (name: string) => Pick<Environment, 'name' | 'databricks' | 'spanner' | 'aws'> | undefined;
  sink: AccessEventSink;
  /** Diagnostics (an output channel): statuses and consumers, never a path, secret or token. */
  log?: (message: string) => void;
  now?: () => number;
  /** Parent of the private directory for credentials files; default the OS temp directory. */
  tempRoot?: string;
  /** Longest wait for a credential before answering 504; default 25 s. */
  credentialTimeoutMs?: number;
}

export interface RegisterRequest {
  environment: string;
  consumer: EndpointConsumer;
  /** Default: every target the environment configures. */
  targets?: readonly EndpointTarget[];
  /**
   * Fetch the credentials now, so the process's first request is answered from the cache
   * (botocore gives the container endpoint 2 s per attempt). Failures are left for the process
   * to meet. Default false.
   */
  warm?: boolean;
}

/** One consumer's endpoints: the variables its process needs, bound to one environment. */
export interface EndpointRegistration {
  /** Short, non-secret id (for logs and lists). */
  readonly id: string;
  readonly environment: string;
  readonly consumer: EndpointConsumer;
  readonly targets: readonly EndpointTarget[];
  /** Variables to set in the process. Hold the consumer's endpoint secret: never log them. */
  readonly env: Readonly<Record<string, string>>;
  /** Variables to remove from the process: static tokens and profiles that would win. */
  readonly unset: readonly string[];
  /**
   * The names in `unset` that may be set to "" instead where removing is impossible (a
   * terminal's environmentVariableCollection): the SDKs read them as unset when empty.
   */
  readonly blank: readonly string[];
  /**
   * Hosts to add to NO_PROXY and no_proxy (see mergeNoProxy): with HTTP(S)_PROXY set, gaxios,
   * requests and gcloud would otherwise send the endpoint requests, secret included, to the proxy.
   */
  readonly noProxy: readonly string[];
  /** Files the variables point at (in a private directory, mode 0600). */
  readonly files: readonly string[];
  readonly revoked: boolean;
  /**
   * Ends the registration: its URLs answer 401 (with the reason) from now on, the secret leaves
   * the disk (the Google credentials file is rewritten without it, the AWS token file emptied),
   * and the files stay until dispose, so a process started later still gets the clear 401.
   */
  revoke(reason?: string): Promise<void>;
}

/** A registration as lists and views show it: no secret. */
export interface RegistrationInfo {
  id: string;
  environment: string;
  consumer: EndpointConsumer;
  targets: EndpointTarget[];
  fetches: Partial<Record<EndpointTarget, number>>;
}

interface TargetStats {
  fetches: number;
  failures: number;
  lastFingerprint?: string;
  reported: Set<string>;
}

interface Registration {
  id: string;
  prefix: string;
  secretDigest: Buffer;
  environment: string;
  consumer: EndpointConsumer;
  targets: EndpointTarget[];
  databricksHost?: string;
  /**
   * Rewritten on revoke with this content (the Google credentials file, its secret replaced by
   * REVOKED_SECRET): a client started later still reaches the endpoint and reads why.
   */
  scrubbed: Map<string, string>;
  /** Kept until dispose, so a process started after revoke still reaches the endpoint and reads why (AWS config files; no secret). */
  kept: string[];
  /** Emptied on revoke, deleted on dispose (the AWS token file: botocore fails on a missing one). */
  tokenFiles: string[];
  stats: Map<EndpointTarget, TargetStats>;
  /** Digest of the last Google token handed out, for introspection; never the token. */
  googleTokenDigest?: Buffer;
  googleCredential?: { principal: string; scopes: string[]; expiresAt: number };
  revoked: boolean;
}

/** A revoked prefix: it answers 401 with the reason (the 128-bit prefix is proof enough to learn that). */
interface Tombstone {
  reason: string;
}

/** 16 bytes = 128 bits for the path prefix, 32 bytes = 256 bits for the secret. */
const PREFIX_BYTES = 16;
const SECRET_BYTES = 32;
const MAX_TOMBSTONES = 1000;
/** The "refresh token" of a revoked Google credentials file: no secret; the revoked prefix answers 401 with the reason. */
export const REVOKED_SECRET = 'revoked';
const MAX_BODY_BYTES = 8 * 1024;
const TOKEN = '[A-Za-z0-9_-]+';
const ROUTE = new RegExp(`^/(${TOKEN})/(?:(databricks)/(${TOKEN})|(aws)|google/(token|introspect))$`);

const LOOPBACK_NO_PROXY: readonly string[] = ['127.0.0.1', 'localhost'];

/** NO_PROXY with the endpoint hosts added (kept as is when they are there already). */
export function mergeNoProxy(current: string | undefined, hosts: readonly string[] = LOOPBACK_NO_PROXY): string {
  const list = (current ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  for (const h of hosts) if (!list.includes(h)) list.push(h);
  return list.join(',');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Constant-time secret check: both sides are hashed to 32 bytes first, so timingSafeEqual gets
 * equal lengths and the time reveals neither the secret's content nor its length.
 */
export function secretMatches(candidate: string | undefined, secretDigest: Buffer): boolean {
  return timingSafeEqual(digest(candidate ?? ''), secretDigest);
}

class EndpointError extends Error {
  constructor(readonly failure: EndpointFailure) {
    super(failure.message);
  }
}

function fail(status: number, code: string, message: string): EndpointError {
  return new EndpointError({ status, code, message });
}

function consumerLabel(c: EndpointConsumer): string {
  return `${c.kind} "${c.name}"`;
}

const TARGET_NAME: Record<EndpointTarget, string> = { databricks: 'Databricks', google: 'Google', aws: 'AWS' };

/** Maps a credential failure to a status and a message for the user's tool (never a stack or token). */
export function failureOf(e: unknown, environment: string, target: EndpointTarget): EndpointFailure {
  const what = `${TARGET_NAME[target]} credentials for "${environment}"`;
  if (e instanceof EndpointError) return e.failure;
  if (e instanceof UserFacingError) {
    const text = redact(e.message);
    switch (e.kind) {
      case 'denied':
        return { status: 403, code: 'PERMISSION_DENIED', message: `${text} (ML Spanner Access in VS Code denied ${what}.)` };
      case 'auth':
        return { status: 401, code: 'UNAUTHENTICATED', message: `${text} Sign in to ML Spanner Access in VS Code, then retry.` };
      case 'config':
        return { status: 503, code: 'NOT_CONFIGURED', message: `${text} Fix the environment in the VS Code setting mlspanner.environments.` };
      case 'cancelled':
        return { status: 503, code: 'UNAVAILABLE', message: `No ${what}: ${text}` };
      case 'network':
        return { status: 503, code: 'UNAVAILABLE', message: `Could not get ${what}: ${text}` };
      default:
        return { status: 502, code: 'BAD_GATEWAY', message: `Could not get ${what}: ${text}` };
    }
  }
  return { status: 502, code: 'BAD_GATEWAY', message: `Could not get ${what}: ${redact(errorMessage(e))}` };
}

/**
 * Local credential endpoints for the user's own processes (terminals, tasks, debug sessions,
 * notebook kernels): an HTTP server on 127.0.0.1 and a random port, started on first use, that
 * speaks each SDK's own credential protocol (see endpointProtocols.ts). Every consumer gets its
 * own registration: a random 128-bit path prefix and a 256-bit secret, bound to one
 * environment, revoked with the consumer, on sign-out, on environment change and on dispose.
 *
 * Refresh storms: the SDKs renew early (botocore 15 min before `Expiration`, google-auth 5 min
 * before `expires_in` runs out), so with a short `maxTtlSeconds` they ask on every call. That is
 * one loopback request each, answered from the broker's in-memory cache; only the broker decides
 * when to exchange again (refresh margin, shared in-flight requests).
 */
export class CredentialEndpointServer implements Disposable {
  private server?: http.Server;
  private starting?: Promise<number>;
  private port = 0;
  private readonly byPrefix = new Map<string, Registration>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly files: ConsumerFiles;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private disposed = false;
  /** Bumped by revokeAll / revokeEnvironment, so a registration still being made when they run is revoked too. */
  private revokedAllAt = 0;
  private readonly revokedEnvAt = new Map<string, number>();
  private revocations = 0;

  constructor(private readonly options: CredentialEndpointServerOptions) {
    this.files = new ConsumerFiles(options.tempRoot);
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.credentialTimeoutMs ?? 25_000;
  }

  /** The origin once started, e.g. http://127.0.0.1:49152. */
  get origin(): string | undefined {
    return this.port ? `http://127.0.0.1:${this.port}` : undefined;
  }

  async register(request: RegisterRequest): Promise<EndpointRegistration> {
    if (this.disposed) throw new UserFacingError('cancelled', 'The local credential endpoints were shut down.');
    const env = this.options.environment(request.environment);
    if (!env) throw new UserFacingError('config', `There is no environment "${request.environment}".`, 'Check the setting mlspanner.environments.');
    const configured: EndpointTarget[] = [];
    if (env.databricks) configured.push('databricks');
    if (env.spanner) configured.push('google');
    if (env.aws) configured.push('aws');
    const targets = request.targets ? configured.filter((t) => request.targets!.includes(t)) : configured;
    if (!targets.length) {
      const asked = request.targets?.length ? request.targets.map((t) => TARGET_NAME[t]).join(', ') : 'Databricks, Google or AWS';
      throw new UserFacingError('config', `Environment "${request.environment}" has no ${asked} credentials to hand out.`, 'Add them in the setting mlspanner.environments.');
    }

    const startedAt = this.revocations;
    const port = await this.start();
    const prefix = randomBytes(PREFIX_BYTES).toString('base64url');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const id = randomBytes(6).toString('hex');
    const base = `http://127.0.0.1:${port}/${prefix}`;
    const reg: Registration = {
      id,
      prefix,
      secretDigest: digest(secret),
      environment: env.name,
      consumer: { ...request.consumer },
      targets,
      databricksHost: env.databricks?.host,
      scrubbed: new Map(),
      kept: [],
      tokenFiles: [],
      stats: new Map(targets.map((t) => [t, { fetches: 0, failures: 0, reported: new Set<string>() }])),
      revoked: false,
    };

    const parts: TargetVariables[] = [];
    try {
      for (const target of targets) {
        if (target === 'databricks') parts.push(databricksVariables(env.databricks!.host, `${base}/${TARGET_PATH.databricks}/${secret}`));
        if (target === 'google') {
          const googleFile = (s: string) => JSON.stringify(googleCredentialsFile(`${base}/${TARGET_PATH.google}`, `${base}/${GOOGLE_INTROSPECT_PATH}`, s), null, 2) + '\n';
          const file = await this.files.write(`${id}-google-credentials.json`, googleFile(secret));
          reg.scrubbed.set(file, googleFile(REVOKED_SECRET));
          parts.push(googleVariables(file, env.spanner!));
        }
        if (target === 'aws') {
          const config = await this.files.write(`${id}-aws-config`, awsConfigFile(env.aws!.region));
          reg.kept.push(config);
          const credentials = await this.files.write(`${id}-aws-credentials`, '');
          reg.kept.push(credentials);
          const token = await this.files.write(`${id}-aws-token`, secret);
          reg.tokenFiles.push(token);
          parts.push(awsVariables(`${base}/${TARGET_PATH.aws}`, secret, { config, credentials, token }, env.aws!));
        }
      }
    } catch (e) {
      await this.files.remove([...reg.scrubbed.keys(), ...reg.kept, ...reg.tokenFiles]);
      throw new UserFacingError('service', `Could not write the credentials file for ${consumerLabel(reg.consumer)}.`, undefined, undefined, { cause: e });
    }
    const vars: Record<string, string> = Object.assign({}, ...parts.map((p) => p.env));
    const unset = [...new Set(parts.flatMap((p) => p.unset))].filter((name) => !(name in vars));
    if (this.disposed || this.revokedAllAt > startedAt || (this.revokedEnvAt.get(reg.environment) ?? 0) > startedAt) {
      await this.files.remove([...reg.scrubbed.keys(), ...reg.kept, ...reg.tokenFiles]);
      throw new UserFacingError('cancelled', `The credentials of "${reg.environment}" were revoked while ${consumerLabel(reg.consumer)} was being set up.`);
    }
    this.byPrefix.set(prefix, reg);
    this.options.log?.(`Credential endpoints ${id} opened for ${consumerLabel(reg.consumer)} in "${reg.environment}" (${targets.join(', ')}).`);

    if (request.warm) this.warm(reg);
    const revoke = (reason?: string) => this.revokeRegistration(reg, reason ?? `${reg.consumer.kind} closed`);
    return {
      id,
      environment: reg.environment,
      consumer: reg.consumer,
      targets: [...targets],
      env: vars,
      unset,
      blank: unset.filter((name) => !NOT_BLANKABLE.has(name)),
      noProxy: LOOPBACK_NO_PROXY,
      files: [...reg.scrubbed.keys(), ...reg.kept, ...reg.tokenFiles],
      get revoked() {
        return reg.revoked;
      },
      revoke,
    };
  }

  list(): RegistrationInfo[] {
    return [...this.byPrefix.values()].map((r) => ({
      id: r.id,
      environment: r.environment,
      consumer: { ...r.consumer },
      targets: [...r.targets],
      fetches: Object.fromEntries([...r.stats].map(([t, s]) => [t, s.fetches])),
    }));
  }

  /** Revokes every registration of an environment (its access changed, it was removed or edited). */
  async revokeEnvironment(environment: string, reason = 'environment changed'): Promise<number> {
    this.revokedEnvAt.set(environment, ++this.revocations);
    const regs = [...this.byPrefix.values()].filter((r) => r.environment === environment);
    await Promise.all(regs.map((r) => this.revokeRegistration(r, reason)));
    return regs.length;
  }

  /** Revokes every registration (sign-out, window close). */
  async revokeAll(reason = 'signed out'): Promise<number> {
    this.revokedAllAt = ++this.revocations;
    const regs = [...this.byPrefix.values()];
    await Promise.all(regs.map((r) => this.revokeRegistration(r, reason)));
    return regs.length;
  }

  /** Revokes everything, stops the server and removes the private directory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of [...this.byPrefix.values()]) {
      this.markRevoked(r, 'window closed');
    }
    this.files.dispose();
    this.server?.close();
    this.server?.closeAllConnections();
    this.server = undefined;
  }

  /** Asks for each target's credential once, in the background; the broker caches it. */
  private warm(reg: Registration): void {
    for (const target of reg.targets) {
      this.options.credential(reg.environment, target, { ...reg.consumer }).catch((e: unknown) => {
        const f = failureOf(e, reg.environment, target);
        this.options.log?.(`Credential endpoints ${reg.id}: could not prepare ${TARGET_NAME[target]} credentials (${f.status} ${f.code}): ${redact(f.message)}`);
      });
    }
  }

  private async revokeRegistration(reg: Registration, reason: string): Promise<void> {
    if (reg.revoked) return;
    this.markRevoked(reg, reason);
    await Promise.all([this.files.overwrite(reg.scrubbed), this.files.empty(reg.tokenFiles)]);
  }

  /** Forgets the registration (its secret stays only as a digest, so revoked URLs answer 401) and writes the counts. */
  private markRevoked(reg: Registration, reason: string): void {
    reg.revoked = true;
    this.byPrefix.delete(reg.prefix);
    this.tombstones.set(reg.prefix, { reason });
    while (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string);
    for (const [target, s] of reg.stats) {
      if (!s.fetches && !s.failures) continue;
      this.options.sink.record({
        type: 'credentialFetched',
        outcome: 'success',
        environment: reg.environment,
        target,
        resource: consumerLabel(reg.consumer),
        consumer: { ...reg.consumer },
        summary: true,
        fetches: s.fetches,
        failures: s.failures,
        detail: `endpoint revoked: ${reason}`,
      });
    }
    this.options.log?.(`Credential endpoints ${reg.id} revoked (${reason}).`);
  }

  private start(): Promise<number> {
    this.starting ??= new Promise<number>((resolve, reject) => {
      const server = http.createServer((req, res) => void this.handle(req, res));
      // Slow or idle clients must not hold sockets open (a stuck SDK, a port scanner).
      server.headersTimeout = 10_000;
      server.requestTimeout = this.timeoutMs + 5_000;
      server.keepAliveTimeout = 5_000;
      server.once('error', (e) => {
        this.starting = undefined;
        reject(new UserFacingError('network', 'Could not start the local credential endpoints on 127.0.0.1.', undefined, undefined, { cause: e }));
      });
      server.listen(0, '127.0.0.1', () => {
        this.server = server;
        this.port = (server.address() as AddressInfo).port;
        if (this.disposed) {
          server.close();
          reject(new UserFacingError('cancelled', 'The local credential endpoints were shut down.'));
          return;
        }
        resolve(this.port);
      });
    });
    return this.starting;
  }

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let target: EndpointTarget | undefined;
    let reg: Registration | undefined;
    try {
      // DNS rebinding and browsers: only a Host naming this loopback port, and no Origin.
      const host = (req.headers.host ?? '').toLowerCase();
      if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) throw fail(421, 'MISDIRECTED', 'Requests must be addressed to the loopback credential endpoint.');
      if (req.headers.origin !== undefined) throw fail(403, 'FORBIDDEN', 'Browsers may not use the local credential endpoints.');

      const pathname = (req.url ?? '/').split('?')[0];
      const m = ROUTE.exec(pathname);
      if (!m) throw fail(404, 'NOT_FOUND', 'No such credential endpoint.');
      const prefix = m[1];
      target = m[2] ? 'databricks' : m[4] ? 'aws' : 'google';
      reg = this.byPrefix.get(prefix);
      const tomb = reg ? undefined : this.tombstones.get(prefix);
      if (!reg && !tomb) throw fail(404, 'NOT_FOUND', 'No such credential endpoint.');

      const method = target === 'google' ? 'POST' : 'GET';
      if (req.method !== method) throw fail(405, 'METHOD_NOT_ALLOWED', `Use ${method}.`);
      if (m[5] === 'introspect') return await this.introspect(req, res, reg, tomb);

      let form: URLSearchParams | undefined;
      let presented: string | undefined;
      if (target === 'databricks') presented = m[3];
      else if (target === 'aws') presented = req.headers.authorization;
      else {
        form = await readForm(req);
        presented = form.get('refresh_token') ?? undefined;
      }

      if (reg && !secretMatches(presented, reg.secretDigest)) {
        this.noteFailure(reg, target, { status: 401, code: 'UNAUTHENTICATED', message: 'wrong or missing endpoint secret' });
        throw fail(401, 'UNAUTHENTICATED', 'Wrong or missing credential endpoint secret.');
      }
      if (!reg) {
        throw fail(
          401,
          'REVOKED',
          `These ML Spanner credentials were revoked (${tomb!.reason}). Open a new terminal, or run the task or debug session again, after choosing the environment in VS Code.`,
        );
      }
      if (!reg.targets.includes(target)) throw fail(404, 'NOT_FOUND', `This consumer has no ${TARGET_NAME[target]} credentials.`);

      if (target === 'databricks') this.checkDatabricksHeaders(req, reg);
      if (target === 'google') {
        const grant = form!.get('grant_type');
        if (grant !== 'refresh_token') throw fail(400, 'UNSUPPORTED_GRANT_TYPE', 'Only grant_type=refresh_token is supported here.');
      }

      const credential = await this.fetch(reg, target);
      const now = this.now();
      if (credential.expiresAt <= now) throw fail(503, 'UNAVAILABLE', `The ${TARGET_NAME[target]} credentials for "${reg.environment}" expired and could not be renewed; retry.`);
      this.noteFetch(reg, target, credential);
      if (target === 'google') {
        const bearer = credential as BearerCredential;
        reg.googleTokenDigest = digest(bearer.accessToken);
        reg.googleCredential = { principal: bearer.principal, scopes: [...bearer.scopes], expiresAt: bearer.expiresAt };
      }
      if (target === 'aws') return this.send(res, 200, awsBody(credential as AwsCredential));
      if (target === 'databricks') return this.send(res, 200, databricksBody(credential as BearerCredential));
      return this.send(res, 200, googleBody(credential as BearerCredential, now));
    } catch (e) {
      const f = failureOf(e, reg?.environment ?? '', target ?? 'databricks');
      if (reg && target && !(e instanceof EndpointError && e.failure.status === 401 && e.failure.code === 'UNAUTHENTICATED')) this.noteFailure(reg, target, f);
      if (f.status >= 500 || f.status === 403 || (f.status === 401 && f.code !== 'UNAUTHENTICATED')) {
        this.options.log?.(`Credential endpoint: ${f.status} ${f.code}${reg ? ` for ${consumerLabel(reg.consumer)} in "${reg.environment}"` : ''}: ${redact(f.message)}`);
      }
      this.send(res, f.status, errorBody(target, f), f.status === 405 ? { allow: target === 'google' ? 'POST' : 'GET' } : {});
    }
  }

  /**
   * RFC 7662 introspection of the Google token this consumer was handed (gcloud asks it, with
   * its own client id, for the account name). Possession of that token is the proof; any other
   * token is `{active: false}`. Nothing is fetched, so no credential is issued here.
   */
  private async introspect(req: http.IncomingMessage, res: http.ServerResponse, reg: Registration | undefined, tomb: Tombstone | undefined): Promise<void> {
    const form = await readForm(req);
    if (!reg) throw fail(401, 'REVOKED', `These ML Spanner credentials were revoked (${tomb!.reason}). Choose the environment in VS Code again.`);
    if (!reg.targets.includes('google')) throw fail(404, 'NOT_FOUND', 'This consumer has no Google credentials.');
    const known = reg.googleTokenDigest && reg.googleCredential && reg.googleCredential.expiresAt > this.now();
    const matches = known ? secretMatches(form.get('token') ?? '', reg.googleTokenDigest!) : false;
    this.send(res, 200, matches ? googleIntrospection(reg.googleCredential!) : { active: false });
  }

  /** Metadata-service rules: version 1, and the host the SDK is configured for must be this environment's. */
  private checkDatabricksHeaders(req: http.IncomingMessage, reg: Registration): void {
    const version = req.headers[DATABRICKS_VERSION_HEADER];
    if (version !== DATABRICKS_METADATA_VERSION) {
      throw fail(400, 'BAD_REQUEST', `Unsupported metadata service version "${String(version ?? '')}"; this endpoint speaks version ${DATABRICKS_METADATA_VERSION}.`);
    }
    const host = req.headers[DATABRICKS_HOST_HEADER];
    if (typeof host !== 'string' || !host) throw fail(400, 'BAD_REQUEST', 'The X-Databricks-Host header is missing.');
    if (!sameDatabricksHost(host, reg.databricksHost ?? '')) {
      throw fail(
        403,
        'HOST_MISMATCH',
        `These credentials are for the "${reg.environment}" workspace ${reg.databricksHost}, not ${redact(host)}. Unset DATABRICKS_HOST overrides or choose that environment in VS Code.`,
      );
    }
  }

  private async fetch(reg: Registration, target: EndpointTarget): Promise<Credential> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(fail(504, 'TIMEOUT', `Timed out after ${Math.round(this.timeoutMs / 1000)} s waiting for ${TARGET_NAME[target]} credentials for "${reg.environment}".`)),
        this.timeoutMs,
      );
    });
    try {
      const c = await Promise.race([this.options.credential(reg.environment, target, { ...reg.consumer }), timeout]);
      if (reg.revoked) throw fail(401, 'REVOKED', 'These ML Spanner credentials were revoked while being fetched.');
      if (c.target !== target || isAwsCredential(c) !== (target === 'aws')) throw fail(502, 'BAD_GATEWAY', `Got other credentials than ${TARGET_NAME[target]} credentials.`);
      if (target === 'databricks' && !sameDatabricksHost(c.principal, reg.databricksHost ?? '')) {
        throw fail(409, 'ENVIRONMENT_CHANGED', `The "${reg.environment}" workspace changed since this process started. Open a new terminal or restart it.`);
      }
      return c;
    } finally {
      clearTimeout(timer);
    }
  }

  /** First fetch of each credential (by fingerprint) goes to the access log; the rest are counted. */
  private noteFetch(reg: Registration, target: EndpointTarget, c: Credential): void {
    const s = reg.stats.get(target)!;
    s.fetches++;
    if (s.lastFingerprint === c.fingerprint) return;
    s.lastFingerprint = c.fingerprint;
    this.options.sink.record({
      type: 'credentialFetched',
      outcome: 'success',
      environment: reg.environment,
      target,
      resource: consumerLabel(reg.consumer),
      consumer: { ...reg.consumer },
      tokenFingerprint: c.fingerprint,
      expiresAt: new Date(c.expiresAt).toISOString(),
    });
  }

  /** First failure of each kind per consumer and target is recorded; the rest are counted. */
  private noteFailure(reg: Registration, target: EndpointTarget, f: EndpointFailure): void {
    const s = reg.stats.get(target);
    if (!s) return;
    s.failures++;
    if (s.reported.has(f.code)) return;
    s.reported.add(f.code);
    const outcome: Outcome = f.status === 401 || f.status === 403 ? 'denied' : 'failure';
    this.options.sink.record({
      type: 'credentialFetched',
      outcome,
      environment: reg.environment,
      target,
      resource: consumerLabel(reg.consumer),
      consumer: { ...reg.consumer },
      status: f.status,
      detail: redact(f.message),
    });
  }
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw fail(400, 'BAD_REQUEST', 'Content-Type must be application/x-www-form-urlencoded.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw fail(413, 'BAD_REQUEST', 'Request body too large.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A registration as a .env file (python-dotenv, docker --env-file, VS Code's `envFile`).
 * A .env file cannot remove a variable: the `blank` ones are written empty, which the SDKs read
 * as unset. The file holds the consumer's endpoint secret: write it with mode 0600, keep it out
 * of version control and delete it when the registration ends.
 */
export function toDotEnv(reg: Pick<EndpointRegistration, 'environment' | 'env' | 'blank'>): string {
  const quote = (v: string) => (/^[\w./:@+-]*$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  const lines = [`# ML Spanner Access: local credential endpoints for "${reg.environment}". Valid while VS Code runs; do not commit.`];
  for (const [k, v] of Object.entries(reg.env)) lines.push(`${k}=${quote(v)}`);
  for (const k of reg.blank) lines.push(`${k}=`);
  return lines.join('\n') + '\n';
}
