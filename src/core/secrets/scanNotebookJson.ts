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
  try {
    root = new JsonParser(raw).parseDocument();
  } catch {
    // Not parsable (being edited, merge conflict): scan it as plain JSON text.
    return scanSecrets(raw, 'json');
  }
  if (root.type !== 'object') return scanSecrets(raw, 'json');
  const language = notebookLanguage(root);
  const cells = get(root, 'cells');
  const out: SecretFinding[] = [];
  if (cells?.type !== 'array') return scanSecrets(raw, 'json');
  for (const cell of cells.items) {
    if (cell.type !== 'object') continue;
    const cellType = str(get(cell, 'cell_type'));
    const source = strings(get(cell, 'source'));
    if (cellType === 'code') {
      const text = joined(source);
      out.push(...mapFindings(scanSecrets(text.value, cellLanguage(text.value, language)), text));
    } else if (source.length) {
      const text = joined(source);
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
        const text = joined(lines);
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

function notebookLanguage(root: JObject): SecretLanguage {
  const meta = get(root, 'metadata');
  const names = [
    meta && get(meta, 'kernelspec') && get(get(meta, 'kernelspec') as JNode, 'language'),
    meta && get(meta, 'language_info') && get(get(meta, 'language_info') as JNode, 'name'),
    meta && get(meta, 'application/vnd.databricks.v1+notebook') && get(get(meta, 'application/vnd.databricks.v1+notebook') as JNode, 'language'),
  ].map((n) => str(n)?.toLowerCase());
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
  /** Raw offset where decoded character i starts. */
  starts: number[];
  /** Raw offset just after decoded character i. */
  ends: number[];
}

function joined(parts: JString[]): Joined {
  const j: Joined = { value: '', starts: [], ends: [] };
  for (const p of parts) {
    j.value += p.value;
    for (let i = 0; i < p.value.length; i++) {
      j.starts.push(p.starts[i]);
      j.ends.push(i + 1 < p.value.length ? p.starts[i + 1] : p.end - 1);
    }
  }
  return j;
}

function mapSpan(s: TextSpan, j: Joined): TextSpan {
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

interface JString {
  type: 'string';
  value: string;
  start: number;
  end: number;
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

function str(node: JNode | undefined): string | undefined {
  return node?.type === 'string' ? node.value : undefined;
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
        const key = this.string();
        this.ws();
        this.expect(':');
        entries.push({ key: key.value, value: this.value(depth + 1) });
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
    let value = '';
    const starts: number[] = [];
    for (;;) {
      if (this.i >= this.s.length) throw new Error('unterminated string');
      const c = this.s[this.i];
      if (c === '"') {
        this.i++;
        return { type: 'string', value, start, end: this.i, starts };
      }
      starts.push(this.i);
      if (c === '\\') {
        const e = this.s[this.i + 1];
        if (e === 'u') {
          value += String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
        } else {
          value += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e;
          this.i += 2;
        }
      } else {
        value += c;
        this.i++;
      }
    }
  }
}
