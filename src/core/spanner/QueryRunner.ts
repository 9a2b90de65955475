import type { AccessEventSink, Outcome } from '../audit/AccessLog';
import type { Credential } from '../credentials/Credential';
import { errorMessage, isCancellation, UserFacingError } from '../errors';
import { credentialTokenSource, toTokenSource, type TokenSource } from '../http/AuthorizedClient';
import { DEFAULT_ENDPOINTS, type SpannerSettings } from '../policy/Environment';
import { decodeResultSet, formatResultTable, type DecodedColumn, type ResultSetStats, type SpannerType, type SpannerValue } from './resultDecoding';
import { databasePath, SpannerClient, type GoogleTokenSource, type SpannerClientOptions, type SpannerQueryApi } from './SpannerClient';

/** What a query needs to know about the environment's Spanner database. */
export type QuerySpannerSettings = Pick<SpannerSettings, 'project' | 'instance' | 'database'> &
  Partial<Pick<SpannerSettings, 'endpoint' | 'serviceAccount' | 'workloadIdentityAudience'>>;

export interface QueryRequest {
  environment: string;
  spanner: QuerySpannerSettings;
  sql: string;
  /** A Google token for the environment, e.g. googleTokenSource(broker, environment). */
  getToken: TokenSource | GoogleTokenSource;
  sink: AccessEventSink;
  /** Query parameters (`@name`), in their proto3 JSON encoding. */
  params?: Record<string, unknown>;
  paramTypes?: Record<string, SpannerType>;
  /** Rows in the Markdown table (all rows are returned regardless). Default 100. */
  maxRows?: number;
  /** Who the token acts as, named when access is denied; defaults from the settings. */
  principal?: string;
  /** A client to reuse (its session survives between queries); else one is made and disposed. */
  client?: SpannerQueryApi;
  http?: SpannerClientOptions['http'];
  now?: () => number;
}

export interface QueryResult {
  /** projects/P/instances/I/databases/D */
  database: string;
  columns: DecodedColumn[];
  rows: SpannerValue[][];
  stats?: ResultSetStats;
  elapsedMs: number;
  markdown: string;
}

export type StatementKind = 'query' | 'dml' | 'ddl' | 'other';

export interface StatementClass {
  kind: StatementKind;
  /** The leading keyword, upper-case (e.g. "SELECT", "INSERT"), or "" when there is none. */
  keyword: string;
  /** True when more than one statement was given (a `;` followed by more SQL). */
  multiple: boolean;
}

const QUERY = new Set(['SELECT', 'WITH']);
const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);
const DDL = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'GRANT', 'REVOKE', 'ANALYZE', 'TRUNCATE']);
const ACCESS_DETAIL_CHARS = 200;

/**
 * The SQL with comments (`--`, `#`, `/* *\/`, GoogleSQL lexical structure) replaced by a space,
 * string literals and quoted identifiers kept verbatim, and the offsets of top-level `;`.
 */
export function stripSqlComments(sql: string): { code: string; semicolons: number[] } {
  let code = '';
  const semicolons: number[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if ((c === '-' && next === '-') || c === '#') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
      code += ' ';
      continue;
    }
    if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      code += ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      // r'...' / rb"..." are raw: a backslash does not escape there.
      const raw = c !== '`' && /(^|[^A-Za-z0-9_])([rR][bB]?|[bB][rR])$/.test(code);
      const triple = c !== '`' && sql.startsWith(c.repeat(3), i);
      const close = triple ? c.repeat(3) : c;
      let j = i + close.length;
      while (j < sql.length && !sql.startsWith(close, j)) j += !raw && sql[j] === '\\' ? 2 : 1;
      j = Math.min(sql.length, j + close.length);
      code += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === ';') semicolons.push(code.length);
    code += c;
    i++;
  }
  return { code, semicolons };
}

/** What kind of statement `sql` is, judged after comments and statement hints (`@{...}`). */
export function classifyStatement(sql: string): StatementClass {
  const { code, semicolons } = stripSqlComments(sql);
  const multiple = semicolons.some((at) => code.slice(at + 1).trim() !== '');
  let head = code.trimStart();
  // A statement hint precedes the statement: @{USE_ADDITIONAL_PARALLELISM=TRUE} SELECT ...
  const hint = /^@\{[^}]*\}\s*/.exec(head);
  if (hint) head = head.slice(hint[0].length);
  // A parenthesised query: (SELECT 1) UNION ALL (SELECT 2)
  head = head.replace(/^[(\s]+/, '');
  const keyword = (/^[A-Za-z_]+/.exec(head)?.[0] ?? '').toUpperCase();
  const kind: StatementKind = QUERY.has(keyword) ? 'query' : DML.has(keyword) ? 'dml' : DDL.has(keyword) ? 'ddl' : 'other';
  return { kind, keyword, multiple };
}

/**
 * Refuses anything but one query. The single-use read-only transaction is what enforces this at
 * Spanner; the check gives a clear message before any token is used.
 */
export function assertReadOnlyQuery(sql: string): void {
  const c = classifyStatement(sql);
  if (!c.keyword && !c.multiple && stripSqlComments(sql).code.trim() === '')
    throw new UserFacingError('config', 'The query is empty.', 'Select a SELECT statement in the editor, or type one, and run it again.');
  if (c.kind !== 'query') {
    const what = c.kind === 'dml' ? `${c.keyword} changes data` : c.kind === 'ddl' ? `${c.keyword} is DDL` : c.keyword ? `${c.keyword} is not a query` : 'This is not a query';
    throw new UserFacingError('denied', `${what}: ML Spanner queries run read-only; use the console for DDL and data changes.`, 'Run a SELECT or WITH query.');
  }
  if (c.multiple) throw new UserFacingError('config', 'Only one statement can run at a time.', 'Select a single SELECT or WITH query and run it again.');
}

/** Who a Spanner token acts as, for messages: the impersonated service account, else the pool provider. */
export function spannerPrincipal(s: QuerySpannerSettings): string | undefined {
  if (s.serviceAccount) return `service account ${s.serviceAccount}`;
  if (s.workloadIdentityAudience) return `your federated identity (${s.workloadIdentityAudience.replace(/^\/\/iam\.googleapis\.com\//, '')})`;
  return undefined;
}

/**
 * The environment's Google token from the credential broker, as a TokenSource (and, for older
 * callers, as a function returning the token): `forceRefresh` bypasses the broker's cache; a
 * credential that is not a Google bearer token, or has no token, is refused with a clear error.
 */
export function googleTokenSource(
  broker: { get(environment: string, target: 'google', opts?: { forceRefresh?: boolean }): Promise<Credential> },
  environment: string,
): TokenSource & GoogleTokenSource {
  const source = credentialTokenSource((forceRefresh) => broker.get(environment, 'google', { forceRefresh }), { target: 'google', environment });
  const fn = async (forceRefresh?: boolean) => (await source.token({ forceRefresh: forceRefresh === true })).value;
  return Object.assign(fn, { token: source.token });
}

function accessDetail(sql: string): string {
  const chars = [...sql.trim()];
  return chars.length > ACCESS_DETAIL_CHARS ? `${chars.slice(0, ACCESS_DETAIL_CHARS).join('')}…` : chars.join('');
}

/**
 * Runs one read-only query (SELECT / WITH, including `ML.PREDICT`) against the environment's
 * database and records a 'queryExecuted' access event, whatever the outcome.
 */
export async function runQuery(request: QueryRequest): Promise<QueryResult> {
  const now = request.now ?? Date.now;
  const database = databasePath(request.spanner);
  const record = (outcome: Outcome, extra: Record<string, unknown>): void =>
    request.sink.record({
      type: 'queryExecuted',
      outcome,
      environment: request.environment,
      target: 'google',
      resource: database,
      detail: accessDetail(request.sql),
      ...extra,
    });
  try {
    assertReadOnlyQuery(request.sql);
  } catch (e) {
    record('denied', { reason: errorMessage(e) });
    throw e;
  }
  const client =
    request.client ??
    new SpannerClient(request.spanner.endpoint ?? DEFAULT_ENDPOINTS.spanner, database, request.getToken, {
      principal: request.principal ?? spannerPrincipal(request.spanner),
      http: request.http,
    });
  const started = now();
  try {
    // WITH_STATS: the result carries query statistics (rows returned, elapsed and CPU time).
    const resultSet = await client.executeSql(request.sql, { params: request.params, paramTypes: request.paramTypes, queryMode: 'WITH_STATS' });
    const decoded = decodeResultSet(resultSet);
    const elapsedMs = now() - started;
    record('success', { rows: decoded.rows.length, elapsedMs, tokenFingerprint: client.lastTokenFingerprint });
    return {
      database,
      columns: decoded.columns,
      rows: decoded.rows,
      stats: decoded.stats,
      elapsedMs,
      markdown: formatResultTable(decoded, { maxRows: request.maxRows }),
    };
  } catch (e) {
    record(isCancellation(e) ? 'cancelled' : 'failure', { elapsedMs: now() - started, tokenFingerprint: client.lastTokenFingerprint, reason: errorMessage(e) });
    throw e;
  } finally {
    if (!request.client) await client.dispose();
  }
}

export interface QueryRunnerOptions {
  sink: AccessEventSink;
  http?: SpannerClientOptions['http'];
  now?: () => number;
}

interface CachedClient {
  client: SpannerClient;
  /** The latest token source for this environment: the cached client always asks the current one. */
  tokens: TokenSource;
}

/**
 * Runs queries with one Spanner client (and so one session) per environment and database, so
 * consecutive queries skip session creation. Dispose on sign-out: it deletes the sessions.
 */
export class QueryRunner {
  private readonly clients = new Map<string, CachedClient>();

  constructor(private readonly options: QueryRunnerOptions) {}

  run(request: Omit<QueryRequest, 'sink' | 'client' | 'http' | 'now'>): Promise<QueryResult> {
    const database = databasePath(request.spanner);
    const endpoint = request.spanner.endpoint ?? DEFAULT_ENDPOINTS.spanner;
    const principal = request.principal ?? spannerPrincipal(request.spanner);
    const key = JSON.stringify([request.environment, endpoint, database, principal ?? null]);
    let cached = this.clients.get(key);
    if (!cached) {
      const entry: CachedClient = {
        tokens: toTokenSource(request.getToken, 'Google'),
        client: new SpannerClient(endpoint, database, { token: (opts) => entry.tokens.token(opts) }, { principal, http: this.options.http }),
      };
      cached = entry;
      this.clients.set(key, entry);
    }
    cached.tokens = toTokenSource(request.getToken, 'Google');
    return runQuery({ ...request, sink: this.options.sink, client: cached.client, now: this.options.now });
  }

  /** Deletes every session (best effort) and forgets the clients. */
  async dispose(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.client.dispose()));
  }
}
