import { isIP } from 'node:net';

/**
 * Loopback hosts (RFC 8252 §8.3; RFC 6761 §6.3 for `localhost`): the only hosts a token may
 * reach over plain http, because the traffic never leaves the machine.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.split('.')[0] === '127';
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export interface EndpointCheck {
  /** Only scheme://host[:port] is allowed (a Databricks workspace host). */
  originOnly?: boolean;
}

/**
 * Validates a URL that decides where a token is sent. Returns the normalised URL (no trailing
 * slash) or the reason it is refused, worded to follow "<setting path>: ".
 */
export function checkEndpointUrl(value: unknown, check: EndpointCheck = {}): { url: string } | { error: string } {
  const expected = check.originOnly ? 'an https:// origin such as https://example.cloud.databricks.com' : 'an https:// URL';
  if (typeof value !== 'string' || value.trim() === '') return { error: `must be ${expected} (http:// only for loopback hosts)` };
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return { error: `must be ${expected} (http:// only for loopback hosts); "${value}" is not a URL` };
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname)))
    return { error: `must be ${expected} (http:// only for loopback hosts)` };
  // Credentials in a URL end up in logs and proxies (RFC 3986 §3.2.1 deprecates them).
  if (u.username || u.password) return { error: 'must not contain credentials (user:password@)' };
  if (u.search || u.hash || value.includes('?') || value.includes('#')) return { error: 'must not have a query or fragment' };
  if (check.originOnly) {
    if (u.pathname !== '/' && u.pathname !== '') return { error: `must be the workspace origin only (${u.origin}), without a path` };
    return { url: u.origin };
  }
  return { url: u.href.replace(/\/+$/, '') };
}
