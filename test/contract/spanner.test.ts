import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpannerClient } from '../../src/core/spanner/SpannerClient';
import type { GoogleAccessToken } from '../../sandbox/google/GoogleEmulator';
import { demoContent } from '../../sandbox/spanner/demoData';
import {
  CREATE_SESSION_REQUEST_FIELDS,
  EXECUTE_SQL_REQUEST_FIELDS,
  QUERY_MODES,
  READ_ONLY_FIELDS,
  SESSION_FIELDS,
  startSpannerEmulator,
  TRANSACTION_OPTIONS_FIELDS,
  TRANSACTION_SELECTOR_FIELDS,
  type SpannerEmulator,
} from '../../sandbox/spanner/SpannerEmulator';
import { contractPath } from './contracts';

// ---- a reader for the .proto files: messages (with nested ones), fields, enums, HTTP bindings ----

interface ProtoField {
  name: string;
  /** lowerCamelCase, the proto3 JSON name. */
  json: string;
  type: string;
  repeated: boolean;
  /** For map<K, V>: V. */
  mapValue?: string;
}
interface ProtoMessage {
  fullName: string;
  fields: ProtoField[];
}
interface HttpRule {
  method: string;
  template: string;
}
interface ProtoSchema {
  messages: Map<string, ProtoMessage>;
  enums: Map<string, string[]>;
  rpcs: Map<string, HttpRule>;
}

function jsonName(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function tokenizeProto(text: string): string[] {
  // Strings first, so "https://..." in an option is not taken for a comment.
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\/\/[^\n]*|\/\*[\s\S]*?\*\/|[A-Za-z_][\w.]*|-?\d+|[{}()<>;=,[\]:]/g) ?? [];
  return tokens.filter((tok) => !tok.startsWith('//') && !tok.startsWith('/*'));
}

function parseProtos(files: string[]): ProtoSchema {
  const schema: ProtoSchema = { messages: new Map(), enums: new Map(), rpcs: new Map() };
  for (const file of files) {
    const t = tokenizeProto(readFileSync(file, 'utf8'));
    let i = 0;
    const skipBalanced = (open: string, close: string): void => {
      let depth = 0;
      do {
        if (t[i] === open) depth++;
        else if (t[i] === close) depth--;
        i++;
      } while (depth > 0 && i < t.length);
    };
    const skipStatement = (): void => {
      while (i < t.length && t[i] !== ';') {
        if (t[i] === '{') skipBalanced('{', '}');
        else i++;
      }
      i++;
    };
    const parseEnum = (fullName: string): void => {
      i += 3; // enum NAME {
      const values: string[] = [];
      while (i < t.length && t[i] !== '}') {
        if (t[i] === 'option' || t[i] === 'reserved') skipStatement();
        else {
          values.push(t[i]);
          i++;
          if (t[i] === '=') i += 2;
          if (t[i] === '[') skipBalanced('[', ']');
          if (t[i] === ';') i++;
        }
      }
      i++;
      schema.enums.set(fullName, values);
    };
    const parseFields = (msg: ProtoMessage): void => {
      // Inside a message or a oneof: until the closing brace.
      while (i < t.length && t[i] !== '}') {
        const w = t[i];
        if (w === 'message') parseMessage(`${msg.fullName}.${t[i + 1]}`);
        else if (w === 'enum') parseEnum(`${msg.fullName}.${t[i + 1]}`);
        else if (w === 'oneof') {
          i += 3;
          parseFields(msg);
          i++;
        } else if (w === 'option' || w === 'reserved' || w === 'extensions') skipStatement();
        else if (w === ';') i++;
        else {
          let repeated = false;
          if (w === 'repeated' || w === 'optional') {
            repeated = w === 'repeated';
            i++;
          }
          let type = t[i++];
          let mapValue: string | undefined;
          if (type === 'map') {
            // map < K , V >
            mapValue = t[i + 3];
            type = `map<${t[i + 1]},${mapValue}>`;
            i += 5;
          }
          const name = t[i++];
          assert.equal(t[i], '=', `expected "=" after field ${msg.fullName}.${name}`);
          i += 2;
          if (t[i] === '[') skipBalanced('[', ']');
          assert.equal(t[i], ';', `expected ";" after field ${msg.fullName}.${name}`);
          i++;
          msg.fields.push({ name, json: jsonName(name), type, repeated, mapValue });
        }
      }
    };
    const parseMessage = (fullName: string): void => {
      i += 3; // message NAME {
      const msg: ProtoMessage = { fullName, fields: [] };
      schema.messages.set(fullName, msg);
      parseFields(msg);
      i++;
    };
    const parseService = (): void => {
      i += 3;
      while (i < t.length && t[i] !== '}') {
        if (t[i] !== 'rpc') {
          skipStatement();
          continue;
        }
        const name = t[i + 1];
        while (i < t.length && t[i] !== '{' && t[i] !== ';') i++;
        if (t[i] === ';') {
          i++;
          continue;
        }
        const start = i;
        skipBalanced('{', '}');
        const body = t.slice(start, i);
        const at = body.findIndex((w, k) => ['get', 'post', 'put', 'patch', 'delete'].includes(w) && body[k + 1] === ':');
        if (at >= 0) schema.rpcs.set(name, { method: body[at].toUpperCase(), template: JSON.parse(body[at + 2]) as string });
      }
      i++;
    };
    while (i < t.length) {
      const w = t[i];
      if (w === 'message') parseMessage(t[i + 1]);
      else if (w === 'enum') parseEnum(t[i + 1]);
      else if (w === 'service') parseService();
      else skipStatement();
    }
  }
  return schema;
}

/** Resolves a type name used inside `scope` as protoc does: innermost scope first. */
function resolveType(schema: ProtoSchema, scope: string, type: string): { kind: 'message' | 'enum'; name: string } | undefined {
  const parts = scope.split('.');
  for (let n = parts.length; n >= 0; n--) {
    const candidate = [...parts.slice(0, n), type].join('.');
    if (schema.messages.has(candidate)) return { kind: 'message', name: candidate };
    if (schema.enums.has(candidate)) return { kind: 'enum', name: candidate };
  }
  return undefined;
}

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** Every problem with `value` as the proto3 JSON of `message`: unknown fields and wrong JSON types. */
function violations(schema: ProtoSchema, message: string, value: unknown, path = message): string[] {
  const msg = schema.messages.get(message);
  if (!msg) return [`${path}: no message ${message} in the protos`];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [`${path}: not a JSON object`];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const f = msg.fields.find((x) => x.json === key);
    if (!f) {
      out.push(`${path}.${key}: not a field of ${message} (fields: ${msg.fields.map((x) => x.json).join(', ')})`);
      continue;
    }
    const check = (item: unknown, type: string, p: string): void => void out.push(...valueViolations(schema, msg.fullName, type, item, p));
    if (f.mapValue) {
      if (!v || typeof v !== 'object') out.push(`${path}.${key}: a map must be a JSON object`);
      else for (const [k, item] of Object.entries(v)) check(item, f.mapValue, `${path}.${key}[${k}]`);
    } else if (f.repeated) {
      if (!Array.isArray(v)) out.push(`${path}.${key}: repeated field must be a JSON array`);
      else v.forEach((item, n) => check(item, f.type, `${path}.${key}[${n}]`));
    } else check(v, f.type, `${path}.${key}`);
  }
  return out;
}

/** proto3 JSON mapping of one value (https://protobuf.dev/programming-guides/json/). */
function valueViolations(schema: ProtoSchema, scope: string, type: string, v: unknown, path: string): string[] {
  const bad = (why: string): string[] => [`${path}: ${JSON.stringify(v)} ${why}`];
  if (type === 'string') return typeof v === 'string' ? [] : bad('is not a string');
  if (type === 'bool') return typeof v === 'boolean' ? [] : bad('is not a boolean');
  if (INT64_TYPES.has(type)) return typeof v === 'string' && /^-?\d+$/.test(v) ? [] : bad('is not an int64 decimal string');
  if (['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32'].includes(type)) return Number.isInteger(v) ? [] : bad('is not an int32');
  if (type === 'double' || type === 'float') return typeof v === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(v as string) ? [] : bad('is not a number');
  if (type === 'bytes') return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v) ? [] : bad('is not base64');
  if (type === 'google.protobuf.Timestamp') return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/.test(v) ? [] : bad('is not an RFC 3339 UTC timestamp');
  if (type === 'google.protobuf.Duration') return typeof v === 'string' && /^-?\d+(\.\d{1,9})?s$/.test(v) ? [] : bad('is not a Duration');
  if (type === 'google.protobuf.Struct') return v && typeof v === 'object' && !Array.isArray(v) ? [] : bad('is not a Struct (JSON object)');
  if (type === 'google.protobuf.ListValue') return Array.isArray(v) ? [] : bad('is not a ListValue (JSON array)');
  if (type === 'google.protobuf.Value') return [];
  const resolved = resolveType(schema, scope, type);
  if (!resolved) return [`${path}: type ${type} is not in the protos, cannot check`];
  if (resolved.kind === 'enum') return typeof v === 'string' && schema.enums.get(resolved.name)!.includes(v) ? [] : bad(`is not a value of ${resolved.name}`);
  return violations(schema, resolved.name, v, path);
}

function fieldNames(schema: ProtoSchema, message: string): string[] {
  const m = schema.messages.get(message);
  assert.ok(m, `message ${message} is in the protos`);
  return m.fields.map((f) => f.json).sort();
}

/** `/v1/{database=projects/*\/instances/*\/databases/*}/sessions` as a path regex. */
function templateRegex(template: string): RegExp {
  const body = template.replace(/\{[^=}]+=([^}]+)\}|\{[^}]+\}|[^{]+/g, (m, pattern?: string) => {
    if (pattern) return pattern.split('/').map((seg) => (seg === '*' ? '[^/]+' : seg === '**' ? '.+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    if (m.startsWith('{')) return '[^/]+';
    return m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${body}$`);
}

// ---- the contract ----

const protos = parseProtos(['spanner.proto', 'result_set.proto', 'type.proto', 'transaction.proto'].map((f) => contractPath(`spanner-v1-protos/${f}`)));
const DB = 'projects/ml-sandbox/instances/ml/databases/features';
const TOKEN = 'ya29.contract-test-token';

interface Exchange {
  method: string;
  path: string;
  request?: unknown;
  status: number;
  response: unknown;
}

/** Forwards to the emulator and keeps both sides of every exchange. */
async function recordingProxy(target: string) {
  const seen: Exchange[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      void fetch(`${target}${req.url}`, { method: req.method, headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' }, body: text || undefined }).then(async (r) => {
        const body = await r.text();
        seen.push({ method: req.method ?? '', path: req.url ?? '', request: text ? JSON.parse(text) : undefined, status: r.status, response: JSON.parse(body) });
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Spanner emulator and client against spanner-v1-protos', () => {
  let spanner: SpannerEmulator;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  const token: GoogleAccessToken = {
    kind: 'federated',
    principal: 'principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/alice',
    subject: 'alice',
    groups: ['ml-dev'],
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    expiresAt: Date.now() + 3600_000,
  };

  before(async () => {
    spanner = await startSpannerEmulator({
      quiet: true,
      lookupToken: (t) => (t === TOKEN ? token : undefined),
      databases: [{ name: DB, readers: { groups: ['ml-dev'] }, content: demoContent() }],
    });
    proxy = await recordingProxy(spanner.url);
  });
  after(async () => {
    await proxy?.close();
    await spanner?.close();
  });

  it('reads the protos: the messages and enums the wire uses are there', () => {
    for (const m of ['ExecuteSqlRequest', 'CreateSessionRequest', 'Session', 'ResultSet', 'ResultSetMetadata', 'ResultSetStats', 'StructType', 'StructType.Field', 'Type', 'TransactionSelector', 'TransactionOptions', 'TransactionOptions.ReadOnly', 'Transaction'])
      assert.ok(protos.messages.has(m), m);
    assert.ok(protos.enums.get('TypeCode')?.includes('INT64'));
    assert.ok(protos.enums.get('ExecuteSqlRequest.QueryMode')?.includes('WITH_STATS'));
    assert.deepEqual(fieldNames(protos, 'StructType.Field'), ['name', 'type']);
  });

  it('the emulator accepts exactly the request fields the protos define', () => {
    assert.deepEqual([...EXECUTE_SQL_REQUEST_FIELDS].sort(), fieldNames(protos, 'ExecuteSqlRequest'));
    assert.deepEqual([...CREATE_SESSION_REQUEST_FIELDS].sort(), fieldNames(protos, 'CreateSessionRequest'));
    assert.deepEqual([...SESSION_FIELDS].sort(), fieldNames(protos, 'Session'));
    assert.deepEqual([...TRANSACTION_SELECTOR_FIELDS].sort(), fieldNames(protos, 'TransactionSelector'));
    assert.deepEqual([...TRANSACTION_OPTIONS_FIELDS].sort(), fieldNames(protos, 'TransactionOptions'));
    assert.deepEqual([...READ_ONLY_FIELDS].sort(), fieldNames(protos, 'TransactionOptions.ReadOnly'));
    assert.deepEqual([...QUERY_MODES], protos.enums.get('ExecuteSqlRequest.QueryMode'));
  });

  it('client requests and emulator responses follow the messages and HTTP bindings of the protos', async () => {
    const client = new SpannerClient(proxy.url, DB, async () => TOKEN);
    await client.executeSql("SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = @country LIMIT 3", {
      params: { country: 'DE' },
      paramTypes: { country: { code: 'STRING' } },
      queryMode: 'WITH_STATS',
    });
    await client.executeSql('SELECT * FROM features');
    await client.dispose();

    const rpcFor: Array<[string, string, string | undefined, string]> = [
      ['CreateSession', 'POST', 'CreateSessionRequest', 'Session'],
      ['ExecuteSql', 'POST', 'ExecuteSqlRequest', 'ResultSet'],
      ['ExecuteSql', 'POST', 'ExecuteSqlRequest', 'ResultSet'],
      ['DeleteSession', 'DELETE', undefined, 'google.protobuf.Empty'],
    ];
    assert.equal(proxy.seen.length, rpcFor.length);
    proxy.seen.forEach((x, n) => {
      const [rpc, method, request, response] = rpcFor[n];
      const rule = protos.rpcs.get(rpc);
      assert.ok(rule, `rpc ${rpc} has an HTTP binding`);
      assert.equal(x.method, rule.method);
      assert.equal(method, rule.method);
      assert.match(x.path, templateRegex(rule.template), `${x.method} ${x.path} matches ${rule.template}`);
      assert.equal(x.status, 200, JSON.stringify(x.response));
      if (request) assert.deepEqual(violations(protos, request, x.request), [], `${rpc} request`);
      if (response === 'google.protobuf.Empty') assert.deepEqual(x.response, {});
      else assert.deepEqual(violations(protos, response, x.response), [], `${rpc} response`);
    });
  });

  it('every ResultSet value is encoded as type.proto says for its column type', async () => {
    const res = await fetch(`${spanner.url}/v1/${DB}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"session":{}}' });
    const { name } = (await res.json()) as { name: string };
    for (const sql of ['SELECT * FROM features', 'SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers)']) {
      const r = await fetch(`${spanner.url}/v1/${name}:executeSql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ sql }) });
      const rs = (await r.json()) as { metadata: { rowType: { fields: Array<{ name: string; type: { code: string; arrayElementType?: { code: string } } }> } }; rows: unknown[][] };
      assert.deepEqual(violations(protos, 'ResultSet', rs), []);
      const codes = new Set<string>();
      const checkCell = (v: unknown, type: { code: string; arrayElementType?: { code: string } }, where: string): void => {
        codes.add(type.code);
        if (v === null) return;
        const ok: Record<string, (x: unknown) => boolean> = {
          INT64: (x) => typeof x === 'string' && /^-?\d+$/.test(x),
          FLOAT64: (x) => typeof x === 'number' || x === 'NaN' || x === 'Infinity' || x === '-Infinity',
          BOOL: (x) => typeof x === 'boolean',
          STRING: (x) => typeof x === 'string',
          DATE: (x) => typeof x === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(x),
          TIMESTAMP: (x) => typeof x === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/.test(x),
          NUMERIC: (x) => typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x),
          JSON: (x) => typeof x === 'string' && (() => JSON.parse(x as string) !== undefined)(),
          BYTES: (x) => typeof x === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(x),
          ARRAY: (x) => Array.isArray(x),
        };
        assert.ok(ok[type.code]?.(v), `${where}: ${JSON.stringify(v)} is not a ${type.code} value`);
        if (type.code === 'ARRAY') (v as unknown[]).forEach((e, k) => checkCell(e, type.arrayElementType!, `${where}[${k}]`));
      };
      rs.rows.forEach((row, n) => row.forEach((v, c) => checkCell(v, rs.metadata.rowType.fields[c].type, `${sql} row ${n} ${rs.metadata.rowType.fields[c].name}`)));
      for (const code of codes) assert.ok(protos.enums.get('TypeCode')?.includes(code), `${code} is a TypeCode`);
    }
  });

  it('errors use the Google shape; unknown request fields are refused like Google’s JSON parser does', async () => {
    const res = await fetch(`${spanner.url}/v1/${DB}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{}' });
    const { name } = (await res.json()) as { name: string };
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['unknown field', { sql: 'SELECT 1', sqlText: 'x' }, 400, 'INVALID_ARGUMENT', /Unknown name "sqlText"/],
      ['snake_case names are accepted', { sql: 'SELECT 1', query_mode: 'NORMAL' }, 200, '', /./],
      ['unknown query mode', { sql: 'SELECT 1', queryMode: 'FAST' }, 400, 'INVALID_ARGUMENT', /query_mode/],
      ['read-write single use', { sql: 'SELECT 1', transaction: { singleUse: { readWrite: {} } } }, 400, 'INVALID_ARGUMENT', /read-only/],
      ['unknown table', { sql: 'SELECT * FROM nope' }, 400, 'INVALID_ARGUMENT', /^Table not found: nope$/],
    ];
    for (const [what, body, status, googleStatus, message] of cases) {
      const r = await fetch(`${spanner.url}/v1/${name}:executeSql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
      const json = (await r.json()) as { error?: { code: number; status: string; message: string } };
      assert.equal(r.status, status, what);
      if (status === 200) continue;
      assert.deepEqual(Object.keys(json), ['error'], what);
      assert.equal(json.error?.code, status, what);
      assert.equal(json.error?.status, googleStatus, what);
      assert.match(json.error?.message ?? '', message, what);
    }
    const expired = await fetch(`${spanner.url}/v1/${DB}/sessions/unknown:executeSql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"sql":"SELECT 1"}' });
    assert.equal(expired.status, 404);
    assert.equal(((await expired.json()) as { error: { status: string } }).error.status, 'NOT_FOUND');
  });
});
