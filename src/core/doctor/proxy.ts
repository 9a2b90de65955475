// Which way each request of the extension goes: through a proxy or direct. The extension makes
// its requests with Node's http/https and fetch inside VS Code's extension host, which routes them
// by VS Code's proxy rules (`http.proxySupport`, `http.proxy`, `http.noProxy`, then the
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables). These rules mirror VS Code 1.100's
// resolver (@vscode/proxy-agent `useProxySettings`), so the doctor can say what will happen:
// - localhost, 127.0.0.1 and ::1 always go direct;
// - `http.noProxy` entries, when there are any, replace NO_PROXY; an entry matches the host or a
//   subdomain (`example.com`, `.example.com`), optionally with `:port`; `*` matches everything;
// - `http.proxy` wins over the environment; HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy are
//   read in that order of preference (as VS Code reads them, for every scheme);
// - `http.proxySupport: off` turns all of it off.
import { redact } from '../redact';

export interface ProxyInputs {
  /** `http.proxy`. */
  httpProxy?: string;
  /** `http.proxySupport`: off, on, fallback, override (default override). */
  proxySupport?: string;
  /** `http.noProxy`. */
  noProxy?: readonly string[];
  /** The extension host's environment. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface ProxyRoute {
  /** The proxy URL with any password hidden, or undefined for direct. */
  proxy?: string;
  /** Why: which setting or variable, or why direct. */
  because: string;
}

/** A proxy URL fit to show: a password in it (`http://user:pass@host:port`) is redacted. */
export function displayProxyUrl(url: string): string {
  const trimmed = url.trim();
  try {
    const u = new URL(trimmed);
    if (u.password) u.password = '***';
    return redact(u.toString().replace(/\/$/, ''));
  } catch {
    return redact(trimmed.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@'));
  }
}

function envValue(env: ProxyInputs['env'], ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (typeof value === 'string' && value.trim()) return { name, value: value.trim() };
  }
  return undefined;
}

function bypassMatcher(entries: readonly string[]): (host: string, port: string) => boolean {
  const list = entries.map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (list.includes('*')) return () => true;
  const filters = list.map((e) => {
    const [name, port] = e.split(':', 2);
    return { domain: name.startsWith('.') ? name : `.${name}`, port };
  });
  return (host, port) => filters.some((f) => `.${host.toLowerCase()}`.endsWith(f.domain) && (!f.port || f.port === port));
}

const LOCALHOST = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '::ffff:127.0.0.1']);

/** The way one request to `url` goes. */
export function routeFor(url: string, inputs: ProxyInputs): ProxyRoute {
  if ((inputs.proxySupport ?? 'override') === 'off') return { because: 'http.proxySupport is off' };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { because: 'not a URL' };
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (LOCALHOST.has(host) || LOCALHOST.has(u.hostname)) return { because: `${u.hostname} always goes direct` };
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const configNoProxy = (inputs.noProxy ?? []).filter((e) => typeof e === 'string' && e.trim());
  if (configNoProxy.length) {
    if (bypassMatcher(configNoProxy)(host, port)) return { because: 'http.noProxy' };
  } else {
    const envNo = envValue(inputs.env, 'no_proxy', 'NO_PROXY');
    if (envNo && bypassMatcher(envNo.value.split(','))(host, port)) return { because: envNo.name };
  }
  return configuredProxy(inputs);
}

/** The proxy VS Code uses for hosts that are not exempt, and where it was configured. */
export function configuredProxy(inputs: ProxyInputs): ProxyRoute {
  if ((inputs.proxySupport ?? 'override') === 'off') return { because: 'http.proxySupport is off' };
  const setting = inputs.httpProxy?.trim();
  if (setting && setting.includes('://')) return { proxy: displayProxyUrl(setting), because: 'http.proxy' };
  const env = envValue(inputs.env, 'https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY');
  if (env && env.value.includes('://')) return { proxy: displayProxyUrl(env.value), because: env.name };
  return { because: 'no proxy is configured' };
}

export interface ProxyReport {
  status: 'ok' | 'warn';
  message: string;
  action?: string;
}

/**
 * One doctor line: the proxy in use (named, password hidden), where it was configured, and which
 * of the extension's hosts go through it and which go direct.
 */
export function describeProxy(inputs: ProxyInputs, hosts: ReadonlyArray<{ label: string; url: string }>): ProxyReport {
  const seen = new Map<string, { label: string; url: string }>();
  for (const h of hosts) {
    try {
      const origin = new URL(h.url).origin;
      if (!seen.has(origin)) seen.set(origin, { label: h.label, url: h.url });
    } catch {
      // An invalid URL is reported by the settings checks.
    }
  }
  const routes = [...seen.entries()].map(([origin, h]) => ({ origin, label: h.label, route: routeFor(h.url, inputs) }));
  const proxied = routes.filter((r) => r.route.proxy);
  const direct = routes.filter((r) => !r.route.proxy);
  const configured = configuredProxy(inputs);
  if (!configured.proxy) return { status: 'ok', message: `No proxy (${configured.because}): requests go direct.` };
  const parts = [`Proxy ${configured.proxy} (from ${configured.because}).`];
  if (proxied.length) parts.push(`Through it: ${proxied.map((r) => `${r.label} ${r.origin}`).join(', ')}.`);
  if (direct.length) parts.push(`Direct: ${direct.map((r) => `${r.label} ${r.origin} (${r.route.because})`).join(', ')}.`);
  return {
    status: 'ok',
    message: parts.join(' '),
    action: proxied.length ? 'If requests through the proxy fail, check http.proxy, http.noProxy or NO_PROXY, and NODE_EXTRA_CA_CERTS for a TLS-inspecting proxy.' : undefined,
  };
}
