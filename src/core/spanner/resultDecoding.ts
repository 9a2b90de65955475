import { UserFacingError } from '../errors';
import { describeValue, json, list, obj, opt, ShapeMismatch, str, type Shape } from '../http/shape';

/**
 * Cloud Spanner ResultSet JSON (result_set.proto, type.proto; proto3 JSON is lowerCamelCase and
 * omits default values) and its decoding into JS values.
 */

/** type.proto TypeCode, as proto3 JSON writes enums: by name. */
export type SpannerTypeCode =
  | 'TYPE_CODE_UNSPECIFIED'
  | 'BOOL'
  | 'INT64'
  | 'FLOAT64'
  | 'FLOAT32'
  | 'TIMESTAMP'
  | 'DATE'
  | 'STRING'
  | 'BYTES'
  | 'ARRAY'
  | 'STRUCT'
  | 'NUMERIC'
  | 'JSON'
  | 'PROTO'
  | 'ENUM'
  | 'INTERVAL'
  | 'UUID';

export interface SpannerType {
  code: SpannerTypeCode;
  arrayElementType?: SpannerType;
  structType?: StructType;
  typeAnnotation?: string;
  protoTypeFqn?: string;
}

export interface StructField {
  /** Absent for anonymous columns (`SELECT 1`): proto3 JSON omits the empty string. */
  name?: string;
  type?: SpannerType;
}

export interface StructType {
  fields?: StructField[];
}

export interface ResultSetMetadata {
  rowType?: StructType;
  transaction?: { id?: string; readTimestamp?: string };
  undeclaredParameters?: StructType;
}

export interface ResultSetStats {
  queryPlan?: unknown;
  /** google.protobuf.Struct, e.g. {rows_returned: "5", elapsed_time: "1.2 msecs"}. */
  queryStats?: Record<string, unknown>;
  /** int64 in proto3 JSON: a decimal string. */
  rowCountExact?: string;
  rowCountLowerBound?: string;
}

export interface ResultSet {
  metadata?: ResultSetMetadata;
  rows?: unknown[][];
  stats?: ResultSetStats;
}

/** A STRUCT value: its fields by name, in order (anonymous fields are named `_<index>`). */
export interface SpannerStruct {
  [field: string]: SpannerValue;
}

/**
 * A decoded value. INT64: a number when it is a safe integer, else the exact decimal string.
 * FLOAT64/FLOAT32: a number (NaN and ±Infinity included). BYTES/PROTO: the bytes. DATE,
 * TIMESTAMP, NUMERIC, JSON, INTERVAL, UUID, ENUM: their canonical strings (a JS Date would drop
 * TIMESTAMP nanoseconds, a number would round NUMERIC).
 */
export type SpannerValue = null | boolean | number | string | Uint8Array | SpannerValue[] | SpannerStruct;

export interface DecodedColumn {
  name: string;
  type: SpannerType;
  /** GoogleSQL spelling, e.g. "ARRAY<STRING>". */
  typeName: string;
}

export interface DecodedResultSet {
  columns: DecodedColumn[];
  rows: SpannerValue[][];
  stats?: ResultSetStats;
  /** Read timestamp when the transaction asked for it (returnReadTimestamp). */
  readTimestamp?: string;
}

function malformed(what: string): UserFacingError {
  // Deep paths make long messages: keep the start and the end, which say where and what.
  const text = what.length > 240 ? `${what.slice(0, 60)}…${what.slice(-170)}` : what;
  return new UserFacingError('protocol', `Cloud Spanner returned a malformed result: ${text}.`, 'Retry; if it persists, report it with the query.');
}

/**
 * Deepest type nesting decoded (ARRAY and STRUCT levels). Real schemas nest a handful of levels;
 * the bound keeps a hostile or broken answer from exhausting the stack.
 */
export const MAX_TYPE_DEPTH = 64;

function tooDeep(path: string): UserFacingError {
  return malformed(`${path} nests types more than ${MAX_TYPE_DEPTH} levels deep`);
}

export function typeName(type: SpannerType | undefined, depth = 0): string {
  if (!type) return 'TYPE_CODE_UNSPECIFIED';
  if (depth > MAX_TYPE_DEPTH) return '…';
  if (type.code === 'ARRAY') return `ARRAY<${typeName(type.arrayElementType, depth + 1)}>`;
  if (type.code === 'STRUCT') {
    const fields = (Array.isArray(type.structType?.fields) ? type.structType.fields : []).map((f) =>
      f?.name ? `${f.name} ${typeName(f.type, depth + 1)}` : typeName(f?.type, depth + 1),
    );
    return `STRUCT<${fields.join(', ')}>`;
  }
  if ((type.code === 'PROTO' || type.code === 'ENUM') && type.protoTypeFqn) return type.protoTypeFqn;
  return String(type.code);
}

/** typeName for messages: long STRUCTs are cut. */
function shortTypeName(type: SpannerType): string {
  const name = typeName(type);
  return name.length > 80 ? `${name.slice(0, 79)}…` : name;
}

const DATE = /^-?\d{4,}-\d{2}-\d{2}$/;
// RFC 3339 with a Z or numeric offset; Spanner sends UTC "Z" with up to nanosecond digits.
const TIMESTAMP = /^\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function expectString(value: unknown, type: SpannerType, path: string): string {
  if (typeof value !== 'string') throw malformed(`${path} is ${describeValue(value)}, expected a string for ${shortTypeName(type)}`);
  return value;
}

function decodeInt64(value: unknown, type: SpannerType, path: string): number | string {
  const s = expectString(value, type, path); // type.proto: INT64 is a decimal string
  if (!/^-?\d+$/.test(s)) throw malformed(`${path} is ${describeValue(s)}, not an INT64`);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s.replace(/^(-?)0+(?=\d)/, '$1');
}

function decodeFloat(value: unknown, type: SpannerType, path: string): number {
  if (typeof value === 'number') return value;
  // type.proto: non-finite floats are the strings "NaN", "Infinity", "-Infinity".
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  throw malformed(`${path} is ${describeValue(value)}, expected a number for ${shortTypeName(type)}`);
}

function decodeBytes(value: unknown, type: SpannerType, path: string): Uint8Array {
  const s = expectString(value, type, path);
  if (!BASE64.test(s)) throw malformed(`${path} is not base64`);
  return new Uint8Array(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64'));
}

/** Decodes one value of `type` from its proto3 JSON (google.protobuf.Value) encoding. */
export function decodeValue(value: unknown, type: SpannerType | undefined, path = 'value', depth = 0): SpannerValue {
  if (!type || typeof type !== 'object') throw malformed(`${path} has no type`);
  if (depth > MAX_TYPE_DEPTH) throw tooDeep(path);
  if (value === null) return null; // NULL of any type is the JSON null
  switch (type.code) {
    case 'BOOL':
      if (typeof value !== 'boolean') throw malformed(`${path} is ${describeValue(value)}, expected true or false`);
      return value;
    case 'INT64':
      return decodeInt64(value, type, path);
    case 'ENUM':
      // An enum's value is its number, as an INT64 string.
      return expectString(value, type, path);
    case 'FLOAT64':
    case 'FLOAT32':
      return decodeFloat(value, type, path);
    case 'STRING':
    case 'JSON':
    case 'INTERVAL':
    case 'UUID':
      return expectString(value, type, path);
    case 'NUMERIC': {
      const s = expectString(value, type, path);
      if (!DECIMAL.test(s) && s !== 'NaN') throw malformed(`${path} is ${describeValue(s)}, not a NUMERIC`); // NaN: PG_NUMERIC only
      return s;
    }
    case 'DATE': {
      const s = expectString(value, type, path);
      if (!DATE.test(s)) throw malformed(`${path} is ${describeValue(s)}, not a DATE (YYYY-MM-DD)`);
      return s;
    }
    case 'TIMESTAMP': {
      const s = expectString(value, type, path);
      if (!TIMESTAMP.test(s)) throw malformed(`${path} is ${describeValue(s)}, not an RFC 3339 TIMESTAMP`);
      return s;
    }
    case 'BYTES':
    case 'PROTO':
      return decodeBytes(value, type, path);
    case 'ARRAY': {
      if (!Array.isArray(value)) throw malformed(`${path} is not a list, expected ${shortTypeName(type)}`);
      return value.map((v, i) => decodeValue(v, type.arrayElementType, `${path}[${i}]`, depth + 1));
    }
    case 'STRUCT': {
      // type.proto: a STRUCT value is a list with one entry per field, in field order.
      const declared = type.structType?.fields;
      const fields = declared === undefined || declared === null ? [] : declared;
      if (!Array.isArray(fields)) throw malformed(`${path} has a STRUCT type without a field list`);
      if (!Array.isArray(value) || value.length !== fields.length) throw malformed(`${path} is not a list of ${fields.length} field values`);
      // Field names come from the service: own data properties, so "__proto__" or
      // "constructor" is a field like any other and never touches a prototype.
      const out: SpannerStruct = {};
      fields.forEach((f, i) => {
        const fieldName = typeof f?.name === 'string' ? f.name : undefined;
        const decoded = decodeValue(value[i], f?.type, `${path}.${fieldName || i}`, depth + 1);
        Object.defineProperty(out, uniqueName(out, fieldName, i), { value: decoded, enumerable: true, writable: true, configurable: true });
      });
      return out;
    }
    default:
      throw malformed(`${path} has the unknown type code ${describeValue(type.code)}`);
  }
}

/** A field name for an object: anonymous and repeated names (both legal in Spanner) get `_<index>`. */
function uniqueName(taken: object, name: string | undefined, index: number): string {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(taken, k);
  if (name && !has(name)) return name;
  let candidate = name ? `${name}_${index}` : `_${index}`;
  while (has(candidate)) candidate += `_${index}`;
  return candidate;
}

/** A Type from the wire, checked: a type code, element and field types, nesting bounded. */
function spannerType(v: unknown, path: string, depth = 0): SpannerType {
  if (depth > MAX_TYPE_DEPTH) throw tooDeep(path);
  const t = obj<{ code: string; typeAnnotation?: string; protoTypeFqn?: string }>({ code: str, typeAnnotation: opt(str), protoTypeFqn: opt(str) })(v, path);
  const o = v as Record<string, unknown>;
  const out: SpannerType = { ...t, code: t.code as SpannerTypeCode };
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const element = own('arrayElementType');
  if (element !== undefined && element !== null) out.arrayElementType = spannerType(element, `${path}.arrayElementType`, depth + 1);
  const struct = own('structType');
  if (struct !== undefined && struct !== null) out.structType = structType(struct, `${path}.structType`, depth + 1);
  return out;
}

/** A StructType whose field types sit at `depth` (as decodeValue counts: one per ARRAY or STRUCT level). */
function structType(v: unknown, path: string, depth: number): StructType {
  const s = obj<{ fields?: unknown[] }>({ fields: opt(list(json)) })(v, path);
  if (!s.fields) return {};
  return {
    fields: s.fields.map((f, i) => {
      const p = `${path}.fields[${i}]`;
      const field = obj<{ name?: string; type?: unknown }>({ name: opt(str), type: opt(json) })(f, p);
      const out: StructField = {};
      if (field.name !== undefined) out.name = field.name;
      if (field.type !== undefined) out.type = spannerType(field.type, `${p}.type`, depth);
      return out;
    }),
  };
}

const jsonObject: Shape<Record<string, unknown>> = (v, path) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ShapeMismatch(path, 'an object', v);
  return Object.fromEntries(Object.entries(v));
};

const statsShape = obj<ResultSetStats>({ queryPlan: json, queryStats: opt(jsonObject), rowCountExact: opt(str), rowCountLowerBound: opt(str) });
const transactionShape = obj<NonNullable<ResultSetMetadata['transaction']>>({ id: opt(str), readTimestamp: opt(str) });

/**
 * A ResultSet from the wire, checked against result_set.proto as far as it is read: rowType
 * fields with types (nesting bounded), rows as lists, stats and transaction as objects.
 * Throws a 'protocol' UserFacingError naming the field otherwise.
 */
export function parseResultSet(body: unknown): ResultSet {
  try {
    const top = obj<{ metadata?: Record<string, unknown>; rows?: unknown[]; stats?: ResultSetStats }>({
      metadata: opt(jsonObject),
      rows: opt(list(json)),
      stats: opt(statsShape),
    })(body, '');
    const out: ResultSet = {};
    if (top.metadata) {
      const m = top.metadata;
      const metadata: ResultSetMetadata = {};
      if (m.rowType !== undefined && m.rowType !== null) metadata.rowType = structType(m.rowType, 'metadata.rowType', 0);
      if (m.transaction !== undefined && m.transaction !== null) metadata.transaction = transactionShape(m.transaction, 'metadata.transaction');
      if (m.undeclaredParameters !== undefined && m.undeclaredParameters !== null)
        metadata.undeclaredParameters = structType(m.undeclaredParameters, 'metadata.undeclaredParameters', 0);
      out.metadata = metadata;
    }
    if (top.rows) {
      out.rows = top.rows.map((row, r) => {
        if (!Array.isArray(row)) throw new ShapeMismatch(`rows[${r}]`, 'a list of values', row);
        return row;
      });
    }
    if (top.stats) out.stats = top.stats;
    return out;
  } catch (e) {
    if (e instanceof ShapeMismatch) throw malformed(e.message);
    throw e;
  }
}

/** Decodes a ResultSet: columns from metadata.rowType, each row's values per its column type. */
export function decodeResultSet(resultSet: ResultSet | unknown): DecodedResultSet {
  const checked = parseResultSet(resultSet);
  const fields = checked.metadata?.rowType?.fields;
  if (!Array.isArray(fields)) throw malformed('metadata.rowType.fields is missing');
  // Columns stay positional: Spanner allows anonymous (`SELECT 1`) and repeated names.
  const columns: DecodedColumn[] = fields.map((f, i) => {
    if (!f.type) throw malformed(`column ${i} has no type`);
    return { name: f.name || `_${i}`, type: f.type, typeName: typeName(f.type) };
  });
  const rows = (checked.rows ?? []).map((row, r) => {
    if (!Array.isArray(row) || row.length !== columns.length) throw malformed(`row ${r} has ${Array.isArray(row) ? row.length : 'no'} values for ${columns.length} columns`);
    return row.map((v, c) => decodeValue(v, columns[c].type, `row ${r} ${columns[c].name}`));
  });
  return { columns, rows, stats: checked.stats, readTimestamp: checked.metadata?.transaction?.readTimestamp };
}

export interface ResultTableOptions {
  /** Rows shown; the rest are counted in a note (default 100). */
  maxRows?: number;
  /** Longer cells are cut with "…" (default 60 characters). */
  maxCellLength?: number;
}

const NUMERIC_CODES = new Set<SpannerTypeCode>(['INT64', 'FLOAT64', 'FLOAT32', 'NUMERIC']);

/** Display text of a value, before Markdown escaping. */
export function formatValue(value: SpannerValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return `[${value.map(formatNested).join(', ')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${k}: ${formatNested(v)}`)
    .join(', ')}}`;
}

function formatNested(value: SpannerValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : formatValue(value);
}

function truncate(text: string, max: number): string {
  const chars = [...text]; // by code point, so a surrogate pair is never split
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** GFM table cell: pipes and backslashes escaped, line breaks flattened, HTML kept as text. */
function escapeCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/\r\n|\r|\n/g, ' ');
}

/**
 * The result as a Markdown (GFM) table: numeric columns right-aligned, NULL in italics, long
 * cells cut, and a note saying how many rows were not shown.
 */
export function formatResultTable(decoded: Pick<DecodedResultSet, 'columns' | 'rows'>, options: ResultTableOptions = {}): string {
  const maxRows = Math.max(0, Math.floor(options.maxRows ?? 100));
  const maxCell = Math.max(2, Math.floor(options.maxCellLength ?? 60));
  const { columns, rows } = decoded;
  if (!columns.length) return '_The query returned no columns._';
  const cell = (v: SpannerValue): string => (v === null ? '_NULL_' : escapeCell(truncate(formatValue(v), maxCell)));
  const lines = [
    `| ${columns.map((c) => escapeCell(truncate(c.name, maxCell))).join(' | ')} |`,
    `| ${columns.map((c) => (NUMERIC_CODES.has(c.type.code) ? '---:' : '---')).join(' | ')} |`,
    ...rows.slice(0, maxRows).map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  const n = rows.length;
  if (n === 0) lines.push('', '_No rows._');
  else if (n > maxRows) lines.push('', `_Showing ${maxRows} of ${n} rows; ${n - maxRows} more not shown._`);
  else lines.push('', `_${n} ${n === 1 ? 'row' : 'rows'}._`);
  return lines.join('\n');
}
