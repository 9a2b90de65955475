// YAML with line numbers, from js-yaml (already in the extension bundle for databricks.yml):
// its typed `listener` option reports where each node opens and what it closes with, which is
// enough to map every mapping key, value and sequence item to a line. The `yaml` package keeps
// positions natively but would add ~115 KB (minified) to the extension bundle for this alone.
import type * as JsYaml from 'js-yaml';
import { lineOf, lineStarts } from '../text/lines';

/** Where a value sits in the text (1-based line and column), with its children's positions. */
export interface YamlPosition {
  line: number;
  column: number;
  /** For a mapping value: the line of its key. */
  keyLine?: number;
  /** A mapping's values by key. */
  entries?: Map<string, YamlPosition>;
  /** A sequence's items. */
  items?: YamlPosition[];
}

export interface ParsedYaml {
  value: unknown;
  /** Positions of the document's nodes (undefined for an empty document). */
  root?: YamlPosition;
}

export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'YamlSyntaxError';
  }
}

let yamlModule: typeof JsYaml | undefined;

function loadYaml(): typeof JsYaml {
  // Required on first use, like parseBundleTargets: nothing of js-yaml is evaluated at activation.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  yamlModule ??= require('js-yaml') as typeof JsYaml;
  return yamlModule;
}

interface Frame {
  start: number;
  result?: unknown;
  children: Frame[];
}

function locate(starts: number[], offset: number): { line: number; column: number } {
  const l = lineOf(starts, offset);
  return { line: l + 1, column: offset - starts[l] + 1 };
}

/** A node opens before the blanks, comments and "- " in front of it: skip to its first character. */
function skipToContent(text: string, offset: number): number {
  let i = offset;
  while (i < text.length) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') i++;
    else if (ch === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (ch === '-' && (text[i + 1] === ' ' || text[i + 1] === '\n' || text[i + 1] === '\r') && text.slice(i, i + 3) !== '---') i++;
    else break;
  }
  return Math.min(i, text.length);
}

/**
 * js-yaml composes some scalars twice (a sequence item tried as a mapping key first): a frame
 * with one child holding the same result is that child.
 */
function unwrap(f: Frame): Frame {
  let cur = f;
  while (cur.children.length === 1 && Object.is(cur.children[0].result, cur.result)) cur = cur.children[0];
  return cur;
}

function build(f: Frame, text: string, starts: number[]): YamlPosition {
  const node = unwrap(f);
  const here = locate(starts, skipToContent(text, node.start));
  const pos: YamlPosition = { line: here.line, column: here.column };
  const v = node.result;
  const kids = node.children.map(unwrap);
  if (Array.isArray(v)) {
    if (kids.length === v.length) pos.items = kids.map((k) => build(k, text, starts));
  } else if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    // Children alternate key, value; any other shape (an alias, a merge) keeps the mapping's line.
    if (kids.length === keys.length * 2 && keys.every((k, i) => String(kids[2 * i].result) === k)) {
      pos.entries = new Map();
      keys.forEach((k, i) => {
        const child = build(kids[2 * i + 1], text, starts);
        const keyAt = locate(starts, skipToContent(text, kids[2 * i].start));
        child.keyLine = keyAt.line;
        // A value left empty ("key:") is located on its key's line, not the next key's.
        if (child.line < keyAt.line || (kids[2 * i + 1].result === null && child.line > keyAt.line)) {
          child.line = keyAt.line;
          child.column = keyAt.column;
        }
        pos.entries!.set(k, child);
      });
    }
  }
  return pos;
}

/**
 * Parses one YAML document as plain data (the JSON schema: no custom tags, no code) and returns
 * the position of every mapping value and sequence item. Syntax errors carry their line.
 */
export function parseYamlWithPositions(text: string, filename?: string): ParsedYaml {
  const yaml = loadYaml();
  const stack: Frame[] = [{ start: 0, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      schema: yaml.JSON_SCHEMA,
      filename,
      listener(event, state) {
        if (event === 'open') stack.push({ start: state.position, children: [] });
        else {
          const f = stack.pop();
          if (!f || !stack.length) return;
          f.result = state.result;
          stack[stack.length - 1].children.push(f);
        }
      },
    });
  } catch (e) {
    const mark = (e as { mark?: { line?: number; column?: number } }).mark;
    const reason = (e as { reason?: string }).reason ?? (e as Error).message.split('\n')[0];
    throw new YamlSyntaxError(reason, (mark?.line ?? 0) + 1, (mark?.column ?? 0) + 1);
  }
  const top = stack[0].children.find((c) => Object.is(c.result, value)) ?? stack[0].children[stack[0].children.length - 1];
  return { value, root: top && value !== undefined ? build(top, text, lineStarts(text)) : undefined };
}

/** The position at a path of keys and indexes, or the nearest ancestor's. */
export function positionAt(root: YamlPosition | undefined, path: readonly (string | number)[]): YamlPosition | undefined {
  let cur = root;
  for (const step of path) {
    const next = typeof step === 'number' ? cur?.items?.[step] : cur?.entries?.get(step);
    if (!next) return cur;
    cur = next;
  }
  return cur;
}
