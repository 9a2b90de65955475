/**
 * Removes secrets from text and data before they reach a log, an error message or a file.
 *
 * Three layers, strongest first:
 * 1. Exact values the extension currently holds (`registerSecret`), replaced wherever they occur.
 * 2. Secret *shapes* that are unambiguous on their own: JWT/JWE, PEM private keys, Databricks,
 *    Google, AWS, GitHub and Slack token formats, bearer/basic credentials, passwords in URLs,
 *    AWS secret keys in env/ini/XML form. `indexOfToken` / `looksLikeToken` look for these.
 * 3. Values of secret-named fields (`refresh_token=…`, `"client_secret": "…"`, `password: …`),
 *    with a minimum length per field so user text such as `error_code`, `code=abc123` or
 *    "the token expired" survives.
 *
 * `redactDeep` applies the same to every string (and key) of a JSON-like value, so structured
 * records are redacted before they are serialised, never after.
 */

const MARK = '[redacted]';

/* ----------------------------------------------------------------------------------------- */
/* 1. Live secret values                                                                       */
/* ----------------------------------------------------------------------------------------- */

/** Values shorter than this are too likely to occur in ordinary text to be replaced blindly. */
const MIN_SECRET_LENGTH = 8;
/** Bounded: a holder that forgets to forget must not grow memory without end. */
const MAX_SECRETS = 512;
const secrets = new Map<string, number>(); // value -> reference count
/** Counts changes to the registered secrets: the sorted list and remembered redactions belong to one generation. */
let generation = 0;
let sortedSecrets: readonly string[] = [];
let sortedGeneration = 0;
let shortestSecret = Infinity;

/** The list is re-sorted at its next use: a renewal registers and forgets several values. */
function secretsChanged(): void {
  generation++;
}

/**
 * The registered secrets, longest first (a secret that contains another is replaced whole).
 * Searched with `includes`/`indexOf` rather than one alternation pattern: no pattern to compile
 * again after every renewal, and a native substring search per value.
 */
function registeredSecrets(): readonly string[] {
  if (sortedGeneration !== generation) {
    sortedGeneration = generation;
    sortedSecrets = [...secrets.keys()].sort((a, b) => b.length - a.length);
    shortestSecret = sortedSecrets.length ? sortedSecrets[sortedSecrets.length - 1].length : Infinity;
  }
  return sortedSecrets;
}

/** `text` with every registered secret replaced (most keys and short values are too short to hold one). */
function replaceRegistered(text: string): string {
  const list = registeredSecrets();
  if (text.length < shortestSecret) return text;
  let out = text;
  for (const v of list) if (v.length <= out.length && out.includes(v)) out = out.split(v).join(MARK);
  return out;
}

/** Where the first registered secret in `text` starts, or -1. */
function indexOfRegistered(text: string): number {
  const list = registeredSecrets();
  let first = -1;
  if (text.length < shortestSecret) return first;
  for (const v of list) {
    const i = text.indexOf(v);
    if (i >= 0 && (first < 0 || i < first)) first = i;
  }
  return first;
}

/**
 * Remembers a secret the extension holds (an access token, a refresh token, a session key) so
 * that `redact` replaces it wherever it appears, whatever its shape. Reference-counted: each
 * `registerSecret` needs one `forgetSecret`. Values under 8 characters are ignored.
 */
export function registerSecret(value: string | undefined): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  secrets.set(value, (secrets.get(value) ?? 0) + 1);
  if (secrets.size > MAX_SECRETS) secrets.delete(secrets.keys().next().value as string); // oldest
  secretsChanged();
}

/** Forgets a secret registered with `registerSecret` (once per registration). */
export function forgetSecret(value: string | undefined): void {
  if (typeof value !== 'string') return;
  const n = secrets.get(value);
  if (n === undefined) return;
  if (n > 1) secrets.set(value, n - 1);
  else {
    secrets.delete(value);
    secretsChanged();
  }
}

/* ----------------------------------------------------------------------------------------- */
/* 2. Secret shapes                                                                            */
/* ----------------------------------------------------------------------------------------- */

/** True for text that looks generated rather than written: digits, inner capitals or base64 marks. */
function looksRandom(v: string): boolean {
  return /\d/.test(v) || (/[A-Z][^A-Z]*[A-Z]/.test(v) && /[a-z]/.test(v)) || /[+/]/.test(v) || /[A-Za-z0-9]=+$/.test(v);
}

interface ShapeRule {
  re: RegExp;
  /** Returns the replacement, or undefined to keep the match (a look-alike). */
  replace: (match: string, ...groups: string[]) => string | undefined;
}

const keepPrefix = (n: number) => (m: string) => `${m.slice(0, n)}…${MARK}`;

/** Replaces each JWS/JWE inside a run of [A-Za-z0-9_.-], or returns undefined when there is none. */
function redactJwtsInRun(run: string): string | undefined {
  const seg = run.split('.');
  const out: string[] = [];
  let found = false;
  for (let k = 0; k < seg.length; k++) {
    const j = seg[k].indexOf('eyJ');
    const header = j >= 0 && seg[k].length - j >= 11;
    const jwe = header && k + 4 < seg.length && seg[k + 2].length >= 8 && seg[k + 3].length >= 8 && seg[k + 4].length >= 8;
    const jws = header && k + 2 < seg.length && seg[k + 1].length >= 8;
    if (!jwe && !jws) {
      out.push(seg[k]);
      continue;
    }
    found = true;
    out.push(`${seg[k].slice(0, j + 4)}…${MARK}`);
    k += jwe ? 4 : 2; // the parts of this token are gone with it
  }
  return found ? out.join('.') : undefined;
}

const SHAPES: ShapeRule[] = [
  // PEM private keys, whole blocks or cut off (also inside JSON strings with \n escapes, as in a
  // Google service-account key file). The END is looked for within 4 KiB (bounded work per
  // header); a longer block is still covered by the cut-off form, which takes the base64 body.
  {
    re: /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(?:[\s\S]{0,4096}?-----END \1-----|[A-Za-z0-9+/=\s\\]*)/g,
    replace: (m, kind) => {
      const whole = m.endsWith(`END ${kind}-----`);
      if (!whole && !m.slice(`-----BEGIN ${kind}-----`.length).replace(/\\n/g, '').trim()) return undefined; // nothing after the header
      return `-----BEGIN ${kind}-----${MARK}${whole ? `-----END ${kind}-----` : ''}`;
    },
  },
  // JWS/JWT (three parts, the signature may be empty) and JWE (five parts, the key part may be
  // empty), also glued to other token characters ("-eyJ…"). Each maximal run of token
  // characters is matched once and searched in code: linear time on any input.
  { re: /(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{21,}/g, replace: (m) => (m.includes('eyJ') ? redactJwtsInRun(m) : undefined) },
  // Databricks personal access tokens and OAuth tokens.
  { re: /\bdapi[0-9a-f]{32}(?:-\d+)?\b/g, replace: keepPrefix(4) },
  { re: /\bdose[0-9a-f]{32,}\b/g, replace: keepPrefix(4) },
  // Google: OAuth access tokens, refresh tokens, API keys, OAuth client secrets.
  { re: /\bya29\.[A-Za-z0-9_.-]{10,}/g, replace: keepPrefix(4) },
  { re: /(?<![A-Za-z0-9/])1\/\/0[A-Za-z0-9_-]{20,}/g, replace: keepPrefix(3) },
  { re: /\bAIza[0-9A-Za-z_-]{35}\b/g, replace: keepPrefix(4) },
  { re: /\bGOCSPX-[A-Za-z0-9_-]{20,}/g, replace: keepPrefix(6) },
  // AWS access key ids (long-term AKIA, temporary ASIA).
  { re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: keepPrefix(4) },
  // AWS secret keys and session tokens in env, ini, JSON and XML form.
  {
    re: /(?<![A-Za-z0-9_])((?:aws_)?(?:secret_access_key|session_token|security_token)|SecretAccessKey|SessionToken)(["']?\s*[:=]\s*["']?)([A-Za-z0-9/+=]{16,})/gi,
    replace: (_m, k, sep) => `${k}${sep}${MARK}`,
  },
  {
    re: /<(SecretAccessKey|SessionToken|AccessToken|RefreshToken|ClientSecret|Password)>([^<]{8,})<\/\1>/g,
    replace: (_m, tag) => `<${tag}>${MARK}</${tag}>`,
  },
  // GitHub and Slack tokens.
  { re: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b/g, replace: keepPrefix(4) },
  { re: /\bgithub_pat_[A-Za-z0-9_]{22,}/g, replace: keepPrefix(11) },
  { re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, replace: keepPrefix(5) },
  // Authorization header values. Credentials are long; 16+ characters keeps "basic built-in"
  // out, and a Basic value must look like base64 of something, not an English word.
  {
    re: /\b(Bearer|bearer|BEARER)(\s+)([A-Za-z0-9._~+/=-]{16,})/g,
    replace: (_m, scheme, sp) => `${scheme}${sp}${MARK}`,
  },
  {
    re: /\b(Basic|basic|BASIC)(\s+)([A-Za-z0-9+/=]{16,})/g,
    replace: (_m, scheme, sp, v) => (looksRandom(v) ? `${scheme}${sp}${MARK}` : undefined),
  },
  // A password in a URL: scheme://user:password@host.
  {
    re: /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/:@"'<>]+):([^\s/@"'<>]+)@/gi,
    replace: (_m, scheme, user) => `${scheme}${user}:${MARK}@`,
  },
];

/* ----------------------------------------------------------------------------------------- */
/* 3. Secret-named fields                                                                      */
/* ----------------------------------------------------------------------------------------- */

type FieldKind = 'token' | 'secret' | 'password' | 'generic' | 'prose';

/** Minimum value length and whether the value must look generated, per kind of field. */
const FIELD_RULES: Record<FieldKind, { min: number; random: boolean; orLongerThan?: number }> = {
  token: { min: 8, random: false }, // access_token, refresh_token, id_token, device_code, …
  secret: { min: 8, random: false }, // client_secret, secret_access_key, private_key, api_key, …
  password: { min: 3, random: false },
  generic: { min: 16, random: true }, // token, code, sig: common words, so only generated values
  prose: { min: 8, random: true, orLongerThan: 24 }, // "refresh token: …", ENV_TOKEN=…
};

const normKey = (k: string) => k.toLowerCase().replace(/[\s_-]/g, '');

const TOKEN_KEYS = new Set(
  ['access_token', 'refresh_token', 'id_token', 'subject_token', 'actor_token', 'session_token', 'security_token', 'web_identity_token', 'device_code', 'code_verifier', 'x_amz_security_token', 'aws_session_token', 'aws_security_token'].map(normKey),
);
const SECRET_KEYS = new Set(['client_secret', 'secret_access_key', 'aws_secret_access_key', 'private_key', 'api_key', 'secret', 'secret_key'].map(normKey));
const PASSWORD_KEYS = new Set(['password', 'passwd', 'pwd']);

function fieldKind(rawKey: string): FieldKind {
  const k = normKey(rawKey);
  if (PASSWORD_KEYS.has(k)) return 'password';
  if (/\s/.test(rawKey)) return 'prose'; // "refresh token: …" written as words
  if (TOKEN_KEYS.has(k)) return 'token';
  if (SECRET_KEYS.has(k)) return 'secret';
  return 'generic';
}

function fieldValueIsSecret(kind: FieldKind, value: string): boolean {
  const r = FIELD_RULES[kind];
  if (value.length < r.min || value === MARK) return false;
  if (!r.random) return true;
  return looksRandom(value) || (r.orLongerThan !== undefined && value.length > r.orLongerThan);
}

const SEP = '[ _-]?';
const FIELD_KEYS = [
  `(?:aws${SEP})?secret${SEP}access${SEP}key`,
  `(?:aws${SEP}|x-amz-)?(?:session|security)${SEP}token`,
  `web${SEP}identity${SEP}token`,
  `(?:access|refresh|id|subject|actor)${SEP}token`,
  `client${SEP}secret`,
  `private${SEP}key`,
  `api${SEP}key`,
  `secret${SEP}key`,
  `device${SEP}code`,
  `code${SEP}verifier`,
  'passw(?:or)?d',
  'pwd',
  'secret',
  'token',
  'code',
  'sig',
].join('|');

/**
 * key, separator, then a double-quoted value (escapes allowed), a single-quoted one, or a bare
 * one. The key may be quoted, or quoted inside an escaped JSON string (\"key\":\"value\").
 */
const FIELD = new RegExp(
  String.raw`(?<![A-Za-z0-9_.\-])((?:\\?["'])?)(${FIELD_KEYS})((?:\\?["'])?[ \t]*[:=][ \t]*)(?:(\\?")((?:[^"\\\r\n]|\\[^"\r\n])*)(\\?")|'([^'\r\n]*)'|([^\s"'\\&,;}<>()[\]]+))`,
  'gi',
);

/** Upper-case environment names ending in a secret word: DATABRICKS_TOKEN=…, MY_APP_PASSWORD=…. */
const ENV_FIELD = /(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]*_(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|SECRET_KEY|PRIVATE_KEY))([ \t]*=[ \t]*)(["']?)([^\s"'&;]+)\3/g;

function redactFields(text: string): string {
  let out = text.replace(FIELD, (m: string, q: string, key: string, sep: string, dq1?: string, dv?: string, dq2?: string, sv?: string, bare?: string) => {
    const value = dv ?? sv ?? bare ?? '';
    if (!fieldValueIsSecret(fieldKind(key), value)) return m;
    if (dv !== undefined) return `${q}${key}${sep}${dq1}${MARK}${dq2}`;
    if (sv !== undefined) return `${q}${key}${sep}'${MARK}'`;
    return `${q}${key}${sep}${MARK}`;
  });
  out = out.replace(ENV_FIELD, (m: string, key: string, sep: string, quote: string, value: string) =>
    fieldValueIsSecret(/PASSW|PWD/.test(key) ? 'password' : 'prose', value) ? `${key}${sep}${quote}${MARK}${quote}` : m,
  );
  return out;
}

/* ----------------------------------------------------------------------------------------- */
/* Public API                                                                                  */
/* ----------------------------------------------------------------------------------------- */

function applyShapes(text: string): string {
  let out = text;
  for (const rule of SHAPES) {
    rule.re.lastIndex = 0;
    // The callback gets the groups, then the offset and the whole input: pass the groups only.
    out = out.replace(rule.re, (m: string, ...rest: unknown[]) => rule.replace(m, ...(rest.slice(0, -2) as string[])) ?? m);
  }
  return out;
}

/**
 * Every shape and field rule needs one of these fragments; text without any of them (most text)
 * skips the rules. Keep in step with SHAPES, FIELD and ENV_FIELD.
 */
const TRIGGER = /eyJ|dapi|dose|ya29|1\/\/0|AIza|GOCSPX|AKIA|ASIA|secret|token|code|sig|key|passw|pwd|BEGIN|gh[opusr]_|github_pat|xox|bearer|basic|@|<[A-Z]/i;

/** Replaces every secret in `text` (registered values, secret shapes, secret-named fields). */
export function redact(text: string): string {
  if (typeof text !== 'string' || text.length < MIN_SECRET_LENGTH) return text;
  let out = replaceRegistered(text);
  if (!TRIGGER.test(out)) return out;
  out = applyShapes(out);
  return redactFields(out);
}

/** Where the first credential-shaped text (or a registered secret) starts, or -1. */
export function indexOfToken(text: string): number {
  let first = -1;
  const consider = (i: number) => {
    if (i >= 0 && (first < 0 || i < first)) first = i;
  };
  consider(indexOfRegistered(text));
  for (const rule of SHAPES) {
    const re = new RegExp(rule.re.source, rule.re.flags);
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (first >= 0 && m.index >= first) break;
      if (rule.replace(m[0], ...m.slice(1)) !== undefined) {
        consider(m.index);
        break;
      }
    }
  }
  return first;
}

/** True when a string looks like a credential: used by tests and as a last guard on writes. */
export function looksLikeToken(text: string): boolean {
  return indexOfToken(text) >= 0;
}

/** Field names whose string values are secrets whatever they look like. */
const SECRET_FIELD_NAMES = new Set(
  [...TOKEN_KEYS, ...SECRET_KEYS, ...PASSWORD_KEYS, 'token', 'authorization', 'cookie', 'set_cookie', 'accessToken', 'refreshToken', 'idToken'].map(normKey),
);

const MAX_DEPTH = 32;

/** Object keys repeat (every entry has the same few): remember how each one redacts. */
const memo = new Map<string, string>();
let memoGeneration = 0;

/**
 * `redact`, remembered for a text seen again while the registered secrets stay the same: views
 * rebuilt on a timer redact the same tooltips every few seconds. Bounded; forgotten whenever a
 * secret is registered or forgotten.
 */
export function redactMemo(text: string): string {
  if (memoGeneration !== generation) {
    memo.clear();
    memoGeneration = generation;
  }
  let r = memo.get(text);
  if (r === undefined) {
    r = redact(text);
    if (memo.size >= 5_000) memo.clear(); // tooltips of about 1,600 environments × 3
    memo.set(text, r);
  }
  return r;
}

const keyCache = new Map<string, string>();
function redactKey(k: string): string {
  // A key holding a registered secret is redacted afresh; any other key redacts the same
  // whatever is registered, so its answer is cached (entries repeat the same few keys).
  if (indexOfRegistered(k) >= 0) return redact(k);
  let r = keyCache.get(k);
  if (r === undefined) {
    r = redact(k);
    if (keyCache.size >= 1_000) keyCache.clear();
    keyCache.set(k, r);
  }
  return r;
}

/**
 * A redacted copy of a JSON-like value: every string (and object key) goes through `redact`,
 * and string values of secret-named fields (`refreshToken`, `client_secret`, `password`, …)
 * are replaced whole. Cycles become "[circular]", nesting deeper than 32 levels "[too deep]".
 * Values with `toJSON` (such as Date) are converted first, as JSON.stringify would.
 */
export function redactDeep<T>(value: T): T {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redact(v);
    if (v === null || typeof v !== 'object') return v;
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return walk((v as { toJSON: () => unknown }).toJSON(), depth);
    if (seen.has(v)) return '[circular]';
    if (depth >= MAX_DEPTH) return '[too deep]';
    seen.add(v);
    let out: unknown;
    if (Array.isArray(v)) out = v.map((x) => walk(x, depth + 1));
    else {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const copy = typeof x === 'string' && x.length > 0 && SECRET_FIELD_NAMES.has(normKey(k)) ? MARK : walk(x, depth + 1);
        // defineProperty: a key named "__proto__" stays data and never becomes a prototype.
        Object.defineProperty(o, redactKey(k), { value: copy, enumerable: true, writable: true, configurable: true });
      }
      out = o;
    }
    seen.delete(v); // a value shared by two branches is not a cycle
    return out;
  };
  return walk(value, 0) as T;
}
