/**
 * Judging a candidate value: is it random enough to be a credential, or is it a placeholder,
 * an example from the documentation, a hash, a UUID, a path or a word?
 */

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Character classes present: lower, upper, digit, other. */
export function characterClasses(s: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(s)).length;
}

/**
 * True for values that stand in for a secret: `<your-token>`, `${VAR}`, `{{secrets/a/b}}`,
 * `xxx`, `changeme`, `***`, words like "example", "dummy", "fake" and the AWS documentation keys.
 */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  if (!v) return true;
  if (/^<[^<>]*>$/.test(v) || /<[A-Za-z_ -]+>/.test(v)) return true;
  if (/\$\{[^}]*\}|\{\{[^}]*\}\}|%\([A-Za-z_]+\)s|\$\([^)]*\)|%[A-Z_]+%/.test(v)) return true;
  if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(v)) return true;
  if (/^([xX*.#_=-])\1*$/.test(v) || /^(.)\1+$/.test(v)) return true;
  if (/(?:^|[^A-Za-z])(?:x{3,}|X{3,})(?:[^A-Za-z]|$)/.test(v) || /^x{3,}/i.test(v)) return true;
  if (/EXAMPLE/.test(v)) return true;
  return /change[-_ ]?me|replace[-_ ]?(?:me|this|with)|your[-_ ]|placeholder|redacted|dummy|fake|example|sample|not[-_ ]?a[-_ ]?secret|notasecret|insert[-_ ]|todo|tbd|<redacted>/i.test(v);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Hex digests of common lengths: MD5, SHA-1 (and git object names), SHA-256, SHA-512. */
export function isHexDigest(v: string): boolean {
  return /^[0-9a-f]+$/i.test(v) && [32, 40, 64, 128].includes(v.length);
}

/** True for values that are structurally not secrets, whatever their entropy. */
export function isStructuralNonSecret(v: string): boolean {
  if (UUID.test(v)) return true;
  if (/^data:[a-z]+\/[\w.+-]+;base64,/i.test(v)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return true; // URLs
  if (/^(?:\.{0,2}\/|~\/|[A-Za-z]:\\|dbfs:|s3a?:|gs:|abfss?:)/.test(v)) return true; // paths
  if (/\.(?:json|pem|key|p12|pfx|txt|ya?ml|cfg|ini|env|csv|parquet|py|crt)$/i.test(v)) return true; // file names
  if (/^[a-z]+(?:[-_. ][a-z0-9]+)*$/.test(v)) return true; // words, identifiers, modes ("oauth-m2m")
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(v)) return true; // environment variable names
  if (/^[a-z]{2,}(?:[A-Z][a-z]{2,})+$/.test(v)) return true; // camelCase identifiers ("accessToken")
  if (/^\d+(?:\.\d+)*$/.test(v)) return true; // numbers, versions
  if (/\s/.test(v)) return true; // sentences
  if (/^[0-9a-f]+$/i.test(v) && v.length < 16) return true; // short hex: ids, colours
  return isEncodedJson(v);
}

/** Base64 of a JSON object or array: a configuration blob, not key material. */
function isEncodedJson(v: string): boolean {
  if (!/^eyJ|^W[3sy]/.test(v) || !/^[A-Za-z0-9+/_-]+=*$/.test(v)) return false;
  const decoded = Buffer.from(v, v.includes('-') || v.includes('_') ? 'base64url' : 'base64').toString('utf8');
  try {
    JSON.parse(decoded);
    return true;
  } catch {
    return false;
  }
}

/** Sequential runs ("0123456789abcdef") and short periods ("abcdabcd…"): documentation examples. */
export function isPatterned(body: string): boolean {
  const s = body.toLowerCase();
  for (let period = 1; period <= 16 && period < s.length; period++) {
    let same = true;
    for (let i = period; i < s.length && same; i++) same = s[i] === s[i - period];
    if (same) return true;
  }
  const order = '0123456789abcdefghijklmnopqrstuvwxyz';
  let sequential = 0;
  for (let i = 1; i < s.length; i++) if (order.indexOf(s[i]) === order.indexOf(s[i - 1]) + 1) sequential++;
  return sequential / Math.max(1, s.length - 1) > 0.5;
}

/**
 * Is a value assigned to a secret-sounding name random enough to be one? Long values need
 * moderate entropy; short ones (passwords) need a mix of character classes too.
 */
export function isHighEntropySecret(value: string): boolean {
  const v = value.trim();
  if (v.length < 8 || v.length > 4096) return false;
  if (isPlaceholder(v) || isStructuralNonSecret(v) || isPatterned(v)) return false;
  const h = shannonEntropy(v);
  if (v.length >= 16) return h >= 3.0 && characterClasses(v) >= 2;
  return h >= 2.75 && characterClasses(v) >= 3;
}
