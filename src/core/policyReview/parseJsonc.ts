/** A JSONC (JSON with comments) syntax error at a 1-based line and column. */
export class JsoncSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}, column ${column})`);
    this.name = 'JsoncSyntaxError';
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Parses JSON with comments (`//`, `/* *\/`) and trailing commas, as VS Code writes
 * settings.json and .code-workspace files. A small recursive-descent parser (about 2 KB
 * minified; jsonc-parser would be 4.4 KB and is not a dependency of this project) whose errors
 * name a line and column and never quote the file, which may hold other tools' secrets.
 * Objects are created without a prototype-bearing "__proto__" surprise: keys are defined as own
 * properties.
 */
export function parseJsonc(text: string): unknown {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (message: string, at = i): never => {
    let line = 1;
    let start = 0;
    for (let k = 0; k < at && k < text.length; k++)
      if (text.charCodeAt(k) === 10) {
        line++;
        start = k + 1;
      }
    throw new JsoncSyntaxError(message, line, at - start + 1);
  };
  const blank = () => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else if (c === '/' && text[i + 1] === '/') while (i < text.length && text[i] !== '\n') i++;
      else if (c === '/' && text[i + 1] === '*') {
        const end = text.indexOf('*/', i + 2);
        if (end < 0) fail('unterminated /* comment');
        i = end + 2;
      } else return;
    }
  };
  const what = () => (i >= text.length ? 'the end of the file' : text[i] === '"' ? 'a string' : `"${text[i]}"`);
  const string = (): string => {
    let out = '';
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i++];
      if (c === '"') return out;
      if (c === '\n') fail('line break inside a string', i - 1);
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++];
      if (e === 'u') {
        const hex = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape', i - 2);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
      } else if (e !== undefined && e in ESCAPES) out += ESCAPES[e];
      else fail('invalid escape in a string', i - 2);
    }
  };
  const value = (depth: number): unknown => {
    if (depth > 200) fail('nested too deeply');
    blank();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      for (;;) {
        blank();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        if (text[i] !== '"') fail(`expected a property name in double quotes or "}", found ${what()}`);
        const key = string();
        blank();
        if (text[i] !== ':') fail(`expected ":" after a property name, found ${what()}`);
        i++;
        Object.defineProperty(obj, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        blank();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail(`expected "," or "}" after a property value, found ${what()}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      for (;;) {
        blank();
        if (text[i] === ']') {
          i++;
          return arr;
        }
        arr.push(value(depth + 1));
        blank();
        if (text[i] === ',') i++;
        else if (text[i] !== ']') fail(`expected "," or "]" after an array element, found ${what()}`);
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) fail(`expected a value, found ${what()}`);
    i += m![0].length;
    return m![0] === 'true' ? true : m![0] === 'false' ? false : m![0] === 'null' ? null : Number(m![0]);
  };
  blank();
  if (i >= text.length) return undefined;
  const result = value(0);
  blank();
  if (i < text.length) fail(`unexpected ${what()} after the value`);
  return result;
}
