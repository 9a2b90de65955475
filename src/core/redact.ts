/**
 * Removes anything token-shaped from text before it reaches a log, an error message or a file.
 * Patterns: JWTs, Databricks tokens, Google access tokens, AWS keys and session tokens, bearer
 * headers, and OAuth form/JSON fields that carry secrets.
 */
const PATTERNS: RegExp[] = [
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, // JWT (JWS compact)
  /\bdapi[0-9a-f]{32}(-\d+)?\b/g, // Databricks PAT
  /\bdose[0-9a-f]{32,}\b/g, // Databricks OAuth token
  /\bya29\.[A-Za-z0-9_.-]{10,}/g, // Google OAuth access token
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key id
  // Authorization values are long; 16+ characters keeps English ("basic built-in") out.
  /\b(?:Bearer|bearer|BEARER|Basic|BASIC)\s+[A-Za-z0-9._~+/=-]{16,}/g,
];
const FIELD =
  /(["']?(?:access_token|refresh_token|id_token|subject_token|token|accessToken|SessionToken|SecretAccessKey|WebIdentityToken|client_secret|code_verifier|code|device_code|password)["']?\s*[:=]\s*["']?)([^"'&\s,}]{6,})/gi;

export function redact(text: string): string {
  let out = text;
  for (const p of PATTERNS) out = out.replace(p, (m) => `${m.slice(0, 4)}…[redacted]`);
  out = out.replace(FIELD, (_m, k: string) => `${k}[redacted]`);
  return out;
}

/** Where the first credential-shaped text starts, or -1. */
export function indexOfToken(text: string): number {
  const hits = PATTERNS.map((p) => text.search(new RegExp(p.source, p.flags.replace('g', '')))).filter((i) => i >= 0);
  return hits.length ? Math.min(...hits) : -1;
}

/** True when a string looks like a credential: used by tests and as a last guard on writes. */
export function looksLikeToken(text: string): boolean {
  return indexOfToken(text) >= 0;
}
