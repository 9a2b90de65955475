import { UserFacingError } from '../errors';
import { AuthorizedClient, toTokenSource, type AuthorizedRequestConfig, type TokenSource } from '../http/AuthorizedClient';
import { createHttpClient, ServiceError, type HttpClientOptions } from '../http/HttpClient';
import { checkEndpointUrl } from '../policy/endpointUrl';
import { parseResultSet, type ResultSet, type SpannerType } from './resultDecoding';

/** Returns a Google access token; `forceRefresh` asks for a new one even if the cached one looks valid. */
export type GoogleTokenSource = (forceRefresh?: boolean) => Promise<string>;

/** spanner.proto ExecuteSqlRequest.QueryMode. */
export type QueryMode = 'NORMAL' | 'PLAN' | 'PROFILE' | 'WITH_STATS' | 'WITH_PLAN_AND_STATS';

export interface ExecuteSqlOptions {
  /** google.protobuf.Struct: `@name` → value in its JSON encoding (INT64 as a string). */
  params?: Record<string, unknown>;
  paramTypes?: Record<string, SpannerType>;
  queryMode?: QueryMode;
}

/** The request body of ExecuteSql as this client sends it (spanner.proto ExecuteSqlRequest). */
export interface ExecuteSqlRequest extends ExecuteSqlOptions {
  sql: string;
  transaction: { singleUse: { readOnly: { strong: true } } };
}

export interface SpannerClientOptions {
  /** Who the token acts as (service account or federated principal): named when access is denied. */
  principal?: string;
  /** Passed to createHttpClient: retry policy, sleep and clock (tests use fakes). */
  http?: Omit<HttpClientOptions, 'service' | 'baseURL'>;
}

/** What the query runner needs from a client: an interface so tests can pass a fake. */
export interface SpannerQueryApi {
  readonly database: string;
  readonly lastTokenFingerprint: string | undefined;
  executeSql(sql: string, options?: ExecuteSqlOptions): Promise<ResultSet>;
  dispose(): Promise<void>;
}

const SERVICE = 'Cloud Spanner';
const DATABASE_PATH = /^projects\/[^/]+\/instances\/[^/]+\/databases\/[^/]+$/;
const SESSION_PATH = /^projects\/[^/]+\/instances\/[^/]+\/databases\/[^/]+\/sessions\/[^/]+$/;

/** `projects/P/instances/I/databases/D`, the database resource name (spanner.proto). */
export function databasePath(s: { project: string; instance: string; database: string }): string {
  const path = `projects/${s.project}/instances/${s.instance}/databases/${s.database}`;
  if (!DATABASE_PATH.test(path)) throw new UserFacingError('config', `"${path}" is not a Spanner database name.`, 'Check spanner.project, spanner.instance and spanner.database in mlspanner.environments.');
  return path;
}

/** The message Spanner gave, without the "<service> refused <path>: <CODE>: " prefix toServiceError adds. */
export function spannerMessage(e: ServiceError): string {
  const marker = e.code ? `${e.code}: ` : ': ';
  const at = e.message.indexOf(marker);
  return at >= 0 ? e.message.slice(at + marker.length) : e.message;
}

/**
 * Cloud Spanner REST (CONTRACTS.md "Spanner REST"): one session per client, reused for every
 * query; queries run in a single-use strong read-only transaction. A session that died
 * (NOT_FOUND: idle for an hour, or deleted) is recreated once; a 401 asks once for a fresh token.
 */
export class SpannerClient implements SpannerQueryApi {
  readonly endpoint: string;
  private readonly http: AuthorizedClient;
  private session?: Promise<string>;

  /**
   * @param tokens a TokenSource (e.g. credentialTokenSource over the broker), or a function
   *   `(forceRefresh) => Promise<token>`; an empty token is refused, never sent.
   */
  constructor(
    endpoint: string,
    readonly database: string,
    tokens: TokenSource | GoogleTokenSource,
    private readonly options: SpannerClientOptions = {},
  ) {
    const checked = checkEndpointUrl(endpoint);
    if ('error' in checked) throw new UserFacingError('config', `The Spanner endpoint ${checked.error}.`, 'Fix spanner.endpoint in mlspanner.environments.');
    if (!DATABASE_PATH.test(database)) throw new UserFacingError('config', `"${database}" is not a Spanner database name (projects/P/instances/I/databases/D).`);
    this.endpoint = checked.url;
    this.http = new AuthorizedClient(createHttpClient({ ...options.http, service: SERVICE, baseURL: this.endpoint }), toTokenSource(tokens, 'Google'));
  }

  get lastTokenFingerprint(): string | undefined {
    return this.http.lastTokenFingerprint;
  }

  /** CreateSession: `POST /v1/{database}/sessions` → Session; returns its name. */
  async createSession(): Promise<string> {
    try {
      return await this.openSession();
    } catch (e) {
      throw this.explain(e);
    }
  }

  /**
   * ExecuteSql in a single-use strong read-only transaction (CONTRACTS.md: `transaction{singleUse}`).
   * Read-only, so the POST is safe to repeat on 5xx.
   */
  async executeSql(sql: string, options: ExecuteSqlOptions = {}): Promise<ResultSet> {
    const body: ExecuteSqlRequest = {
      sql,
      ...(options.params ? { params: options.params } : {}),
      ...(options.paramTypes ? { paramTypes: options.paramTypes } : {}),
      ...(options.queryMode ? { queryMode: options.queryMode } : {}),
      transaction: { singleUse: { readOnly: { strong: true } } },
    };
    try {
      for (let attempt = 0; ; attempt++) {
        const session = this.currentSession();
        const name = await session;
        try {
          return parseResultSet(await this.call({ method: 'POST', url: `/v1/${name}:executeSql`, data: body, retryUnsafe: true }));
        } catch (e) {
          if (!(e instanceof ServiceError) || e.code !== 'NOT_FOUND') throw e;
          // Idle sessions are deleted after about an hour (CONTRACTS.md): recreate once and retry.
          if (this.session === session) this.session = undefined;
          if (attempt > 0) throw e;
        }
      }
    } catch (e) {
      throw this.explain(e, sql);
    }
  }

  /** Deletes the session. Never rejects: a session left behind dies on its own after an hour idle. */
  async dispose(): Promise<void> {
    const pending = this.session;
    this.session = undefined;
    if (!pending) return;
    try {
      const name = await pending;
      await this.call({ method: 'DELETE', url: `/v1/${name}`, timeout: 5000 });
    } catch {
      /* best effort, see above */
    }
  }

  private async openSession(): Promise<string> {
    // CreateSessionRequest: `session` is required; an empty one asks for the defaults.
    const created = await this.call({ method: 'POST', url: `/v1/${this.database}/sessions`, data: { session: {} } });
    const name = typeof created === 'object' && created !== null ? (created as { name?: unknown }).name : undefined;
    if (typeof name !== 'string' || !SESSION_PATH.test(name) || !name.startsWith(`${this.database}/sessions/`))
      throw new UserFacingError('protocol', `Cloud Spanner returned no session for ${this.database}.`, 'Retry; if it persists, check spanner.endpoint.');
    return name;
  }

  /** The shared session; concurrent queries wait for the same creation. */
  private currentSession(): Promise<string> {
    if (!this.session) {
      const created = this.openSession();
      this.session = created;
      // A failed creation is not cached: the next query tries again.
      created.catch(() => {
        if (this.session === created) this.session = undefined;
      });
    }
    return this.session;
  }

  /** One request through the authorized client (token, one 401 retry, fingerprint); the body unchecked. */
  private call(config: AuthorizedRequestConfig): Promise<unknown> {
    return this.http.data<unknown>(config);
  }

  /** Rewords Spanner's refusals as what failed, why, and what to do. */
  private explain(e: unknown, sql?: string): unknown {
    if (!(e instanceof ServiceError) || e.service !== SERVICE || e instanceof SpannerError || e.status === undefined) return e;
    const detail = spannerMessage(e);
    const who = this.options.principal ?? 'your Google identity';
    switch (e.code) {
      case 'PERMISSION_DENIED':
        return new SpannerError(e, `Cloud Spanner denied ${who} access to ${this.database}: ${detail}`, `Ask for roles/spanner.databaseReader on ${this.database} for ${who}, or choose another environment.`);
      case 'UNAUTHENTICATED':
        return new SpannerError(e, `Cloud Spanner did not accept the Google token for ${who}: ${detail}`, 'Sign in again, then retry.');
      case 'INVALID_ARGUMENT':
        return sql === undefined
          ? new SpannerError(e, `Cloud Spanner rejected the request: ${detail}`)
          : new SpannerError(e, `The query failed: ${detail}`, 'Fix the SQL and run it again.');
      case 'NOT_FOUND':
        return new SpannerError(e, `Cloud Spanner: ${detail}`, `Check that ${this.database} exists (spanner.project, spanner.instance, spanner.database in mlspanner.environments).`);
      case 'RESOURCE_EXHAUSTED':
        return new SpannerError(e, `Cloud Spanner is rate-limiting requests: ${detail}`, 'Wait a minute and retry.');
      case 'DEADLINE_EXCEEDED':
        return new SpannerError(e, `The query took too long: ${detail}`, 'Narrow the query (WHERE, LIMIT) and retry.');
      default:
        return e;
    }
  }
}

/** A Spanner ServiceError with an actionable message; keeps status and code for callers. */
export class SpannerError extends ServiceError {
  constructor(from: ServiceError, message: string, action?: string) {
    super(from.service, from.status, from.code, message, action ?? from.action, from.kind);
  }
}
