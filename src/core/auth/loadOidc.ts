import type * as Oidc from 'openid-client';

let loaded: typeof Oidc | undefined;

/**
 * openid-client, evaluated on first use rather than when the extension loads (esbuild bundles
 * a require inside a function lazily): activation does not pay for it until a sign-in or a
 * restore needs the provider.
 */
export function loadOidc(): typeof Oidc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('openid-client') as typeof Oidc);
}
