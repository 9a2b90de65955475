/**
 * The sandbox Spanner's query engine: a small, strict subset of GoogleSQL over in-memory tables.
 * Supported: SELECT * | columns [AS alias] | literals; FROM one table, a subquery, or
 * ML.PREDICT(MODEL m, TABLE t | (subquery)); WHERE comparisons (=, !=, <>, <, >, <=, >=) joined
 * by AND; ORDER BY one column [ASC|DESC]; LIMIT n; `@name` parameters. Anything else is refused
 * with a message naming it, as INVALID_ARGUMENT, never silently approximated.
 */

export type ScalarCode = 'BOOL' | 'INT64' | 'FLOAT64' | 'STRING' | 'BYTES' | 'DATE' | 'TIMESTAMP' | 'NUMERIC' | 'JSON';

/** type.proto Type, as the emulator writes it. */
export type ColumnType = { code: ScalarCode } | { code: 'ARRAY'; arrayElementType: ColumnType };

export interface Column {
  name: string;
  type: ColumnType;
}

/**
 * A value in memory. INT64 and FLOAT64: number; BOOL: boolean; STRING, DATE (YYYY-MM-DD),
 * TIMESTAMP (RFC 3339, Z), NUMERIC, JSON: string; BYTES: base64 string; ARRAY: list.
 */
export type Cell = null | boolean | number | string | Cell[];

export interface Table {
  name: string;
  columns: Column[];
  rows: Cell[][];
}

export interface Model {
  name: string;
  /** Input columns the model reads (the input relation must have them, numeric). */
  inputs: string[];
  /** Columns ML.PREDICT appends to every input row. */
  outputs: Column[];
  predict(input: Record<string, number>): Cell[];
}

export interface DatabaseContent {
  tables: Table[];
  models: Model[];
}

/** What the query asks of a parameter: its value and Type, as ExecuteSqlRequest sends them. */
export interface QueryParams {
  params?: Record<string, unknown>;
  paramTypes?: Record<string, { code?: string }>;
}

export interface QueryOutput {
  columns: Column[];
  rows: Cell[][];
  rowsScanned: number;
}

/** The query is wrong or outside the supported subset: INVALID_ARGUMENT. */
export class SqlError extends Error {}

function unsupported(what: string): SqlError {
  return new SqlError(`${what} is not supported by the sandbox's Spanner (it supports SELECT columns or * FROM one table, a subquery or ML.PREDICT, WHERE comparisons joined by AND, ORDER BY one column and LIMIT).`);
}

// ---- lexing (GoogleSQL lexical structure, the parts this subset needs) ----

type Token =
  | { kind: 'word'; text: string; upper: string; quoted: boolean; pos: number }
  | { kind: 'number'; text: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'param'; name: string; pos: number }
  | { kind: 'symbol'; text: string; pos: number }
  | { kind: 'eof'; pos: number };

const SYMBOLS = ['<=', '>=', '<>', '!=', '=', '<', '>', '(', ')', ',', '.', '*', ';', '+', '-', '/', '[', ']', '{', '}', '|', '@'];

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (sql.startsWith('--', i) || c === '#') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new SqlError('Syntax error: Unclosed comment');
      i = end + 2;
    } else if (c === "'" || c === '"') {
      if (sql.startsWith(c.repeat(3), i)) throw unsupported('A triple-quoted string literal');
      let j = i + 1;
      let value = '';
      for (; j < sql.length && sql[j] !== c; j++) {
        if (sql[j] === '\\') {
          const e = sql[++j];
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else value += sql[j];
      }
      if (j >= sql.length) throw new SqlError(`Syntax error: Unclosed string literal at [${i}]`);
      out.push({ kind: 'string', value, pos: i });
      i = j + 1;
    } else if (c === '`') {
      const end = sql.indexOf('`', i + 1);
      if (end < 0) throw new SqlError('Syntax error: Unclosed identifier literal');
      const text = sql.slice(i + 1, end);
      out.push({ kind: 'word', text, upper: text.toUpperCase(), quoted: true, pos: i });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))!;
      out.push({ kind: 'number', text: m[0], pos: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const text = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i))![0];
      if (/^(r|b|rb|br)$/i.test(text) && (sql[i + text.length] === "'" || sql[i + text.length] === '"')) throw unsupported('A raw or bytes literal');
      out.push({ kind: 'word', text, upper: text.toUpperCase(), quoted: false, pos: i });
      i += text.length;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      out.push({ kind: 'param', name, pos: i });
      i += 1 + name.length;
    } else {
      const sym = SYMBOLS.find((s) => sql.startsWith(s, i));
      if (!sym) throw new SqlError(`Syntax error: Illegal input character "${c}" at [${i}]`);
      out.push({ kind: 'symbol', text: sym, pos: i });
      i += sym.length;
    }
  }
  out.push({ kind: 'eof', pos: sql.length });
  return out;
}

// ---- parsing ----

type Operand = { kind: 'column'; qualifier?: string; name: string } | { kind: 'literal'; value: Cell; type: ColumnType | null } | { kind: 'param'; name: string };
type SelectItem = { kind: 'star' } | { kind: 'expr'; operand: Exclude<Operand, { kind: 'param' }> | Extract<Operand, { kind: 'param' }>; alias?: string };
type Comparison = { left: Operand; op: string; right: Operand };
type Source =
  | { kind: 'table'; name: string; alias?: string }
  | { kind: 'subquery'; query: Query; alias?: string }
  | { kind: 'predict'; model: string; input: { kind: 'table'; name: string } | { kind: 'subquery'; query: Query }; alias?: string };
interface Query {
  items: SelectItem[];
  from?: Source;
  where: Comparison[];
  orderBy?: { column: Extract<Operand, { kind: 'column' }>; descending: boolean };
  limit?: number;
}

/** Words that end a clause, so they are never taken for an alias. */
const CLAUSE_WORDS = new Set(['FROM', 'WHERE', 'ORDER', 'LIMIT', 'GROUP', 'HAVING', 'UNION', 'INTERSECT', 'EXCEPT', 'JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'ON', 'USING', 'WINDOW', 'QUALIFY', 'OFFSET', 'AND', 'OR', 'TABLESAMPLE']);
const DML_WORDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);
const DDL_WORDS = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'GRANT', 'REVOKE', 'ANALYZE']);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }
  private next(): Token {
    return this.tokens[Math.min(this.i++, this.tokens.length - 1)];
  }
  private isWord(upper: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'word' && !t.quoted && t.upper === upper;
  }
  private isSymbol(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'symbol' && t.text === text;
  }
  private acceptWord(upper: string): boolean {
    if (!this.isWord(upper)) return false;
    this.i++;
    return true;
  }
  private acceptSymbol(text: string): boolean {
    if (!this.isSymbol(text)) return false;
    this.i++;
    return true;
  }
  private describe(t: Token): string {
    switch (t.kind) {
      case 'eof':
        return 'end of input';
      case 'word':
        return t.quoted ? `identifier \`${t.text}\`` : `keyword or identifier ${t.text}`;
      case 'number':
        return `number ${t.text}`;
      case 'string':
        return 'string literal';
      case 'param':
        return `parameter @${t.name}`;
      case 'symbol':
        return `"${t.text}"`;
    }
  }
  private fail(expected: string): SqlError {
    const t = this.peek();
    return new SqlError(`Syntax error: Expected ${expected} but got ${this.describe(t)} [at ${t.pos}]`);
  }
  private expectWord(upper: string): void {
    if (!this.acceptWord(upper)) throw this.fail(upper);
  }
  private expectSymbol(text: string): void {
    if (!this.acceptSymbol(text)) throw this.fail(`"${text}"`);
  }
  private identifier(what: string): string {
    const t = this.peek();
    if (t.kind !== 'word' || (!t.quoted && CLAUSE_WORDS.has(t.upper))) throw this.fail(what);
    this.i++;
    return t.text;
  }

  statement(): Query {
    const first = this.peek();
    if (first.kind === 'word' && !first.quoted) {
      if (DML_WORDS.has(first.upper)) throw new SqlError('DML statements can only be performed in a read-write or partitioned-dml transaction; ExecuteSql here runs read-only.');
      if (DDL_WORDS.has(first.upper)) throw new SqlError(`${first.upper} statements are DDL: ExecuteSql does not run DDL (use UpdateDatabaseDdl).`);
      if (first.upper === 'WITH') throw unsupported('WITH (common table expressions)');
      if (first.upper === 'GRAPH') throw unsupported('GRAPH (Spanner Graph queries)');
    }
    const q = this.query();
    this.acceptSymbol(';');
    if (this.peek().kind !== 'eof') throw this.fail('end of statement');
    return q;
  }

  private query(): Query {
    if (this.isSymbol('@') && this.isSymbol('{', 1)) throw unsupported('A statement hint @{...}');
    this.expectWord('SELECT');
    for (const w of ['DISTINCT', 'ALL', 'AS']) if (this.isWord(w)) throw unsupported(`SELECT ${w}`);
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.acceptSymbol(','));
    const q: Query = { items, where: [] };
    if (this.acceptWord('FROM')) q.from = this.source();
    if (this.acceptWord('WHERE')) {
      do q.where.push(this.comparison());
      while (this.acceptWord('AND'));
      if (this.isWord('OR')) throw unsupported('OR in WHERE');
    }
    if (this.isWord('GROUP')) throw unsupported('GROUP BY');
    if (this.isWord('HAVING')) throw unsupported('HAVING');
    if (this.isWord('WINDOW') || this.isWord('QUALIFY')) throw unsupported(this.peek().kind === 'word' ? (this.peek() as { upper: string }).upper : 'WINDOW');
    for (const w of ['UNION', 'INTERSECT', 'EXCEPT']) if (this.isWord(w)) throw unsupported(w);
    if (this.acceptWord('ORDER')) {
      this.expectWord('BY');
      const column = this.operand();
      if (column.kind !== 'column') throw unsupported('ORDER BY an expression other than a column');
      const descending = this.acceptWord('DESC') ? true : (this.acceptWord('ASC'), false);
      if (this.isWord('NULLS')) throw unsupported('NULLS FIRST/LAST');
      if (this.isSymbol(',')) throw unsupported('ORDER BY more than one column');
      q.orderBy = { column, descending };
    }
    if (this.acceptWord('LIMIT')) {
      const t = this.next();
      if (t.kind === 'param') throw unsupported('LIMIT with a parameter');
      if (t.kind !== 'number' || !/^\d+$/.test(t.text)) throw new SqlError('LIMIT expects an integer literal.');
      q.limit = Number(t.text);
      if (this.isWord('OFFSET')) throw unsupported('OFFSET');
    }
    return q;
  }

  private selectItem(): SelectItem {
    if (this.acceptSymbol('*')) {
      if (this.isWord('EXCEPT') || this.isWord('REPLACE')) throw unsupported(`SELECT * ${(this.peek() as { upper: string }).upper}`);
      return { kind: 'star' };
    }
    const operand = this.operand();
    let alias: string | undefined;
    if (this.acceptWord('AS')) alias = this.identifier('an alias');
    else if (this.peek().kind === 'word' && !CLAUSE_WORDS.has((this.peek() as { upper: string }).upper)) alias = this.identifier('an alias');
    return { kind: 'expr', operand, alias };
  }

  private operand(): Operand {
    const t = this.peek();
    if (t.kind === 'number') {
      this.i++;
      const integer = /^\d+$/.test(t.text);
      const value = Number(t.text);
      if (integer && !Number.isSafeInteger(value)) throw unsupported('An integer literal beyond 2^53');
      return { kind: 'literal', value, type: { code: integer ? 'INT64' : 'FLOAT64' } };
    }
    if (t.kind === 'string') {
      this.i++;
      return { kind: 'literal', value: t.value, type: { code: 'STRING' } };
    }
    if (t.kind === 'param') {
      this.i++;
      return { kind: 'param', name: t.name };
    }
    if (t.kind === 'symbol' && t.text === '-' && this.peek(1).kind === 'number') {
      this.i++;
      const lit = this.operand() as Extract<Operand, { kind: 'literal' }>;
      return { ...lit, value: -(lit.value as number) };
    }
    if (t.kind === 'word') {
      if (!t.quoted && (t.upper === 'TRUE' || t.upper === 'FALSE')) {
        this.i++;
        return { kind: 'literal', value: t.upper === 'TRUE', type: { code: 'BOOL' } };
      }
      if (!t.quoted && t.upper === 'NULL') {
        this.i++;
        return { kind: 'literal', value: null, type: null };
      }
      if (!t.quoted && ['DATE', 'TIMESTAMP', 'NUMERIC', 'JSON'].includes(t.upper) && this.peek(1).kind === 'string') throw unsupported(`A ${t.upper} literal`);
      if (!t.quoted && ['CASE', 'CAST', 'SAFE_CAST', 'EXISTS', 'ARRAY', 'STRUCT', 'INTERVAL', 'NOT'].includes(t.upper)) throw unsupported(t.upper);
      if (this.isSymbol('(', 1)) throw unsupported(`The function ${t.text}()`);
      const first = this.identifier('a column name');
      if (this.acceptSymbol('.')) {
        if (this.isSymbol('*')) throw unsupported(`${first}.*`);
        const name = this.identifier('a column name');
        if (this.isSymbol('.')) throw unsupported('A field access (a.b.c)');
        return { kind: 'column', qualifier: first, name };
      }
      return { kind: 'column', name: first };
    }
    if (t.kind === 'symbol' && t.text === '(') throw unsupported('A parenthesised expression or scalar subquery');
    throw this.fail('a column, a literal or a parameter');
  }

  private comparison(): Comparison {
    const left = this.operand();
    for (const w of ['IS', 'IN', 'LIKE', 'BETWEEN', 'NOT']) if (this.isWord(w)) throw unsupported(`${w} in WHERE`);
    const t = this.peek();
    if (t.kind !== 'symbol' || !['=', '!=', '<>', '<', '>', '<=', '>='].includes(t.text)) {
      if (t.kind === 'symbol' && ['+', '-', '*', '/', '|'].includes(t.text)) throw unsupported(`The operator ${t.text}`);
      throw this.fail('a comparison operator (=, !=, <>, <, >, <=, >=)');
    }
    this.i++;
    const right = this.operand();
    if (this.peek().kind === 'symbol' && ['+', '-', '*', '/', '|'].includes((this.peek() as { text: string }).text)) throw unsupported(`The operator ${(this.peek() as { text: string }).text}`);
    return { left, op: t.text === '<>' ? '!=' : t.text, right };
  }

  private source(): Source {
    let source: Source;
    if (this.isWord('ML') && this.isSymbol('.', 1)) {
      this.i += 2;
      const fn = this.identifier('PREDICT');
      if (fn.toUpperCase() !== 'PREDICT') throw unsupported(`ML.${fn}`);
      this.expectSymbol('(');
      this.expectWord('MODEL');
      const model = this.identifier('a model name');
      this.expectSymbol(',');
      let input: Extract<Source, { kind: 'predict' }>['input'];
      if (this.acceptWord('TABLE')) input = { kind: 'table', name: this.identifier('a table name') };
      else if (this.acceptSymbol('(')) {
        input = { kind: 'subquery', query: this.query() };
        this.expectSymbol(')');
      } else throw this.fail('TABLE <name> or a (subquery)');
      if (this.acceptSymbol(',')) throw unsupported('The ML.PREDICT parameters argument (STRUCT(...))');
      this.expectSymbol(')');
      source = { kind: 'predict', model, input };
    } else if (this.acceptSymbol('(')) {
      source = { kind: 'subquery', query: this.query() };
      this.expectSymbol(')');
    } else {
      if (this.isWord('UNNEST')) throw unsupported('UNNEST');
      const name = this.identifier('a table name');
      if (this.isSymbol('(')) throw unsupported(`The table-valued function ${name}()`);
      if (this.isSymbol('.')) throw unsupported('A qualified table name');
      source = { kind: 'table', name };
    }
    if (this.acceptWord('AS')) source.alias = this.identifier('an alias');
    else if (this.peek().kind === 'word' && !CLAUSE_WORDS.has((this.peek() as { upper: string }).upper)) source.alias = this.identifier('an alias');
    if (this.isSymbol(',')) throw unsupported('More than one table in FROM (comma join)');
    for (const w of ['JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS']) if (this.isWord(w)) throw unsupported('JOIN');
    if (this.isWord('TABLESAMPLE')) throw unsupported('TABLESAMPLE');
    return source;
  }
}

// ---- evaluation ----

interface Relation {
  columns: Column[];
  rows: Cell[][];
  /** Names a qualified column may use (table name or alias), lower case. */
  qualifiers: Set<string>;
  scanned: number;
}

export function typeName(t: ColumnType | null): string {
  if (!t) return 'INT64'; // an untyped NULL literal coerces to the other side; named like GoogleSQL does
  return t.code === 'ARRAY' ? `ARRAY<${typeName(t.arrayElementType)}>` : t.code;
}

function columnIndex(rel: Relation, ref: { qualifier?: string; name: string }): number {
  if (ref.qualifier && !rel.qualifiers.has(ref.qualifier.toLowerCase())) throw new SqlError(`Unrecognized name: ${ref.qualifier}`);
  const matches = rel.columns.map((c, i) => (c.name.toLowerCase() === ref.name.toLowerCase() ? i : -1)).filter((i) => i >= 0);
  if (!matches.length) throw new SqlError(`Unrecognized name: ${ref.name}`);
  if (matches.length > 1) throw new SqlError(`Column name ${ref.name} is ambiguous`);
  return matches[0];
}

function paramValue(name: string, p: QueryParams): { value: Cell; type: ColumnType | null } {
  const params = p.params ?? {};
  if (!Object.prototype.hasOwnProperty.call(params, name)) throw new SqlError(`No parameter found for binding: ${name}`);
  const raw = params[name];
  const declared = p.paramTypes?.[name]?.code;
  if (raw === null) return { value: null, type: declared ? ({ code: declared } as ColumnType) : null };
  const code = declared ?? (typeof raw === 'boolean' ? 'BOOL' : typeof raw === 'number' ? 'FLOAT64' : 'STRING');
  const bad = (): SqlError => new SqlError(`Invalid value for bind parameter ${name}: Expected ${code}.`);
  switch (code) {
    case 'INT64':
      if (typeof raw !== 'string' || !/^-?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw bad();
      return { value: Number(raw), type: { code } };
    case 'FLOAT64':
      if (typeof raw === 'number') return { value: raw, type: { code } };
      if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return { value: Number(raw), type: { code } };
      throw bad();
    case 'BOOL':
      if (typeof raw !== 'boolean') throw bad();
      return { value: raw, type: { code } };
    case 'STRING':
    case 'DATE':
    case 'TIMESTAMP':
    case 'NUMERIC':
      if (typeof raw !== 'string') throw bad();
      return { value: raw, type: { code } };
    default:
      throw unsupported(`A ${code} query parameter`);
  }
}

type Resolved = { value: (row: Cell[]) => Cell; type: ColumnType | null };

function resolve(operand: Operand, rel: Relation | undefined, p: QueryParams): Resolved {
  if (operand.kind === 'literal') return { value: () => operand.value, type: operand.type };
  if (operand.kind === 'param') {
    const { value, type } = paramValue(operand.name, p);
    return { value: () => value, type };
  }
  if (!rel) throw new SqlError(`Unrecognized name: ${operand.name}`);
  const i = columnIndex(rel, operand);
  return { value: (row) => row[i], type: rel.columns[i].type };
}

const NUMBER_CODES = new Set(['INT64', 'FLOAT64', 'NUMERIC']);

/** How two operand types compare (GoogleSQL coerces a STRING literal to DATE/TIMESTAMP), or why not. */
function comparator(a: ColumnType | null, b: ColumnType | null, op: string): (x: Cell, y: Cell) => number {
  const ca = a?.code ?? b?.code;
  const cb = b?.code ?? a?.code;
  const mismatch = (): SqlError => new SqlError(`No matching signature for operator ${op} for argument types: ${typeName(a)}, ${typeName(b)}`);
  if (!ca || !cb) return () => 0; // NULL vs NULL: never reached, NULL compares to nothing
  if (NUMBER_CODES.has(ca) && NUMBER_CODES.has(cb)) return (x, y) => Number(x) - Number(y);
  const temporal = (c: string): boolean => c === 'DATE' || c === 'TIMESTAMP';
  if ((ca === cb && (ca === 'STRING' || ca === 'BOOL')) || (temporal(ca) && (cb === ca || cb === 'STRING')) || (temporal(cb) && ca === 'STRING')) {
    if (ca === 'TIMESTAMP' || cb === 'TIMESTAMP') {
      return (x, y) => {
        const tx = Date.parse(String(x));
        const ty = Date.parse(String(y));
        if (Number.isNaN(tx) || Number.isNaN(ty)) throw new SqlError(`Could not cast literal to type TIMESTAMP`);
        return tx - ty;
      };
    }
    if (ca === 'BOOL') return (x, y) => Number(x) - Number(y);
    return (x, y) => (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0);
  }
  throw mismatch();
}

function test(cmp: number, op: string): boolean {
  switch (op) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '<':
      return cmp < 0;
    case '>':
      return cmp > 0;
    case '<=':
      return cmp <= 0;
    default:
      return cmp >= 0;
  }
}

function tableRelation(db: DatabaseContent, name: string): Relation {
  const table = db.tables.find((t) => t.name.toLowerCase() === name.toLowerCase());
  if (!table) throw new SqlError(`Table not found: ${name}`);
  return { columns: table.columns, rows: table.rows.map((r) => [...r]), qualifiers: new Set([table.name.toLowerCase()]), scanned: table.rows.length };
}

function predict(db: DatabaseContent, source: Extract<Source, { kind: 'predict' }>, p: QueryParams): Relation {
  const model = db.models.find((m) => m.name.toLowerCase() === source.model.toLowerCase());
  if (!model) throw new SqlError(`Model not found: ${source.model}`);
  const input = source.input.kind === 'table' ? tableRelation(db, source.input.name) : evaluate(db, source.input.query, p);
  const indexes = model.inputs.map((name) => {
    const i = input.columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
    if (i < 0) throw new SqlError(`Model ${model.name} requires the input column ${name}, which the input of ML.PREDICT does not have.`);
    if (!NUMBER_CODES.has(input.columns[i].type.code)) throw new SqlError(`Model ${model.name} input column ${name} must be numeric, got ${typeName(input.columns[i].type)}.`);
    return i;
  });
  const rows = input.rows.map((row) => {
    const values = indexes.map((i) => row[i]);
    if (values.some((v) => v === null)) throw new SqlError(`Model ${model.name} received NULL in an input column (${model.inputs.join(', ')}).`);
    return [...row, ...model.predict(Object.fromEntries(model.inputs.map((n, k) => [n, Number(values[k])])))];
  });
  return { columns: [...input.columns, ...model.outputs], rows, qualifiers: new Set(), scanned: input.scanned };
}

function fromSource(db: DatabaseContent, source: Source, p: QueryParams): Relation {
  const rel = source.kind === 'table' ? tableRelation(db, source.name) : source.kind === 'subquery' ? evaluate(db, source.query, p) : predict(db, source, p);
  if (source.alias) return { ...rel, qualifiers: new Set([source.alias.toLowerCase()]) };
  return source.kind === 'table' ? rel : { ...rel, qualifiers: new Set() };
}

function sortable(t: ColumnType): boolean {
  return t.code !== 'ARRAY' && t.code !== 'JSON';
}

function evaluate(db: DatabaseContent, q: Query, p: QueryParams): Relation {
  let rel: Relation = q.from ? fromSource(db, q.from, p) : { columns: [], rows: [[]], qualifiers: new Set(), scanned: 0 };
  for (const c of q.where) {
    const left = resolve(c.left, rel, p);
    const right = resolve(c.right, rel, p);
    const cmp = comparator(left.type, right.type, c.op);
    rel = {
      ...rel,
      rows: rel.rows.filter((row) => {
        const a = left.value(row);
        const b = right.value(row);
        // Three-valued logic: a comparison with NULL is NULL, and WHERE keeps only TRUE.
        return a !== null && b !== null && test(cmp(a, b), c.op);
      }),
    };
  }
  // Projection first resolves every item, so ORDER BY may name a select alias.
  const projected: Array<{ column: Column; value: (row: Cell[]) => Cell; source?: number }> = [];
  for (const item of q.items) {
    if (item.kind === 'star') {
      if (!q.from) throw new SqlError('SELECT * must have a FROM clause');
      rel.columns.forEach((column, i) => projected.push({ column, value: (row) => row[i], source: i }));
      continue;
    }
    const r = resolve(item.operand, q.from ? rel : undefined, p);
    const source = item.operand.kind === 'column' ? columnIndex(rel, item.operand) : undefined;
    const name = item.alias ?? (item.operand.kind === 'column' ? rel.columns[source!].name : '');
    projected.push({ column: { name, type: r.type ?? { code: 'INT64' } }, value: r.value, source });
  }
  if (q.orderBy) {
    const ref = q.orderBy.column;
    const byAlias = ref.qualifier ? -1 : projected.findIndex((c) => c.column.name.toLowerCase() === ref.name.toLowerCase());
    const key = byAlias >= 0 ? projected[byAlias] : { value: resolve(ref, rel, p).value, column: { name: ref.name, type: resolve(ref, rel, p).type ?? { code: 'INT64' as const } } };
    if (!sortable(key.column.type)) throw new SqlError(`ORDER BY does not support expressions of type ${typeName(key.column.type)}`);
    const cmp = comparator(key.column.type, key.column.type, 'ORDER BY');
    const dir = q.orderBy.descending ? -1 : 1;
    // GoogleSQL: NULLs sort first ascending, last descending. Array.sort is stable.
    rel = {
      ...rel,
      rows: [...rel.rows].sort((x, y) => {
        const a = key.value(x);
        const b = key.value(y);
        if (a === null || b === null) return a === b ? 0 : (a === null ? -1 : 1) * dir;
        return cmp(a, b) * dir;
      }),
    };
  }
  const rows = q.limit === undefined ? rel.rows : rel.rows.slice(0, q.limit);
  return { columns: projected.map((c) => c.column), rows: rows.map((row) => projected.map((c) => c.value(row))), qualifiers: new Set(), scanned: rel.scanned };
}

/** Parses and runs one query. Throws SqlError for anything outside the subset or wrong. */
export function executeQuery(db: DatabaseContent, sql: string, params: QueryParams = {}): QueryOutput {
  const query = new Parser(tokenize(sql)).statement();
  const rel = evaluate(db, query, params);
  return { columns: rel.columns, rows: rel.rows, rowsScanned: rel.scanned };
}

/** A value in its ResultSet JSON encoding (type.proto): INT64 as a decimal string, non-finite floats as strings. */
export function encodeCell(value: Cell, type: ColumnType): unknown {
  if (value === null) return null;
  if (type.code === 'ARRAY') {
    if (!Array.isArray(value)) throw new Error('ARRAY column holds a non-list value');
    return value.map((v) => encodeCell(v, type.arrayElementType));
  }
  switch (type.code) {
    case 'INT64':
      return String(value);
    case 'FLOAT64':
      return Number.isFinite(value) ? value : String(value); // "NaN", "Infinity", "-Infinity"
    default:
      return value;
  }
}
