/** Reading identity claims the way different providers spell them. */

/** Follows a dot path (`realm_access.roles` in Keycloak) when no claim has the literal name. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (name in claims) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Groups from the configured claim: an array of strings (Okta, Keycloak, Entra ID object ids or
 * names), or one string with space- or comma-separated values (some SAML-bridged IdPs).
 */
export function extractGroups(claims: Readonly<Record<string, unknown>>, claimName: string): string[] {
  const v = claimAt(claims, claimName);
  const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  return [...new Set(list.map((g) => g.trim()).filter(Boolean))];
}

export function displayName(claims: Readonly<Record<string, unknown>>): string {
  for (const k of ['name', 'preferred_username', 'email', 'upn', 'sub']) {
    const v = claims[k];
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  const given = [claims.given_name, claims.family_name].filter((x) => typeof x === 'string').join(' ');
  return given || 'Unknown user';
}

export function emailOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const k of ['email', 'upn', 'preferred_username']) {
    const v = claims[k];
    if (typeof v === 'string' && v.includes('@')) return v;
  }
  return undefined;
}

/** exp (seconds) of a JWT without verifying it: only to know when our own copy goes stale. */
export function jwtExpiry(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
