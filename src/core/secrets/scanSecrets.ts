import { SECRET_KINDS, secretMessage, type SecretKind } from './SecretKind';
import { lexStrings, literalAt, type StringLiteral } from './lexStrings';
import { databricksNotebookLanguage, type SecretLanguage } from './secretLanguage';
import { characterClasses, isHighEntropySecret, isPatterned, isPlaceholder, shannonEntropy } from './secretValue';
import { lineOf, lineStarts } from '../text/lines';

/** Offsets into the scanned text, end exclusive. */
export interface TextSpan {
  start: number;
  end: number;
}

/** Where the secret sits: a quoted literal (with its quotes) or an unquoted value (YAML, .env). */
export interface SecretLiteral extends TextSpan {
  quoted: boolean;
  /** The literal's content, inside the quotes (equal to start/end when unquoted). */
  content: TextSpan;
  quote: string;
  /** Python string prefix (`f`, `r`, `b`…) or ''. */
  prefix: string;
}

export interface SecretFinding {
  kind: SecretKind;
  /** `mlspanner.secret.<kind>`: stable, for diagnostics and code actions. */
  code: string;
  severity: 'error' | 'warning';
  /** What it is and what to do; never the value. */
  message: string;
  /** The secret itself. */
  range: TextSpan;
  /** The literal that holds it, when there is one (no literal in a comment, for example). */
  literal?: SecretLiteral;
  /** The name it is assigned to (`token`, `"password"`, `DATABRICKS_TOKEN`), when there is one. */
  name?: string;
  /** The other half of an AWS key pair. */
  related?: TextSpan[];
}

/** Comments that mark a line as a known, accepted value (detect-secrets and gitleaks spellings too). */
const ALLOW_MARKER = /mlspanner:\s*allow-secret|pragma:\s*allowlist[ -]secret|gitleaks:allow/i;

/**
 * The git-ignored .env that "Use Environment for This Workspace" writes holds the loopback
 * endpoints' own per-registration values, valid while VS Code runs: not a hard-coded secret.
 */
const GENERATED_ENDPOINT_FILE = /^# ML Spanner Access: local credential endpoints for /;

const DATABRICKS_PAT = /\bdapi[0-9a-f]{32}(?:-\d+)?\b/g;
const GOOGLE_ACCESS_TOKEN = /\bya29\.[0-9A-Za-z_-]{20,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;
const PEM_HEADER = /-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----/g;
const AWS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
// Not inside a longer base64 or base64url run (a JWT signature, an image); `=` may precede it (KEY=…).
const AWS_SECRET = /(?<![A-Za-z0-9/+_-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])/g;
/** An AWS key id and its secret are a pair when this many lines apart at most. */
const AWS_PAIR_LINES = 10;

/**
 * Hard-coded credentials in one file's text. Pure: no I/O, no vscode. `language` decides how
 * strings, comments and assignments look; `.ipynb` JSON goes through scanNotebookJson.
 */
export function scanSecrets(text: string, language: SecretLanguage): SecretFinding[] {
  if (language === 'ipynb') throw new Error('scanSecrets: use scanNotebookJson for .ipynb files');
  if (GENERATED_ENDPOINT_FILE.test(text)) return [];
  const lang = databricksNotebookLanguage(text) ?? language;
  const literals = lexStrings(text, lang);
  const lines = lineStarts(text);
  const found: SecretFinding[] = [];
  const add = (kind: SecretKind, range: TextSpan, extra: Partial<SecretFinding> = {}) => {
    const literal = extra.literal ?? literalOf(text, lang, literals, lines, range);
    const name = extra.name ?? (literal ? assignedName(text, lang, lines, literal) : undefined);
    found.push({
      kind,
      code: SECRET_KINDS[kind].code,
      severity: SECRET_KINDS[kind].severity,
      message: secretMessage(kind, name),
      range,
      ...(literal ? { literal } : {}),
      ...(name ? { name } : {}),
      ...(extra.related ? { related: extra.related } : {}),
    });
  };

  for (const m of text.matchAll(DATABRICKS_PAT)) {
    const body = m[0].slice(4, 36);
    if (isPatterned(body) || shannonEntropy(body) < 3.0) continue; // "dapi1234567890abcdef…" in docs
    add('databricksPat', span(m));
  }
  for (const m of text.matchAll(GOOGLE_ACCESS_TOKEN)) {
    const body = m[0].slice(5);
    if (isPlaceholder(body) || isPatterned(body) || shannonEntropy(body) < 3.5) continue;
    add('googleAccessToken', span(m));
  }
  for (const m of text.matchAll(JWT)) {
    if (isExampleJwt(m[0])) continue;
    add('jwt', span(m));
  }
  for (const m of text.matchAll(PEM_HEADER)) {
    const pem = pemBlock(text, m.index ?? 0, m[0].length);
    if (!pem) continue;
    const before = text.slice(Math.max(0, pem.start - 60), pem.start);
    const kind: SecretKind = /["']?private_key["']?\s*[:=]\s*[rRbBuU]{0,2}(?:"""|'''|["'])?\s*$/.test(before) ? 'googleServiceAccountKey' : 'privateKey';
    add(kind, pem);
  }
  addAwsPairs(text, lines, (kind, range, extra) => {
    if (!found.some((f) => overlaps(f.range, range))) add(kind, range, extra);
  });

  // Passwords inside URLs (`postgresql://user:password@host`) and `Key=value;` connection strings.
  for (const e of embeddedSecrets(text)) {
    if (found.some((f) => overlaps(f.range, e.value))) continue;
    add('highEntropySecret', e.value, { name: e.name });
  }

  // Assignments of high-entropy values to secret-sounding names, where no pattern matched.
  for (const a of assignments(text, lang, literals, lines)) {
    if (!isSecretName(a.name)) continue;
    if (found.some((f) => overlaps(f.range, a.value))) continue;
    const value = text.slice(a.value.start, a.value.end);
    const kind: SecretKind = /aws|secret_?access|secretaccess/i.test(a.name) && /secret/i.test(a.name) && isAwsSecret(value) ? 'awsSecretAccessKey' : 'highEntropySecret';
    if (kind === 'highEntropySecret' && !isHighEntropySecret(value)) continue;
    add(kind, a.value, { literal: a.literal, name: a.name });
  }

  return found
    .filter((f) => !isMarkedFake(f.name) && !allowedByComment(text, lines, f.range))
    .sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
}

function span(m: RegExpMatchArray): TextSpan {
  const start = m.index ?? 0;
  return { start, end: start + m[0].length };
}

function overlaps(a: TextSpan, b: TextSpan): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Where the line holding `offset` starts (a binary search: no scan back through a long line). */
function lineStartAt(starts: readonly number[], offset: number): number {
  return starts[lineOf(starts, offset)];
}

/** Where the line holding `offset` ends (its newline, or the text end). */
function lineEndAt(text: string, starts: readonly number[], offset: number): number {
  const l = lineOf(starts, offset);
  return l + 1 < starts.length ? starts[l + 1] - 1 : text.length;
}

/** The text of the line before the one starting at `lineStart` ('' on the first line). */
function previousLine(text: string, starts: readonly number[], lineStart: number): string {
  const l = lineOf(starts, lineStart);
  return l > 0 ? text.slice(starts[l - 1], lineStart) : '';
}


function allowedByComment(text: string, lines: readonly number[], range: TextSpan): boolean {
  for (const offset of [range.start, range.end]) {
    const l = lineOf(lines, offset);
    const lineText = text.slice(lines[l], l + 1 < lines.length ? lines[l + 1] : text.length);
    if (ALLOW_MARKER.test(lineText)) return true;
  }
  return false;
}

/** Values assigned to names like FAKE_TOKEN or dummy_password are test fixtures, marked as such. */
function isMarkedFake(name: string | undefined): boolean {
  return !!name && nameParts(name).some((p) => ['fake', 'dummy', 'mock', 'example', 'sample', 'placeholder'].includes(p));
}

// ---- Literals and names ----

function literalOf(text: string, lang: SecretLanguage, literals: readonly StringLiteral[], lines: readonly number[], range: TextSpan): SecretLiteral | undefined {
  const l = literalAt(literals, range.start, range.end);
  if (l) return { start: l.start, end: l.end, quoted: true, content: { start: l.contentStart, end: l.contentEnd }, quote: l.quote, prefix: l.prefix };
  if (lang === 'yaml' || lang === 'dotenv') {
    // An unquoted value: the rest of the line after `key:` / `KEY=`, up to a comment.
    const ls = lineStartAt(lines, range.start);
    const line = text.slice(ls, lineEndAt(text, lines, range.start));
    const m = lang === 'yaml' ? /^(\s*(?:-\s+)?[^\s:#][^:#]*?:\s+)(\S.*?)(\s+#.*)?\s*$/.exec(line) : /^(\s*(?:export\s+)?[A-Za-z_][\w.-]*\s*=\s*)(\S.*?)(\s+#.*)?\s*$/.exec(line);
    if (m) {
      const start = ls + m[1].length;
      const end = start + m[2].length;
      if (start <= range.start && range.end <= end) return { start, end, quoted: false, content: { start, end }, quote: '', prefix: '' };
    }
  }
  return undefined;
}

const AUTH_PAIR_BEFORE_LITERAL = /(?:^|[^\w$.])(auth|credentials|basic_auth|http_auth)\s*=\s*[([]\s*(?:"[^"\n]*"|'[^'\n]*')\s*,\s*$/i;
const SQL_KEYWORDS = /^(?:SELECT|WHERE|AND|OR|LIKE|IN|VALUES|THEN|ELSE|WHEN|AS|IS|NOT|SET|ON|BY)$/i;
/** Longest operators first: `<<-` before `<-`, `==` before `=`. */
const OPERATORS = ['<<-', ':=', '<-', '=>', '->', '==', '!=', '=', ':', ','];
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/**
 * `name <op>` at the end of `before`, read backwards (a regex anchored at the end would try
 * every start position: quadratic on long lines). Handles `token = `, `token: str = `,
 * `"token": `, `d["token"] = `, `"password", ` and `token <- `.
 */
function nameAndOperatorBefore(before: string, operators: readonly string[] = OPERATORS): { name: string; op: string; quoted: boolean } | undefined {
  let i = before.length;
  while (i > 0 && isSpace(before[i - 1])) i--;
  const op = operators.find((o) => before.startsWith(o, i - o.length));
  if (op === undefined) return undefined;
  i -= op.length;
  // `>=`, `<=` are comparisons of order, not of equality.
  if (op === '=' && (before[i - 1] === '<' || before[i - 1] === '>')) return undefined;
  while (i > 0 && isSpace(before[i - 1])) i--;
  if (op === '=') {
    // A type annotation: `token: str = …`, `val token: String = …`.
    const ann = /:\s*[A-Za-z_][\w[\]., |]*$/.exec(before.slice(Math.max(0, i - 60), i));
    if (ann) {
      i -= ann[0].length;
      while (i > 0 && isSpace(before[i - 1])) i--;
    }
  }
  if (before[i - 1] === ']') {
    i--;
    while (i > 0 && isSpace(before[i - 1])) i--;
  }
  const q = before[i - 1];
  if (q === '"' || q === "'") {
    const open = before.lastIndexOf(q, i - 2);
    // A prefixed string (f"…", b"…") or a template is a value, not a key.
    if (open < 0 || i - 1 - open > 101 || /[\w$]/.test(before[open - 1] ?? '')) return undefined;
    const name = before.slice(open + 1, i - 1);
    return name && !/[\n{}]/.test(name) ? { name, op, quoted: true } : undefined;
  }
  let j = i;
  while (j > 0 && /[\w$.-]/.test(before[j - 1])) j--;
  const name = before.slice(j, i);
  return /^[A-Za-z_$]/.test(name) ? { name, op, quoted: false } : undefined;
}

/** The name a literal is assigned to, compared with, or paired with, from the text before it. */
function assignedName(text: string, lang: SecretLanguage, lines: readonly number[], literal: { start: number }): string | undefined {
  const lineStart = lineStartAt(lines, literal.start);
  const before = text.slice(Math.max(lineStart, literal.start - 200), literal.start);
  if (lang === 'sql') {
    if (/\bIDENTIFIED\s+BY\s*$/i.test(before.slice(-40))) return 'password';
    // `password 'x'`, `password = 'x'`: the name is the word before.
    const sql = nameAndOperatorBefore(before, ['=']) ?? nameAndOperatorBefore(before + '=', ['=']);
    if (sql && !sql.quoted && !SQL_KEYWORDS.test(sql.name) && /^[A-Za-z_][\w.]*$/.test(sql.name)) return sql.name;
  }
  if (lang === 'yaml' || lang === 'dotenv') {
    const m = lang === 'yaml' ? /^\s*(?:-\s+)?(["']?)([^"':#\s][^"':#]*?)\1\s*:\s*$/.exec(before) : /^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*$/.exec(before);
    if (m) {
      const name = lang === 'yaml' ? m[2] : m[1];
      // Kubernetes-style `- name: DATABRICKS_TOKEN` / `value: …` pairs name the value on the line before.
      if (lang === 'yaml' && name === 'value') {
        const p = /^\s*(?:-\s+)?name:\s*["']?([\w.-]+)["']?\s*$/.exec(previousLine(text, lines, lineStart));
        if (p) return p[1];
      }
      return name;
    }
    return undefined;
  }
  // `auth=("user", "…")`: the second half of a credential pair (requests, httr, JDBC helpers).
  if (/auth|credentials/i.test(before)) {
    const pair = AUTH_PAIR_BEFORE_LITERAL.exec(before.slice(-160));
    if (pair) return pair[1];
  }
  const m = nameAndOperatorBefore(before);
  if (!m) return undefined;
  // `f(token, "…")`: a bare name before a comma is another argument, not this value's name.
  if (m.op === ',' && !m.quoted) return undefined;
  return m.name;
}

interface Assignment {
  name: string;
  value: TextSpan;
  literal: SecretLiteral;
}

/** Every literal (or unquoted YAML / .env value) with a name, value span stripped of a Bearer prefix. */
function* assignments(text: string, lang: SecretLanguage, literals: readonly StringLiteral[], lines: readonly number[]): Generator<Assignment> {
  for (const l of literals) {
    const name = assignedName(text, lang, lines, l);
    if (!name) continue;
    // Templates ("Bearer {}", f"{token}") are filled at run time.
    const content = text.slice(l.contentStart, l.contentEnd);
    if (l.prefix.includes('f') && content.includes('{')) continue;
    if (/\{[A-Za-z_]?[\w.]*\}/.test(content)) continue;
    const value = stripScheme(l.contentStart, content);
    const literal: SecretLiteral = { start: l.start, end: l.end, quoted: true, content: { start: l.contentStart, end: l.contentEnd }, quote: l.quote, prefix: l.prefix };
    yield { name, value, literal };
  }
  if (lang === 'yaml' || lang === 'dotenv') {
    const re = lang === 'yaml' ? /^([ \t]*(?:-[ \t]+)?(["']?)([^"':#\s][^"':#\n]*?)\2[ \t]*:[ \t]+)([^\s"'#|>&*!{[][^\n]*?)(?:[ \t]+#[^\n]*)?[ \t]*$/gm : /^([ \t]*(?:export[ \t]+)?([A-Za-z_][\w.-]*)[ \t]*=[ \t]*)([^\s"'#][^\n]*?)(?:[ \t]+#[^\n]*)?[ \t]*$/gm;
    for (const m of text.matchAll(re)) {
      let name = lang === 'yaml' ? m[3] : m[2];
      const raw = lang === 'yaml' ? m[4] : m[3];
      const start = (m.index ?? 0) + m[1].length;
      if (lang === 'yaml' && name === 'value') {
        const p = /^\s*(?:-\s+)?name:\s*["']?([\w.-]+)["']?\s*$/.exec(previousLine(text, lines, m.index ?? 0));
        if (p) name = p[1];
      }
      const literal: SecretLiteral = { start, end: start + raw.length, quoted: false, content: { start, end: start + raw.length }, quote: '', prefix: '' };
      yield { name, value: stripScheme(start, raw), literal };
    }
  }
}

const URL_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]+:([^\s@/'"]+)@/gi;
const KEY_VALUE = /(?:^|[;?&\s"'])((?:password|pwd|passwd|token|access_token|api_key|apikey|secret|client_secret|sig|accountkey|sharedaccesskey)=)([^;&'"\s]+)/gi;

/** Secrets inside a larger value: a URL's password, a connection string's `Password=…;`, a SAS `sig=`. */
function* embeddedSecrets(text: string): Generator<{ name: string; value: TextSpan }> {
  for (const m of text.matchAll(URL_PASSWORD)) {
    const start = (m.index ?? 0) + m[0].length - 1 - m[1].length;
    if (isPlaceholder(m[1]) || /[{}$%]/.test(m[1]) || !isEmbeddedSecret(m[1])) continue;
    yield { name: 'password', value: { start, end: start + m[1].length } };
  }
  for (const m of text.matchAll(KEY_VALUE)) {
    const start = (m.index ?? 0) + m[0].length - m[2].length;
    if (isPlaceholder(m[2]) || /[{}$%<>]/.test(m[2]) || !isEmbeddedSecret(m[2])) continue;
    yield { name: m[1].slice(0, -1), value: { start, end: start + m[2].length } };
  }
}

/** Embedded values have no name to vouch for them: random-looking ones only. */
function isEmbeddedSecret(v: string): boolean {
  return isHighEntropySecret(v) && !/^\d+$/.test(v);
}

/** `Bearer abc…` → the span of `abc…`. */
function stripScheme(start: number, content: string): TextSpan {
  const m = /^(?:Bearer|Basic|Token|token|bearer)\s+/.exec(content);
  const skip = m ? m[0].length : 0;
  return { start: start + skip, end: start + content.length };
}

/** Name parts: snake, kebab, dotted and camel case, lower-cased. */
export function nameParts(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p.toLowerCase());
}

const SECRET_WORDS = new Set(['token', 'secret', 'password', 'passwd', 'pwd', 'passphrase', 'apikey', 'auth', 'authorization', 'credential', 'credentials', 'pat', 'bearer', 'secretkey', 'accesskey', 'privatekey', 'sas']);
const SECRET_PAIRS = new Set(['api key', 'access key', 'secret key', 'private key', 'account key', 'client secret', 'signing key', 'master key', 'encryption key']);
/** A last part that makes the name about a secret, not the secret: `token_url`, `secret_scope`. */
const NOT_THE_SECRET = new Set([
  'url', 'uri', 'endpoint', 'host', 'type', 'name', 'names', 'path', 'file', 'filename', 'dir', 'scope', 'id', 'ids', 'len', 'length',
  'count', 'size', 'max', 'min', 'header', 'prefix', 'suffix', 'env', 'var', 'field', 'method', 'mode', 'expiry', 'expires', 'expiration',
  'ttl', 'lifetime', 'timeout', 'provider', 'version', 'regex', 'pattern', 'format', 'kind', 'label', 'description', 'hint', 'policy',
  'required', 'enabled', 'source', 'location', 'ref', 'arn', 'key_name', 'user', 'username', 'email', 'region', 'account', 'audience',
  'issuer', 'scopes', 'manager', 'store', 'cache', 'class', 'client', 'service', 'parser', 'handler', 'query', 'param', 'params',
]);
const HASH_WORDS = new Set(['hash', 'sha', 'sha1', 'sha256', 'sha512', 'md5', 'digest', 'checksum', 'fingerprint', 'commit', 'revision', 'etag', 'tokenizer', 'tokens']);

/** Does the name say the value is a credential (`token`, `api_key`, `client_secret`, `Authorization`)? */
export function isSecretName(name: string): boolean {
  const parts = nameParts(name);
  if (!parts.length || parts.some((p) => HASH_WORDS.has(p))) return false;
  if (NOT_THE_SECRET.has(parts[parts.length - 1])) return false;
  if (parts.some((p) => SECRET_WORDS.has(p))) return true;
  for (let i = 0; i + 1 < parts.length; i++) if (SECRET_PAIRS.has(`${parts[i]} ${parts[i + 1]}`)) return true;
  return false;
}

// ---- Kinds with a shape ----

function isAwsSecret(v: string): boolean {
  return /^[A-Za-z0-9/+]{40}$/.test(v) && !/EXAMPLE/.test(v) && characterClasses(v) >= 3 && shannonEntropy(v) >= 4.2 && !isPatterned(v);
}

function addAwsPairs(text: string, lines: readonly number[], add: (kind: SecretKind, range: TextSpan, extra?: Partial<SecretFinding>) => void) {
  const ids = [...text.matchAll(AWS_KEY_ID)].map(span).filter((s) => !/EXAMPLE$/.test(text.slice(s.start, s.end)));
  if (!ids.length) return;
  const secrets = [...text.matchAll(AWS_SECRET)].map(span).filter((s) => isAwsSecret(text.slice(s.start, s.end)));
  const pairedSecrets = new Map<TextSpan, TextSpan[]>();
  for (const id of ids) {
    const idLine = lineOf(lines, id.start);
    const near = secrets.filter((s) => Math.abs(lineOf(lines, s.start) - idLine) <= AWS_PAIR_LINES);
    if (!near.length) continue;
    add('awsAccessKeyId', id, { related: near });
    for (const s of near) pairedSecrets.set(s, [...(pairedSecrets.get(s) ?? []), id]);
  }
  for (const [s, related] of pairedSecrets) add('awsSecretAccessKey', s, { related });
}

/** From a PEM header: the block to its END line, when the body is real key material. */
function pemBlock(text: string, start: number, headerLength: number): TextSpan | undefined {
  let i = start + headerLength;
  const limit = Math.min(text.length, i + 20_000);
  let body = '';
  while (i < limit) {
    if (text.startsWith('-----END', i)) break;
    const c = text[i];
    if (c === '\\') {
      i += 2; // \n, \r escapes inside a string
      continue;
    }
    if (/[A-Za-z0-9+/=]/.test(c)) body += c;
    else if (!/[\s"',+]/.test(c)) break;
    i++;
  }
  if (body.replace(/=+$/, '').length < 64 || shannonEntropy(body) < 4.5) return undefined;
  if (text.startsWith('-----END', i)) {
    const close = text.indexOf('-----', i + 8);
    if (close >= 0 && close - i < 60) return { start, end: close + 5 };
  }
  return { start, end: i };
}

/** Documentation JWTs (jwt.io's "John Doe" token and its kin) are not anyone's credential. */
function isExampleJwt(jwt: string): boolean {
  try {
    const payload = Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8');
    return /"sub"\s*:\s*"1234567890"|"name"\s*:\s*"John Doe"|example\.(?:com|org)/i.test(payload);
  } catch {
    return false;
  }
}
