import type { SecretLanguage } from './secretLanguage';

/** A string literal in source text: offsets of the whole literal and of its content. */
export interface StringLiteral {
  start: number;
  end: number;
  contentStart: number;
  contentEnd: number;
  /** The opening delimiter, e.g. `"`, `'''`, `"""`. */
  quote: string;
  /** Python string prefix (`r`, `b`, `f`, `rb`…), lower-cased; '' elsewhere. */
  prefix: string;
}

/**
 * The string literals of a file, in order, with comments skipped: just enough lexing to tell a
 * literal from code or a comment and to find its quotes. Unterminated literals end at the line
 * end (single-quoted) or the file end (triple-quoted).
 */
export function lexStrings(text: string, language: SecretLanguage): StringLiteral[] {
  const out: StringLiteral[] = [];
  const n = text.length;
  const hashComments = language === 'python' || language === 'r' || language === 'yaml' || language === 'dotenv';
  const slashComments = language === 'scala' || language === 'json';
  const dashComments = language === 'sql';
  const blockComments = language === 'scala' || language === 'sql' || language === 'json';
  const singleQuotes = language !== 'scala' && language !== 'json';
  // YAML and .env: a quote opens a string only where a value can start (not "it's").
  const valueStartOnly = language === 'yaml' || language === 'dotenv';
  const backslashEscapes = language !== 'sql';
  // Jump from one character that can start a string or a comment to the next (native regex
  // search, not a JavaScript loop per character: a multi-megabyte file stays fast).
  const starts = new RegExp(`["${singleQuotes ? "'" : ''}${language === 'sql' ? '`' : ''}${hashComments ? '#' : ''}${slashComments || blockComments ? '/' : ''}${dashComments ? '\\-' : ''}]`, 'g');
  let i = 0;
  while (i < n) {
    starts.lastIndex = i;
    const m = starts.exec(text);
    if (!m) break;
    i = m.index;
    const c = text[i];
    if (c === '#') {
      if (!valueStartOnly || i === 0 || isBlank(text[i - 1])) i = lineEnd(text, i);
      else i++;
      continue;
    }
    if (c === '/' || c === '-') {
      if ((slashComments && c === '/' && text[i + 1] === '/') || (dashComments && c === '-' && text[i + 1] === '-')) i = lineEnd(text, i);
      else if (blockComments && c === '/' && text[i + 1] === '*') {
        const close = text.indexOf('*/', i + 2);
        i = close < 0 ? n : close + 2;
      } else i++;
      continue;
    }
    if (valueStartOnly && i > 0 && !/[\s:=[{,-]/.test(text[i - 1])) {
      i++;
      continue;
    }
    let prefix = '';
    if (language === 'python') {
      const p = /([rRbBuUfF]{1,2})$/.exec(text.slice(Math.max(0, i - 2), i));
      if (p && !/[\w]/.test(text[i - p[1].length - 1] ?? '')) prefix = p[1].toLowerCase();
    }
    const triple = (language === 'python' || language === 'scala') && text.startsWith(c.repeat(3), i);
    const quote = triple ? c.repeat(3) : c;
    const start = i - prefix.length;
    const contentStart = i + quote.length;
    const raw = prefix.includes('r') || (language === 'scala' && triple);
    const doubled = quote === "'" && (language === 'sql' || language === 'yaml');
    const close = closingQuote(text, contentStart, quote, triple, backslashEscapes, raw, doubled);
    if (close < 0) {
      // Unterminated: the literal runs to the line (or file) end; no closing quote.
      const j = triple ? n : lineEnd(text, contentStart);
      out.push({ start, end: j, contentStart, contentEnd: j, quote, prefix });
      i = j;
      continue;
    }
    out.push({ start, end: close + quote.length, contentStart, contentEnd: close, quote, prefix });
    i = close + quote.length;
  }
  return out;
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

const STOPS = new Map<string, RegExp>();

/** Offset of the quote that closes a literal whose content starts at `from`, or -1 (unterminated). */
function closingQuote(text: string, from: number, quote: string, triple: boolean, escapes: boolean, raw: boolean, doubled: boolean): number {
  const key = `${quote}|${triple}`;
  let stop = STOPS.get(key);
  if (!stop) STOPS.set(key, (stop = new RegExp(`[\\\\${quote[0]}${triple ? '' : '\\n'}]`, 'g')));
  let j = from;
  for (;;) {
    stop.lastIndex = j;
    const m = stop.exec(text);
    if (!m) return -1;
    j = m.index;
    const d = text[j];
    if (d === '\n') return -1;
    if (d === '\\') {
      // In a raw string a backslash escapes only the quote (it cannot end the string).
      if (escapes && (!raw || text[j + 1] === quote[0])) j += 2;
      else j++;
      continue;
    }
    if (!text.startsWith(quote, j)) {
      j++;
      continue;
    }
    if (doubled && text[j + 1] === quote) {
      j += 2;
      continue;
    }
    return j;
  }
}

function lineEnd(text: string, i: number): number {
  const e = text.indexOf('\n', i);
  return e < 0 ? text.length : e;
}

/** The literal whose content holds [start, end), by binary search over `lexStrings` output. */
export function literalAt(literals: readonly StringLiteral[], start: number, end: number): StringLiteral | undefined {
  let lo = 0;
  let hi = literals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const l = literals[mid];
    if (l.contentEnd < start) lo = mid + 1;
    else if (l.contentStart > start) hi = mid - 1;
    else return end <= l.contentEnd ? l : undefined;
  }
  return undefined;
}
