import { SECRET_KINDS } from './SecretKind';
import { nameParts, type SecretFinding, type TextSpan } from './scanSecrets';
import type { SecretLanguage } from './secretLanguage';

/**
 * The quick fixes for a hard-coded secret, as plain text edits (offsets into the document):
 * "use the environment's credentials" (the language's default credential chain or an
 * environment variable) and "move to a Databricks secret scope" (the literal becomes a
 * `dbutils.secrets.get` / `secret()` / `{{secrets/…}}` reference). Pure: the shell applies them.
 */

export interface TextEdit {
  start: number;
  end: number;
  newText: string;
}

export interface SecretFix {
  title: string;
  edits: TextEdit[];
}

/** Databricks secret scope and key names: letters, digits, `-`, `_`, `.`, at most 128 characters. */
export const SECRET_NAME = /^[A-Za-z0-9._-]{1,128}$/;

const DATABRICKS_CLIENTS = /(?:^|\.)(?:WorkspaceClient|AccountClient|Config|ApiClient)$/;
const AWS_CALLS = /(?:^|\.)(?:client|resource|Session)$/;
const AWS_KWARGS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'];

// ---- Environment ----

/** "Use the environment's credentials", when the language has a sensible form of it. */
export function environmentCredentialFix(text: string, language: SecretLanguage, finding: SecretFinding): SecretFix | undefined {
  const literal = finding.literal;
  if (!literal) return undefined;
  const envVar = environmentVariableFor(finding);
  switch (language) {
    case 'python':
      return pythonEnvironmentFix(text, finding, envVar);
    case 'scala':
      return replaceValue(text, finding, `sys.env("${envVar}")`, ' + ', `Read it with sys.env("${envVar}")`);
    case 'r': {
      const setenv = removeSetenvArgument(text, finding);
      return setenv ?? replaceValue(text, finding, `Sys.getenv("${envVar}")`, 'paste0', `Read it with Sys.getenv("${envVar}")`);
    }
    case 'dotenv':
    case 'yaml': {
      if (language === 'dotenv' && finding.name === envVar) {
        const line = lineSpan(text, literal.start);
        return { title: `Remove ${envVar} from this file (the environment provides it)`, edits: [{ ...line, newText: '' }] };
      }
      if (finding.range.start !== literal.content.start || finding.range.end !== literal.content.end) return undefined;
      return { title: `Use the environment's credentials: \${${envVar}}`, edits: [{ start: literal.content.start, end: literal.content.end, newText: `\${${envVar}}` }] };
    }
    default:
      return undefined; // SQL and JSON have no environment: a secret scope is the fix there.
  }
}

/** The environment variable a credential of this kind (or this name) is read from. */
export function environmentVariableFor(finding: Pick<SecretFinding, 'kind' | 'name'>): string {
  const fromKind = SECRET_KINDS[finding.kind].envVar;
  if (fromKind) return fromKind;
  const parts = finding.name ? nameParts(finding.name) : [];
  if (!parts.length || (parts.length === 1 && ['authorization', 'auth', 'headers'].includes(parts[0]))) return finding.kind === 'privateKey' ? 'PRIVATE_KEY' : 'API_TOKEN';
  return parts.join('_').toUpperCase();
}

function pythonEnvironmentFix(text: string, finding: SecretFinding, envVar: string): SecretFix | undefined {
  const literal = finding.literal!;
  if (literal.prefix.includes('b')) return undefined;
  const call = enclosingCall(text, literal.start);
  const kw = keywordBefore(text, literal.start);

  // os.environ["X"] = "…": the environment already provides X; drop the line.
  const stmt = lineSpan(text, literal.start);
  if (/^\s*os\.environ\[\s*["'][\w.-]+["']\s*\]\s*=\s*$/.test(text.slice(stmt.start, literal.start)) && /^\s*(#.*)?$/.test(text.slice(literal.end, stmt.end)))
    return { title: `Remove this line (the environment provides ${text.slice(stmt.start, literal.start).match(/["']([\w.-]+)["']/)?.[1]})`, edits: [{ ...stmt, newText: '' }] };

  if (finding.kind === 'databricksPat' && call && kw === 'token' && DATABRICKS_CLIENTS.test(call.callee)) {
    return { title: `Use the environment's credentials: drop token= (${call.callee.split('.').pop()}() finds them)`, edits: removeKeywordArguments(text, call, ['token']) };
  }
  if ((finding.kind === 'awsAccessKeyId' || finding.kind === 'awsSecretAccessKey') && call && kw && AWS_KWARGS.includes(kw) && AWS_CALLS.test(call.callee)) {
    return { title: `Use the environment's credentials: drop the keys (${call.callee}() finds them)`, edits: removeKeywordArguments(text, call, AWS_KWARGS) };
  }
  if (finding.kind === 'googleAccessToken' && call && /(?:^|\.)Credentials$/.test(call.callee) && (kw === 'token' || kw === undefined) && isWholeValue(finding)) {
    return {
      title: 'Use the environment\'s credentials: google.auth.default()',
      edits: withImport(text, 'import google.auth', [{ start: call.calleeStart, end: call.close + 1, newText: 'google.auth.default()[0]' }]),
    };
  }
  if (finding.kind === 'googleServiceAccountKey') return googleServiceAccountFix(text, literal.start);

  let expr = `os.environ["${envVar}"]`;
  let title = `Use the environment's credentials: os.environ["${envVar}"]`;
  let needs = 'import os';
  if (finding.kind === 'awsAccessKeyId' || finding.kind === 'awsSecretAccessKey') {
    expr = `boto3.Session().get_credentials().${finding.kind === 'awsAccessKeyId' ? 'access_key' : 'secret_key'}`;
    title = `Use the environment's credentials: ${expr}`;
    needs = 'import boto3';
  }
  const fix = replaceValue(text, finding, expr, ' + ', title);
  return fix && { title: fix.title, edits: withImport(text, needs, fix.edits) };
}

/** A key dict passed to from_service_account_info: the call becomes google.auth.default(). */
function googleServiceAccountFix(text: string, at: number): SecretFix | undefined {
  const dict = enclosingBracket(text, at, '{', '}');
  if (!dict) return undefined;
  const inline = enclosingCall(text, dict.open);
  let call = inline && /from_service_account_info$/.test(inline.callee) ? inline : undefined;
  const edits: TextEdit[] = [];
  if (!call) {
    // `info = {…}` … `X.from_service_account_info(info, …)`
    const ls = text.lastIndexOf('\n', dict.open - 1) + 1;
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*$/.exec(text.slice(ls, dict.open));
    if (!m) return undefined;
    const use = new RegExp(`([\\w.]+\\.from_service_account_info)\\(\\s*${m[1]}\\b`).exec(text.slice(dict.close));
    if (!use) return undefined;
    const open = dict.close + (use.index ?? 0) + use[1].length;
    const close = matchingClose(text, open, '(', ')');
    if (close < 0) return undefined;
    call = { callee: use[1], calleeStart: dict.close + (use.index ?? 0), open, close };
    const stmt = lineSpan(text, ls);
    const end = lineSpan(text, dict.close);
    edits.push({ start: stmt.start, end: end.end, newText: '' });
  }
  const args = text.slice(call.open + 1, call.close);
  const scopes = /\bscopes\s*=\s*(\[[^\]]*\]|[A-Za-z_][\w.]*)/.exec(args);
  edits.push({ start: call.calleeStart, end: call.close + 1, newText: `google.auth.default(${scopes ? `scopes=${scopes[1]}` : ''})[0]` });
  return { title: "Use the environment's credentials: google.auth.default() instead of the key", edits: withImport(text, 'import google.auth', edits) };
}

/** R `Sys.setenv(X = "…")`: the environment provides X; drop the argument (or the call). */
function removeSetenvArgument(text: string, finding: SecretFinding): SecretFix | undefined {
  const call = enclosingCall(text, finding.literal!.start);
  if (!call || !/(?:^|::)Sys\.setenv$/.test(call.callee)) return undefined;
  const name = keywordBefore(text, finding.literal!.start);
  if (!name) return undefined;
  const args = splitArguments(text, call);
  if (args.length === 1 || args.every((a) => /^\s*[\w.]+\s*=\s*["']/.test(text.slice(a.start, a.end)) && /KEY|TOKEN|SECRET|PASSWORD/i.test(text.slice(a.start, a.end).split('=')[0]))) {
    const stmt = { start: lineSpan(text, call.calleeStart).start, end: lineSpan(text, call.close).end };
    return { title: 'Remove Sys.setenv(…) (the environment provides these variables)', edits: [{ ...stmt, newText: '' }] };
  }
  return { title: `Remove ${name} from Sys.setenv(…) (the environment provides it)`, edits: removeKeywordArguments(text, call, [name]) };
}

/** Replaces the secret with `expr`, keeping any text around it in the literal ("Bearer …"). */
function replaceValue(text: string, finding: SecretFinding, expr: string, concat: ' + ' | 'paste0', title: string): SecretFix | undefined {
  const literal = finding.literal!;
  if (!literal.quoted) return { title, edits: [{ start: literal.start, end: literal.end, newText: expr }] };
  if (literal.quote.length === 3 && !isWholeValue(finding)) return undefined;
  const before = text.slice(literal.content.start, finding.range.start);
  const after = text.slice(finding.range.end, literal.content.end);
  const q = (s: string) => `${literal.quote}${s}${literal.quote}`;
  const parts = [before && q(before), expr, after && q(after)].filter(Boolean) as string[];
  const newText = parts.length === 1 ? expr : concat === 'paste0' ? `paste0(${parts.join(', ')})` : parts.join(' + ');
  return { title, edits: [{ start: literal.start, end: literal.end, newText }] };
}

function isWholeValue(f: SecretFinding): boolean {
  if (!f.literal) return false;
  const inner = f.literal.content;
  return f.range.start === inner.start && f.range.end === inner.end;
}

// ---- Secret scope ----

/** The reference that replaces the literal once the value is in `scope`/`key`; undefined where there is none. */
export function secretScopeFix(text: string, language: SecretLanguage, finding: SecretFinding, scope: string, key: string): SecretFix | undefined {
  const literal = finding.literal;
  if (!literal || !SECRET_NAME.test(scope) || !SECRET_NAME.test(key)) return undefined;
  const title = `Moved to secret scope ${scope}, key ${key}`;
  switch (language) {
    case 'python':
      if (literal.prefix.includes('b')) return undefined;
      return replaceValue(text, finding, `dbutils.secrets.get(scope="${scope}", key="${key}")`, ' + ', title);
    case 'scala':
      return replaceValue(text, finding, `dbutils.secrets.get(scope = "${scope}", key = "${key}")`, ' + ', title);
    case 'r':
      return replaceValue(text, finding, `dbutils.secrets.get(scope = "${scope}", key = "${key}")`, 'paste0', title);
    case 'sql':
      if (!isWholeValue(finding)) return undefined;
      return { title, edits: [{ start: literal.start, end: literal.end, newText: `secret('${scope}', '${key}')` }] };
    case 'yaml':
    case 'json':
      // Cluster specs, job settings and bundles resolve {{secrets/scope/key}} when the cluster starts.
      if (finding.kind === 'googleServiceAccountKey' || !isWholeValue(finding)) return undefined;
      return { title, edits: [{ start: literal.start, end: literal.end, newText: `"{{secrets/${scope}/${key}}}"` }] };
    default:
      return undefined;
  }
}

/** Can this finding be moved to a secret scope at all (before asking the user anything)? */
export function canMoveToSecretScope(text: string, language: SecretLanguage, finding: SecretFinding): boolean {
  return secretScopeFix(text, language, finding, 'scope', 'key') !== undefined;
}

/** A key name for the secret scope, from the kind or the assigned name. */
export function suggestedSecretKey(finding: Pick<SecretFinding, 'kind' | 'name'>): string {
  const byKind: Partial<Record<SecretFinding['kind'], string>> = {
    databricksPat: 'databricks-token',
    awsAccessKeyId: 'aws-access-key-id',
    awsSecretAccessKey: 'aws-secret-access-key',
    googleServiceAccountKey: 'google-service-account-key',
    googleAccessToken: 'google-access-token',
  };
  if (byKind[finding.kind]) return byKind[finding.kind]!;
  const fromName = finding.name ? nameParts(finding.name).join('-').slice(0, 128) : '';
  return SECRET_NAME.test(fromName) ? fromName : finding.kind === 'privateKey' ? 'private-key' : 'secret';
}

/** The secret's value as the program sees it: escapes decoded, YAML block indentation removed. */
export function secretValue(text: string, language: SecretLanguage, finding: SecretFinding): string {
  const raw = text.slice(finding.range.start, finding.range.end);
  const literal = finding.literal;
  if (!literal?.quoted) return language === 'yaml' && raw.includes('\n') ? raw.replace(/\n[ \t]+/g, '\n') : raw;
  if (language === 'sql') return raw.replace(/''/g, "'");
  if (literal.quote === "'" && language === 'yaml') return raw.replace(/''/g, "'");
  if (literal.prefix.includes('r')) return raw;
  return raw.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    if (e[0] === 'u' || e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

// ---- Python/R call structure ----

interface Call {
  callee: string;
  calleeStart: number;
  /** Offsets of `(` and `)`. */
  open: number;
  close: number;
}

/** The innermost call whose parentheses hold `at`. */
function enclosingCall(text: string, at: number): Call | undefined {
  const b = enclosingBracket(text, at, '(', ')');
  if (!b) return undefined;
  const m = /([A-Za-z_][\w]*(?:(?:\.|::)[A-Za-z_][\w]*)*)\s*$/.exec(text.slice(Math.max(0, b.open - 200), b.open));
  if (!m) return undefined;
  return { callee: m[1], calleeStart: b.open - m[0].length, open: b.open, close: b.close };
}

function enclosingBracket(text: string, at: number, open: string, close: string): { open: number; close: number } | undefined {
  let depth = 0;
  for (let i = at - 1; i >= 0 && at - i < 20_000; i--) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const j = skipStringBackwards(text, i);
      if (j < 0) return undefined;
      i = j;
      continue;
    }
    if (c === close) depth++;
    else if (c === open) {
      if (depth === 0) {
        const end = matchingClose(text, i, open, close);
        return end > at ? { open: i, close: end } : undefined;
      }
      depth--;
    }
  }
  return undefined;
}

/** From a closing quote at `i`, the offset of its opening quote (triple quotes included), or -1. */
function skipStringBackwards(text: string, i: number): number {
  const q = text[i];
  if (text.slice(i - 2, i + 1) === q.repeat(3)) {
    const open = text.lastIndexOf(q.repeat(3), i - 3);
    return open < 0 ? -1 : open;
  }
  for (let j = i - 1; j >= 0; j--) {
    if (text[j] === '\n') return -1;
    if (text[j] === q && text[j - 1] !== '\\') return j;
  }
  return -1;
}

function matchingClose(text: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'") {
      const triple = text.startsWith(ch.repeat(3), i);
      const q = triple ? ch.repeat(3) : ch;
      let j = i + q.length;
      while (j < text.length && !text.startsWith(q, j)) j += text[j] === '\\' ? 2 : 1;
      i = j + q.length - 1;
      continue;
    }
    if (ch === o) depth++;
    else if (ch === c && --depth === 0) return i;
  }
  return -1;
}

/** Top-level arguments of a call, as spans (commas inside brackets and strings do not split). */
function splitArguments(text: string, call: Call): TextSpan[] {
  const out: TextSpan[] = [];
  let depth = 0;
  let start = call.open + 1;
  for (let i = call.open + 1; i < call.close; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'") {
      const triple = text.startsWith(ch.repeat(3), i);
      const q = triple ? ch.repeat(3) : ch;
      let j = i + q.length;
      while (j < call.close && !text.startsWith(q, j)) j += text[j] === '\\' ? 2 : 1;
      i = j + q.length - 1;
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) {
      out.push({ start, end: i });
      start = i + 1;
    }
  }
  if (text.slice(start, call.close).trim()) out.push({ start, end: call.close });
  return out;
}

/** `name=` right before a literal, if any. */
function keywordBefore(text: string, at: number): string | undefined {
  return /([A-Za-z_][\w.]*)\s*=\s*[rRbBuUfF]{0,2}$/.exec(text.slice(Math.max(0, at - 100), at))?.[1];
}

/** Removes `name=value` arguments with their commas, keeping the layout of what stays. */
function removeKeywordArguments(text: string, call: Call, names: string[]): TextEdit[] {
  const args = splitArguments(text, call);
  const keep = args.filter((a) => !names.includes(/^\s*([\w.]+)\s*=/.exec(text.slice(a.start, a.end))?.[1] ?? ''));
  if (keep.length === args.length) return [];
  const multiline = text.slice(call.open, call.close).includes('\n');
  if (!keep.length) return [{ start: call.open + 1, end: call.close, newText: '' }];
  if (multiline) {
    // One argument per line: drop the removed arguments' lines.
    const edits: TextEdit[] = [];
    for (const a of args) {
      if (keep.includes(a)) continue;
      const first = a.start + (text.slice(a.start, a.end).length - text.slice(a.start, a.end).trimStart().length);
      const line = lineSpan(text, first);
      const commaAfter = text[a.end] === ',' ? a.end + 1 : a.end;
      if (text.slice(line.start, first).trim() === '' && /^[ \t]*\n/.test(text.slice(commaAfter))) edits.push({ start: line.start, end: lineSpan(text, commaAfter).end, newText: '' });
      else edits.push({ start: a.start, end: commaAfter, newText: '' });
    }
    return edits;
  }
  const joined = keep.map((a) => text.slice(a.start, a.end).trim()).join(', ');
  return [{ start: call.open + 1, end: call.close, newText: joined }];
}

function lineSpan(text: string, at: number): TextSpan {
  const start = text.lastIndexOf('\n', at - 1) + 1;
  const nl = text.indexOf('\n', at);
  return { start, end: nl < 0 ? text.length : nl + 1 };
}

/** Adds `statement` (e.g. `import os`) at the top unless the module already imports it. */
function withImport(text: string, statement: string, edits: TextEdit[]): TextEdit[] {
  const module = statement.replace(/^import\s+/, '');
  const already = new RegExp(`^\\s*(?:import\\s+(?:[\\w.]+\\s*,\\s*)*${module.replace('.', '\\.')}\\b|from\\s+${module.replace('.', '\\.')}\\b)`, 'm');
  if (already.test(text)) return edits;
  // After a `# Databricks notebook source` line, a shebang, an encoding line and a module docstring.
  let at = 0;
  const header = /^(?:(?:#!.*|# Databricks notebook source.*|#.*coding[:=].*)\r?\n)*/.exec(text);
  at = header ? header[0].length : 0;
  const doc = /^[ \t]*(?:"""[\s\S]*?"""|'''[\s\S]*?''')[ \t]*\r?\n/.exec(text.slice(at));
  if (doc) at += doc[0].length;
  return [{ start: at, end: at, newText: `${statement}\n` }, ...edits];
}
