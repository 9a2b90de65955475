/**
 * oidc-provider 9 prints "Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release."
 * with console.warn when it is loaded on Node 20 (its lib/index.js checks process.release.lts;
 * there is no setting to turn it off). The sandbox IdP works on Node 20 (DESIGN.md: Node 20 is
 * the target), so that one known line is dropped, once; every other warning passes through.
 * Imported by sandbox/index.ts before the IdP, so it runs before oidc-provider loads.
 */
// eslint-disable-next-line no-control-regex -- the notice is coloured with ANSI codes on a TTY
const KNOWN_NOTICE = /^(\x1b\[[\d;]*m)?oidc-provider WARNING: Unsupported runtime\. Use Node\.js v\d+\.x LTS, or a later LTS release\.(\x1b\[0m)?$/;

/** True for exactly the runtime notice above (plain or coloured). */
export function isOidcProviderRuntimeNotice(args: unknown[]): boolean {
  return args.length === 1 && typeof args[0] === 'string' && KNOWN_NOTICE.test(args[0]);
}

const original = console.warn;
const filtered = (...args: unknown[]): void => {
  if (isOidcProviderRuntimeNotice(args)) {
    if (console.warn === filtered) console.warn = original;
    return;
  }
  original.apply(console, args);
};
console.warn = filtered;
