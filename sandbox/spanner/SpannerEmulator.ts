import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { GoogleAccessToken } from '../google/GoogleEmulator';
import { BodyTooLarge, closeServer, listen, logRequest, readBody, sendJson } from '../LoopbackServer';
import { encodeCell, executeQuery, SqlError, type ColumnType, type DatabaseContent } from './sqlEngine';

/**
 * Cloud Spanner REST on loopback (CONTRACTS.md "Spanner REST", spanner-v1-protos): sessions
 * (create, get, delete; idle ones expire) and ExecuteSql in single-use read-only transactions,
 * answering ResultSet JSON per result_set.proto and type.proto. Callers authenticate with Google
 * access tokens issued by the Google emulator.
 */

/** Who may read a database (roles/spanner.databaseReader bindings). */
export interface SpannerReaders {
  /** Federated identities holding one of these IdP groups (principalSet://...group/<g>). */
  groups?: string[];
  /** Service account emails, or `principal://` identifiers of federated subjects. */
  principals?: string[];
}

export interface SpannerDatabase {
  /** projects/P/instances/I/databases/D */
  name: string;
  readers: SpannerReaders;
  content: DatabaseContent;
}

export interface SpannerEmulatorOptions {
  host?: string;
  port?: number;
  /** The Google emulator's lookup of tokens it issued (unknown or expired: undefined). */
  lookupToken(token: string): GoogleAccessToken | undefined;
  databases: SpannerDatabase[];
  /** Sessions unused for this long are gone (NOT_FOUND). Spanner: about an hour. */
  sessionIdleMs?: number;
  quiet?: boolean;
  now?: () => number;
}

export interface SpannerEmulatorStats {
  sessionsCreated: number;
  sessionsDeleted: number;
  sessionsExpired: number;
  queries: number;
}

export interface SpannerEmulator {
  /** The `spanner.endpoint` value: requests go to {url}/v1/... */
  url: string;
  stats(): SpannerEmulatorStats;
  /** Live session names. */
  sessions(): string[];
  /** Drops every session as if it had idled out; returns how many. */
  expireSessions(): number;
  close(): Promise<void>;
}

/** ExecuteSqlRequest fields (spanner.proto), lowerCamelCase as proto3 JSON writes them. */
export const EXECUTE_SQL_REQUEST_FIELDS = [
  'session',
  'transaction',
  'sql',
  'params',
  'paramTypes',
  'resumeToken',
  'queryMode',
  'partitionToken',
  'seqno',
  'queryOptions',
  'requestOptions',
  'directedReadOptions',
  'dataBoostEnabled',
  'lastStatement',
  'routingHint',
] as const;
export const CREATE_SESSION_REQUEST_FIELDS = ['database', 'session'] as const;
export const SESSION_FIELDS = ['name', 'labels', 'createTime', 'approximateLastUseTime', 'creatorRole', 'multiplexed'] as const;
/** TransactionOptions.ReadOnly fields: one timestamp bound, and returnReadTimestamp. */
export const READ_ONLY_FIELDS = ['strong', 'minReadTimestamp', 'maxStaleness', 'readTimestamp', 'exactStaleness', 'returnReadTimestamp'] as const;
/** TransactionSelector and TransactionOptions fields (transaction.proto). */
export const TRANSACTION_SELECTOR_FIELDS = ['singleUse', 'id', 'begin'] as const;
export const TRANSACTION_OPTIONS_FIELDS = ['readWrite', 'partitionedDml', 'readOnly', 'excludeTxnFromChangeStreams', 'isolationLevel'] as const;
export const QUERY_MODES = ['NORMAL', 'PLAN', 'PROFILE', 'WITH_STATS', 'WITH_PLAN_AND_STATS'] as const;
const TYPE_CODES = new Set(['BOOL', 'INT64', 'FLOAT64', 'FLOAT32', 'TIMESTAMP', 'DATE', 'STRING', 'BYTES', 'ARRAY', 'STRUCT', 'NUMERIC', 'JSON', 'PROTO', 'ENUM', 'INTERVAL', 'UUID']);
const SPANNER_SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/spanner.data'];
const DEFAULT_IDLE_MS = 60 * 60_000;

const GOOGLE_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 500: 'INTERNAL' };

class GoogleApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Session {
  name: string;
  database: SpannerDatabase;
  labels?: Record<string, string>;
  createTime: number;
  lastUseTime: number;
}

/** google.protobuf.Timestamp in JSON: RFC 3339 UTC with a Z. */
function timestamp(ms: number): string {
  return new Date(ms).toISOString();
}

function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** proto3 JSON parsers accept the lowerCamelCase name and the original snake_case name. */
function checkFields(body: Record<string, unknown>, known: readonly string[], where: string): void {
  const names = new Set([...known, ...known.map(camelToSnake)]);
  for (const key of Object.keys(body)) {
    if (!names.has(key)) throw new GoogleApiError(400, `Invalid JSON payload received. Unknown name "${key}"${where ? ` at '${where}'` : ''}: Cannot find field.`);
  }
}

function field<T = unknown>(body: Record<string, unknown>, camel: string): T | undefined {
  return (body[camel] ?? body[camelToSnake(camel)]) as T | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function typeJson(t: ColumnType): Record<string, unknown> {
  return t.code === 'ARRAY' ? { code: 'ARRAY', arrayElementType: typeJson(t.arrayElementType) } : { code: t.code };
}

export async function startSpannerEmulator(opts: SpannerEmulatorOptions): Promise<SpannerEmulator> {
  const now = opts.now ?? Date.now;
  const idleMs = opts.sessionIdleMs ?? DEFAULT_IDLE_MS;
  const sessions = new Map<string, Session>();
  const counts: SpannerEmulatorStats = { sessionsCreated: 0, sessionsDeleted: 0, sessionsExpired: 0, queries: 0 };

  function caller(req: IncomingMessage): GoogleAccessToken {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ? opts.lookupToken(bearer) : undefined;
    if (!token) {
      throw new GoogleApiError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (!token.scopes.some((s) => SPANNER_SCOPES.includes(s))) throw new GoogleApiError(403, 'Request had insufficient authentication scopes.');
    return token;
  }

  function database(name: string): SpannerDatabase {
    const db = opts.databases.find((d) => d.name === name);
    if (!db) throw new GoogleApiError(404, `Database not found: ${name}`);
    return db;
  }

  function authorize(token: GoogleAccessToken, db: SpannerDatabase, permission: string): void {
    const principals = db.readers.principals ?? [];
    // A service-account token acts as the account only; a federated one also by its groups.
    const allowed =
      principals.includes(token.principal) || (token.kind === 'federated' && token.groups.some((g) => (db.readers.groups ?? []).includes(g)));
    if (!allowed) throw new GoogleApiError(403, `Caller is missing IAM permission ${permission} on resource ${db.name}.`);
  }

  function liveSession(name: string): Session {
    const s = sessions.get(name);
    if (s && now() - s.lastUseTime > idleMs) {
      sessions.delete(name);
      counts.sessionsExpired++;
    } else if (s) return s;
    throw new GoogleApiError(404, `Session not found: ${name}`);
  }

  function sessionJson(s: Session): Record<string, unknown> {
    return {
      name: s.name,
      ...(s.labels && Object.keys(s.labels).length ? { labels: s.labels } : {}),
      createTime: timestamp(s.createTime),
      approximateLastUseTime: timestamp(s.lastUseTime),
    };
  }

  async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const text = await readBody(req, 1024 * 1024);
    if (!text.trim()) return {};
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new GoogleApiError(400, 'Invalid JSON payload received.');
    }
    if (!isObject(body)) throw new GoogleApiError(400, 'Invalid JSON payload received. Expected an object.');
    return body;
  }

  async function createSession(req: IncomingMessage, res: ServerResponse, dbName: string): Promise<void> {
    const token = caller(req);
    const db = database(dbName);
    authorize(token, db, 'spanner.sessions.create');
    const body = await jsonBody(req);
    checkFields(body, CREATE_SESSION_REQUEST_FIELDS, '');
    const session = field(body, 'session') ?? {};
    if (!isObject(session)) throw new GoogleApiError(400, 'Invalid value at \'session\': expected an object.');
    checkFields(session, SESSION_FIELDS, 'session');
    if (field(session, 'multiplexed') === true) throw new GoogleApiError(400, 'Multiplexed sessions are not supported by the sandbox.');
    const labels = field<Record<string, string>>(session, 'labels');
    const at = now();
    const s: Session = { name: `${db.name}/sessions/${randomBytes(24).toString('base64url')}`, database: db, labels, createTime: at, lastUseTime: at };
    sessions.set(s.name, s);
    counts.sessionsCreated++;
    sendJson(res, 200, sessionJson(s));
  }

  /** Only single-use read-only transactions; absent means a temporary read-only one (spanner.proto). */
  function readOnlyOptions(body: Record<string, unknown>): { returnReadTimestamp: boolean } {
    const selector = field(body, 'transaction');
    if (selector === undefined) return { returnReadTimestamp: false };
    if (!isObject(selector)) throw new GoogleApiError(400, "Invalid value at 'transaction': expected an object.");
    checkFields(selector, TRANSACTION_SELECTOR_FIELDS, 'transaction');
    if (field(selector, 'id') !== undefined || field(selector, 'begin') !== undefined)
      throw new GoogleApiError(400, 'The sandbox runs queries in single-use read-only transactions only (transaction.singleUse.readOnly); transaction.id and transaction.begin are not supported.');
    const single = field(selector, 'singleUse');
    if (!isObject(single)) throw new GoogleApiError(400, "Invalid value at 'transaction.single_use': expected an object.");
    checkFields(single, TRANSACTION_OPTIONS_FIELDS, 'transaction.single_use');
    if (field(single, 'readWrite') !== undefined || field(single, 'partitionedDml') !== undefined) throw new GoogleApiError(400, 'Single-use transactions must be read-only for ExecuteSql queries.');
    const ro = field(single, 'readOnly');
    if (!isObject(ro)) throw new GoogleApiError(400, 'transaction.single_use must set read_only.');
    checkFields(ro, READ_ONLY_FIELDS, 'transaction.single_use.read_only');
    const bounds = READ_ONLY_FIELDS.filter((f) => f !== 'returnReadTimestamp' && field(ro, f) !== undefined);
    if (bounds.length > 1) throw new GoogleApiError(400, `Only one timestamp bound may be set, got ${bounds.join(', ')}.`);
    if (bounds.length === 1 && bounds[0] !== 'strong') throw new GoogleApiError(400, `The timestamp bound ${bounds[0]} is not supported by the sandbox (it serves strong reads only).`);
    return { returnReadTimestamp: field(ro, 'returnReadTimestamp') === true };
  }

  async function executeSql(req: IncomingMessage, res: ServerResponse, sessionName: string): Promise<void> {
    const token = caller(req);
    const session = liveSession(sessionName);
    authorize(token, session.database, 'spanner.databases.select');
    const started = process.hrtime.bigint();
    session.lastUseTime = now();
    const body = await jsonBody(req);
    checkFields(body, EXECUTE_SQL_REQUEST_FIELDS, '');
    const sql = field(body, 'sql');
    if (typeof sql !== 'string' || !sql.trim()) throw new GoogleApiError(400, 'Invalid ExecuteSql request: sql is required.');
    const mode = field<string>(body, 'queryMode') ?? 'NORMAL';
    if (!(QUERY_MODES as readonly string[]).includes(mode)) throw new GoogleApiError(400, `Invalid value at 'query_mode' (type.googleapis.com/google.spanner.v1.ExecuteSqlRequest.QueryMode), "${mode}"`);
    if (mode === 'PLAN' || mode === 'PROFILE' || mode === 'WITH_PLAN_AND_STATS') throw new GoogleApiError(400, `queryMode ${mode} (query plans) is not supported by the sandbox; use NORMAL or WITH_STATS.`);
    for (const f of ['partitionToken', 'resumeToken'] as const) {
      if (field(body, f)) throw new GoogleApiError(400, `${f} is not supported by the sandbox.`);
    }
    const params = field(body, 'params');
    const paramTypes = field(body, 'paramTypes');
    if (params !== undefined && !isObject(params)) throw new GoogleApiError(400, "Invalid value at 'params': expected an object.");
    if (paramTypes !== undefined && !isObject(paramTypes)) throw new GoogleApiError(400, "Invalid value at 'param_types': expected an object.");
    for (const [name, t] of Object.entries(paramTypes ?? {})) {
      if (!isObject(t) || typeof t.code !== 'string' || !TYPE_CODES.has(t.code)) throw new GoogleApiError(400, `Invalid value at 'param_types[${name}].code'.`);
    }
    const { returnReadTimestamp } = readOnlyOptions(body);

    let out;
    try {
      out = executeQuery(session.database.content, sql, { params, paramTypes: paramTypes as Record<string, { code?: string }> | undefined });
    } catch (e) {
      if (e instanceof SqlError) throw new GoogleApiError(400, e.message);
      throw e;
    }
    counts.queries++;
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const result = {
      metadata: {
        // proto3 JSON omits the empty name of an anonymous column.
        rowType: { fields: out.columns.map((c) => ({ ...(c.name ? { name: c.name } : {}), type: typeJson(c.type) })) },
        ...(returnReadTimestamp ? { transaction: { readTimestamp: timestamp(now()) } } : {}),
      },
      rows: out.rows.map((row) => row.map((v, i) => encodeCell(v, out.columns[i].type))),
      // Query statistics come with WITH_STATS (and PROFILE); a Struct of strings, as Spanner sends.
      ...(mode === 'WITH_STATS'
        ? {
            stats: {
              queryStats: {
                rows_returned: String(out.rows.length),
                rows_scanned: String(out.rowsScanned),
                elapsed_time: `${elapsedMs.toFixed(2)} msecs`,
                cpu_time: `${elapsedMs.toFixed(2)} msecs`,
                query_text: sql,
              },
            },
          }
        : {}),
    };
    sendJson(res, 200, result);
  }

  const server = createServer((req, res) => {
    res.on('finish', () => logRequest(opts.quiet, 'spanner', req, res.statusCode));
    const run = async (): Promise<void> => {
      let path: string;
      try {
        path = decodeURIComponent((req.url ?? '/').split('?')[0]);
      } catch {
        throw new GoogleApiError(400, 'The request path is not valid percent-encoding.');
      }
      const create = /^\/v1\/(projects\/[^/]+\/instances\/[^/]+\/databases\/[^/:]+)\/sessions$/.exec(path);
      const execute = /^\/v1\/(projects\/[^/]+\/instances\/[^/]+\/databases\/[^/]+\/sessions\/[^/:]+):executeSql$/.exec(path);
      const one = /^\/v1\/(projects\/[^/]+\/instances\/[^/]+\/databases\/[^/]+\/sessions\/[^/:]+)$/.exec(path);
      if (create) {
        if (req.method !== 'POST') throw new GoogleApiError(405, 'POST only.');
        return createSession(req, res, create[1]);
      }
      if (execute) {
        if (req.method !== 'POST') throw new GoogleApiError(405, 'POST only.');
        return executeSql(req, res, execute[1]);
      }
      if (one && (req.method === 'GET' || req.method === 'DELETE')) {
        const token = caller(req);
        const s = liveSession(one[1]);
        authorize(token, s.database, req.method === 'GET' ? 'spanner.sessions.get' : 'spanner.sessions.delete');
        if (req.method === 'GET') return sendJson(res, 200, sessionJson(s));
        sessions.delete(s.name);
        counts.sessionsDeleted++;
        return sendJson(res, 200, {}); // google.protobuf.Empty
      }
      throw new GoogleApiError(404, `The requested URL ${path} was not found on this server.`);
    };
    run().catch((e: unknown) => {
      if (res.headersSent) return;
      const err = e instanceof GoogleApiError ? e : e instanceof BodyTooLarge ? new GoogleApiError(400, e.message) : undefined;
      if (!err && !opts.quiet) console.error('[spanner] internal error:', (e as Error).message);
      const g = err ?? new GoogleApiError(500, 'Internal error.');
      sendJson(res, g.code, { error: { code: g.code, message: g.message, status: GOOGLE_STATUS[g.code] ?? 'UNKNOWN' } });
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, host, opts.port ?? 0);
  return {
    url: `http://${host}:${port}`,
    stats: () => ({ ...counts }),
    sessions: () => [...sessions.keys()],
    expireSessions: () => {
      const n = sessions.size;
      sessions.clear();
      counts.sessionsExpired += n;
      return n;
    },
    close: () => closeServer(server),
  };
}
