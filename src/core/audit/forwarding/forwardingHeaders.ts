/** The secret-store key of the forwarding headers (a JSON object, name → value). */
export const FORWARDING_HEADERS_SECRET = 'mlspanner.audit.forwardingHeaders';

/** RFC 9110 §5.6.2 token: what a field name may be made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the transport itself (or by the HTTP stack): a value from the user would break the request. */
const RESERVED = new Set(['host', 'content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'expect', 'upgrade']);

/**
 * Parses `Name: value` pairs, separated by `;` or new lines, as typed into the input box, e.g.
 * `Authorization: Api-Token abc123; X-Scope-OrgID: ml`. Empty input means no headers. Errors
 * name the pair by position and never quote a value: it is usually a secret.
 */
export function parseForwardingHeaders(input: string): { headers: Record<string, string> } | { error: string } {
  const headers: Record<string, string> = {};
  const seen = new Set<string>();
  const pairs = input
    .split(/[;\r\n]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  for (const [i, pair] of pairs.entries()) {
    const n = i + 1;
    const colon = pair.indexOf(':');
    if (colon <= 0) return { error: `Pair ${n} is not "Name: value" (a header name, a colon, then its value).` };
    const name = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    // Not quoted either: a mistyped pair may have the secret on the left of the colon.
    if (!TOKEN.test(name)) return { error: `Pair ${n} does not start with a valid header name (letters, digits and - _ . only, no spaces).` };
    if (RESERVED.has(name.toLowerCase())) return { error: `Pair ${n}: ${name} is set by the extension itself; leave it out.` };
    if (!value) return { error: `Pair ${n}: ${name} has no value.` };
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return { error: `Pair ${n}: the value of ${name} contains control characters.` };
    if (seen.has(name.toLowerCase())) return { error: `Pair ${n}: ${name} is given twice.` };
    seen.add(name.toLowerCase());
    headers[name] = value;
  }
  return { headers };
}

/** The headers as stored in the secret store; anything unreadable counts as none. */
export function headersFromSecret(stored: string | undefined): Record<string, string> {
  if (!stored) return {};
  try {
    const o = JSON.parse(stored) as unknown;
    if (!o || typeof o !== 'object' || Array.isArray(o)) return {};
    return Object.fromEntries(Object.entries(o as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && TOKEN.test(e[0])));
  } catch {
    return {};
  }
}
