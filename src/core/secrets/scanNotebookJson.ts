import { scanSecrets, type SecretFinding, type SecretLiteral, type TextSpan } from './scanSecrets';
import { cellLanguageOf, type SecretLanguage } from './secretLanguage';

/**
 * Secrets in a Jupyter notebook's JSON (`.ipynb` on disk): each cell's source lines are joined
 * into the cell's code, scanned in the cell's language, and every finding is mapped back to
 * offsets in the raw JSON (where `"` is `\"` and a newline is `\n`). Text outputs are scanned
 * for credentials of a known shape (a printed token is a leak too); images are not.
 */
export function scanNotebookJson(raw: string): SecretFinding[] {
  let root: JNode;
  let parser: JsonParser;
  try {
    parser = new JsonParser(raw);
    root = parser.parseDocument();
  } catch {
    // Not parsable (being edited, merge conflict): scan it as plain JSON text.
    return scanSecrets(raw, 'json');
  }
  if (root.type !== 'object') return scanSecrets(raw, 'json');
  const language = notebookLanguage(parser, root);
  const cells = get(root, 'cells');
  const out: SecretFinding[] = [];
  if (cells?.type !== 'array') return scanSecrets(raw, 'json');
  for (const cell of cells.items) {
    if (cell.type !== 'object') continue;
    const cellType = str(parser, get(cell, 'cell_type'));
    const source = strings(get(cell, 'source'));
    if (cellType === 'code') {
      const text = joined(parser, source);
      out.push(...mapFindings(scanSecrets(text.value, cellLanguage(text.value, language)), text));
    } else if (source.length) {
      const text = joined(parser, source);
      out.push(...mapFindings(scanSecrets(text.value, 'python').filter(shaped), text));
    }
    const outputs = get(cell, 'outputs');
    if (outputs?.type !== 'array') continue;
    for (const o of outputs.items) {
      if (o.type !== 'object') continue;
      const data = get(o, 'data');
      for (const part of [get(o, 'text'), data && get(data, 'text/plain'), get(o, 'traceback')]) {
        const lines = strings(part);
        if (!lines.length) continue;
        const text = joined(parser, lines);
        out.push(...mapFindings(scanSecrets(text.value, 'python').filter(shaped), text));
      }
    }
  }
  return out.sort((a, b) => a.range.start - b.range.start);
}

/** Credentials with a recognisable shape, as opposed to a high-entropy value next to a name. */
function shaped(f: SecretFinding): boolean {
  return f.kind !== 'highEntropySecret';
}

function notebookLanguage(parser: JsonParser, root: JObject): SecretLanguage {
  const meta = get(root, 'metadata');
  const names = [
    meta && get(meta, 'kernelspec') && get(get(meta, 'kernelspec') as JNode, 'language'),
    meta && get(meta, 'language_info') && get(get(meta, 'language_info') as JNode, 'name'),
    meta && get(meta, 'application/vnd.databricks.v1+notebook') && get(get(meta, 'application/vnd.databricks.v1+notebook') as JNode, 'language'),
  ].map((n) => str(parser, n)?.toLowerCase());
  for (const n of names) {
    if (n === 'scala' || n === 'sql' || n === 'r' || n === 'python') return n;
  }
  return 'python';
}

/** `%sql`, `%scala`, `%r`, `%python` on a cell's first line switch its language (Databricks, sparkmagic). */
function cellLanguage(code: string, fallback: SecretLanguage): SecretLanguage {
  return cellLanguageOf('', code) ?? fallback;
}

// ---- Mapping decoded text back to raw offsets ----

interface Joined {
  value: string;
  raw: JString[];
  parser: JsonParser;
  /** Raw offset where decoded character i starts, and just after it; built when needed. */
  starts?: number[];
  ends?: number[];
}

function joined(parser: JsonParser, raw: JString[]): Joined {
  return { value: raw.map((r) => parser.decode(r).value).join(''), raw, parser };
}

/** Per-character offsets, only for text that has findings (most cells have none). */
function offsetsOf(j: Joined): { starts: number[]; ends: number[] } {
  if (!j.starts || !j.ends) {
    j.starts = [];
    j.ends = [];
    for (const p of j.raw.map((r) => j.parser.decode(r, true))) {
      for (let i = 0; i < p.value.length; i++) {
        j.starts.push(p.starts[i]);
        j.ends.push(i + 1 < p.value.length ? p.starts[i + 1] : p.end - 1);
      }
    }
  }
  return { starts: j.starts, ends: j.ends };
}

function mapSpan(s: TextSpan, joinedText: Joined): TextSpan {
  const j = offsetsOf(joinedText);
  const start = s.start < j.starts.length ? j.starts[s.start] : (j.ends[j.ends.length - 1] ?? 0);
  const end = s.end > 0 ? j.ends[Math.min(s.end, j.ends.length) - 1] : start;
  return { start, end };
}

function mapFindings(findings: SecretFinding[], j: Joined): SecretFinding[] {
  return findings.map((f) => {
    const mapped: SecretFinding = { ...f, range: mapSpan(f.range, j) };
    if (f.literal) {
      const outer = mapSpan(f.literal, j);
      const content = f.literal.content.end > f.literal.content.start ? mapSpan(f.literal.content, j) : { start: outer.start, end: outer.start };
      const literal: SecretLiteral = { ...f.literal, ...outer, content };
      mapped.literal = literal;
    }
    if (f.related) mapped.related = f.related.map((r) => mapSpan(r, j));
    return mapped;
  });
}

// ---- A JSON parser that keeps positions ----

/** A string token: raw offsets only; decoded (with per-character offsets) when scanned. */
interface JString {
  type: 'string';
  start: number;
  end: number;
}
interface Decoded {
  value: string;
  end: number;
  /** Raw offset of each decoded character; only when asked for. */
  starts: number[];
}
interface JObject {
  type: 'object';
  entries: { key: string; value: JNode }[];
}
interface JArray {
  type: 'array';
  items: JNode[];
}
type JNode = JString | JObject | JArray | { type: 'other' };

function get(node: JNode | undefined, key: string): JNode | undefined {
  return node?.type === 'object' ? node.entries.find((e) => e.key === key)?.value : undefined;
}

function str(parser: JsonParser, node: JNode | undefined): string | undefined {
  return node?.type === 'string' ? parser.decode(node).value : undefined;
}

/** A string, or an array of strings (ipynb splits sources and outputs into lines). */
function strings(node: JNode | undefined): JString[] {
  if (node?.type === 'string') return [node];
  if (node?.type === 'array') return node.items.filter((n): n is JString => n.type === 'string');
  return [];
}

class JsonParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDocument(): JNode {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) throw new Error('trailing text');
    return v;
  }

  private ws() {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(depth: number): JNode {
    if (depth > 64) throw new Error('too deep');
    this.ws();
    const c = this.s[this.i];
    if (c === '"') return this.string();
    if (c === '{') {
      this.i++;
      const entries: JObject['entries'] = [];
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return { type: 'object', entries };
      }
      for (;;) {
        this.ws();
        const key = this.decode(this.string()).value;
        this.ws();
        this.expect(':');
        entries.push({ key, value: this.value(depth + 1) });
        this.ws();
        if (this.s[this.i] === ',') {
          this.i++;
          continue;
        }
        this.expect('}');
        return { type: 'object', entries };
      }
    }
    if (c === '[') {
      this.i++;
      const items: JNode[] = [];
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
        return { type: 'array', items };
      }
      for (;;) {
        items.push(this.value(depth + 1));
        this.ws();
        if (this.s[this.i] === ',') {
          this.i++;
          continue;
        }
        this.expect(']');
        return { type: 'array', items };
      }
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.i, this.i + 40));
    if (!m) throw new Error(`unexpected ${c ?? 'end'} at ${this.i}`);
    this.i += m[0].length;
    return { type: 'other' };
  }

  private expect(c: string) {
    if (this.s[this.i] !== c) throw new Error(`expected ${c} at ${this.i}`);
    this.i++;
  }

  private string(): JString {
    this.expect('"');
    const start = this.i - 1;
    for (;;) {
      const q = this.s.indexOf('"', this.i);
      if (q < 0) throw new Error('unterminated string');
      // A quote preceded by an odd number of backslashes is escaped.
      let b = q - 1;
      while (b >= this.i && this.s[b] === '\\') b--;
      this.i = q + 1;
      if ((q - 1 - b) % 2 === 0) return { type: 'string', start, end: this.i };
    }
  }

  /** The string's value and, per character, where it starts in the raw text. */
  decode(t: JString, withOffsets = false): Decoded {
    const starts: number[] = [];
    const inner = this.s.slice(t.start + 1, t.end - 1);
    if (!withOffsets && !inner.includes('\\')) return { value: inner, end: t.end, starts };
    let value = '';
    for (let i = t.start + 1; i < t.end - 1; ) {
      if (withOffsets) starts.push(i);
      const c = this.s[i];
      if (c === '\\') {
        const e = this.s[i + 1];
        if (e === 'u') {
          value += String.fromCharCode(parseInt(this.s.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          value += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e;
          i += 2;
        }
      } else {
        value += c;
        i++;
      }
    }
    return { value, end: t.end, starts };
  }
}
