/**
 * A scripted browser for integration tests: follows redirects with fetch, keeps cookies and
 * submits the sandbox IdP's login and device pages like a user would. It only stops on an
 * explicit outcome (a redirect leaving the IdP, a success page) or throws with what it saw.
 */

const MAX_STEPS = 20;

class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(url: URL, res: Response): void {
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const key = `${url.host}|${pair.slice(0, eq).trim()}`;
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [k, v = ''] = a.trim().split('=');
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, value);
    }
  }

  header(url: URL): string {
    const prefix = `${url.host}|`;
    return [...this.cookies]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => `${k.slice(prefix.length)}=${v}`)
      .join('; ');
  }
}

interface Page {
  url: URL;
  status: number;
  html: string;
}

type Step = { kind: 'left'; location: URL } | { kind: 'page'; page: Page };

interface HtmlForm {
  id?: string;
  action: URL;
  method: string;
  fields: Array<[string, string]>;
  names: Set<string>;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[3] ?? m[4] ?? m[5] ?? '');
  }
  return out;
}

/** Forms with their inputs, including inputs attached from outside via the `form` attribute. */
export function parseForms(html: string, base: URL): HtmlForm[] {
  const forms: Array<HtmlForm & { start: number; end: number }> = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attributes(m[1]);
    const start = m.index ?? 0;
    forms.push({ id: a.id, action: new URL(a.action ?? base.href, base), method: (a.method ?? 'get').toLowerCase(), fields: [], names: new Set(), start, end: start + m[0].length });
  }
  for (const m of html.matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributes(m[1]);
    if (!a.name) continue;
    const at = m.index ?? 0;
    const form = a.form ? forms.find((f) => f.id === a.form) : forms.find((f) => f.start <= at && at < f.end);
    if (!form) continue;
    form.names.add(a.name);
    if ((a.type ?? 'text').toLowerCase() === 'hidden' || a.value !== undefined) form.fields.push([a.name, a.value ?? '']);
  }
  return forms;
}

function pageSummary(page: Page): string {
  const alert = /role="alert">([\s\S]*?)<\/p>/.exec(page.html)?.[1]?.replace(/<[^>]+>/g, '');
  const title = /<title>([^<]*)<\/title>/.exec(page.html)?.[1];
  return `HTTP ${page.status} at ${page.url.pathname}${title ? ` "${decodeEntities(title)}"` : ''}${alert ? `: ${decodeEntities(alert)}` : ''}`;
}

class ScriptedBrowser {
  private readonly jar = new CookieJar();

  constructor(private readonly origin: string) {}

  /** Requests and follows redirects while they stay on the IdP origin. */
  async go(url: URL, init: { method?: string; form?: URLSearchParams } = {}): Promise<Step> {
    let current = url;
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form?.toString();
    for (let i = 0; i < MAX_STEPS; i++) {
      if (current.origin !== this.origin) return { kind: 'left', location: current };
      const headers: Record<string, string> = { accept: 'text/html' };
      const cookie = this.jar.header(current);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(current, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      this.jar.store(current, res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current);
        // 303 (and 301/302 after POST, as browsers do) continue as GET.
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return { kind: 'page', page: { url: current, status: res.status, html: await res.text() } };
    }
    throw new Error(`more than ${MAX_STEPS} redirects starting at ${url.pathname}`);
  }

  async submit(form: HtmlForm, values: Record<string, string>): Promise<Step> {
    const data = new URLSearchParams(form.fields);
    for (const [k, v] of Object.entries(values)) data.set(k, v);
    if (form.method === 'post') return this.go(form.action, { method: 'POST', form: data });
    const target = new URL(form.action);
    for (const [k, v] of data) target.searchParams.set(k, v);
    return this.go(target);
  }
}

function loginForm(page: Page): HtmlForm | undefined {
  return parseForms(page.html, page.url).find((f) => f.names.has('username') && f.names.has('password'));
}

/**
 * Opens the authorization URL, signs in with the login form and returns the redirect to the
 * client's loopback callback (with `code`, `state` and RFC 9207 `iss`). Throws on a wrong
 * password or an IdP error page, with the message the page shows.
 */
export async function loginThroughIdp(authorizationUrl: string, username: string, password: string): Promise<string> {
  const start = new URL(authorizationUrl);
  const browser = new ScriptedBrowser(start.origin);
  let step = await browser.go(start);
  let signedIn = false;
  for (let i = 0; i < MAX_STEPS; i++) {
    if (step.kind === 'left') return step.location.href;
    const form = loginForm(step.page);
    if (!form || signedIn) throw new Error(`sign-in did not reach the callback: ${pageSummary(step.page)}`);
    step = await browser.submit(form, { username, password });
    if (step.kind === 'page' && loginForm(step.page)) throw new Error(`sign-in rejected: ${pageSummary(step.page)}`);
    signedIn = true;
  }
  throw new Error('sign-in did not finish');
}

/**
 * RFC 8628 §3.3 as a user: opens `verification_uri_complete`, confirms the code, signs in and
 * returns when the IdP shows its success page.
 */
export async function completeDeviceLogin(verificationUriComplete: string, username: string, password: string): Promise<void> {
  const start = new URL(verificationUriComplete);
  const browser = new ScriptedBrowser(start.origin);
  let step = await browser.go(start);
  let signedIn = false;
  const submitted = new Set<string>();
  for (let i = 0; i < MAX_STEPS; i++) {
    if (step.kind === 'left') throw new Error(`device sign-in left the IdP for ${step.location.origin}`);
    const page = step.page;
    const login = loginForm(page);
    if (login) {
      if (signedIn) throw new Error(`sign-in rejected: ${pageSummary(page)}`);
      signedIn = true;
      step = await browser.submit(login, { username, password });
      continue;
    }
    // The code entry form, then the confirmation form; each carries the CSRF token.
    const deviceForm = parseForms(page.html, page.url).find((f) => f.names.has('user_code') && f.fields.some(([k]) => k === 'xsrf'));
    if (deviceForm && page.status === 200) {
      const which = deviceForm.names.has('confirm') ? 'confirm' : 'input';
      if (submitted.has(which)) throw new Error(`device sign-in failed: ${pageSummary(page)}`);
      submitted.add(which);
      step = await browser.submit(deviceForm, {});
      continue;
    }
    if (page.status === 200 && signedIn && !/role="alert"/.test(page.html)) return;
    throw new Error(`device sign-in failed: ${pageSummary(page)}`);
  }
  throw new Error('device sign-in did not finish');
}
