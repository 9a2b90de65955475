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
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      i++;
      continue;
    }
    if (hashComments && c === '#' && (!valueStartOnly || i === 0 || /\s/.test(text[i - 1]))) {
      i = lineEnd(text, i);
      continue;
    }
    if ((slashComments && c === '/' && text[i + 1] === '/') || (dashComments && c === '-' && text[i + 1] === '-')) {
      i = lineEnd(text, i);
      continue;
    }
    if (blockComments && c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (c === '"' || (c === "'" && singleQuotes) || (c === '`' && language === 'sql')) {
      if (valueStartOnly && i > 0 && !/[\s:=[{,-]/.test(text[i - 1])) {
        i++;
        continue;
      }
      let prefix = '';
      if (language === 'python') {
        const m = /([rRbBuUfF]{1,2})$/.exec(text.slice(Math.max(0, i - 2), i));
        if (m && !/[\w]/.test(text[i - m[1].length - 1] ?? '')) prefix = m[1].toLowerCase();
      }
      const triple = (language === 'python' || language === 'scala') && text.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      const start = i - prefix.length;
      const contentStart = i + quote.length;
      let j = contentStart;
      const raw = prefix.includes('r') || (language === 'scala' && triple);
      let contentEnd = -1;
      while (j < n) {
        const d = text[j];
        if (d === '\\' && backslashEscapes && !(raw && text[j + 1] !== quote[0])) {
          j += 2;
          continue;
        }
        if (!triple && d === '\n') break;
        if (text.startsWith(quote, j)) {
          // SQL and YAML single quotes double themselves to escape.
          if (quote === "'" && (language === 'sql' || language === 'yaml') && text[j + 1] === "'") {
            j += 2;
            continue;
          }
          contentEnd = j;
          break;
        }
        j++;
      }
      if (contentEnd < 0) {
        // Unterminated: the literal runs to the line (or file) end; no closing quote.
        out.push({ start, end: j, contentStart, contentEnd: j, quote, prefix });
        i = j;
        continue;
      }
      out.push({ start, end: contentEnd + quote.length, contentStart, contentEnd, quote, prefix });
      i = contentEnd + quote.length;
      continue;
    }
    i++;
  }
  return out;
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
