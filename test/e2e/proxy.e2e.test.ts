// Acceptance: behind a corporate proxy configured the way VS Code users configure one
// (`http.proxy`, `http.noProxy`), every request of the extension (the identity provider, the
// Databricks workspaces, Google STS and IAM Credentials, AWS STS) goes through a real forwarding
// proxy (Debian's tinyproxy), a host listed in `http.noProxy` goes direct, and the doctor names
// the proxy. VS Code sends localhost and 127.0.0.1 direct whatever the settings say, so every
// sandbox service here listens on another loopback address.
import * as assert from 'node:assert/strict';
import { startTinyproxy, type ForwardProxy, type ProxiedRequest } from './forwardProxy';
import { type SandboxedVsCode, type VsCodeSession, escapeRegExp, recordFailure, stepsInOrder, webviewText, signInFromSidebar, startWithSandbox, waitFor } from './harness';


describe('behind a corporate proxy (packaged extension in VS Code 1.100, tinyproxy)', function () {
  stepsInOrder(this);
  let proxy: ForwardProxy | undefined;
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    proxy = await startTinyproxy('127.0.0.5');
    env = await startWithSandbox({
      sandbox: { servicesHost: '127.0.0.3' },
      // Staging's workspace is exempt (host:port, as NO_PROXY entries are written): it goes direct.
      settings: (sb) => ({ 'http.proxy': proxy!.url, 'http.proxySupport': 'override', 'http.noProxy': [new URL(sb.databricks.staging).host] }),
    });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-proxy');
  });
  after(async function () {
    await env?.close();
    await proxy?.close();
  });

  const hostOf = (u: string) => new URL(u).host;
  const describe_ = (r: ProxiedRequest) => `${r.method} ${r.host}${r.path ?? ''}`;

  it('sign-in and every credential exchange go through the proxy', async function () {
    await signInFromSidebar(vs, 'alice');
    // The view issues dev and staging credentials on its own: Databricks, Google, AWS each
    // (staging's Google token by impersonating a service account through IAM Credentials).
    await vs.expandTreeItem('Environments', /^dev$/);
    await vs.expandTreeItem('Environments', /^staging$/);
    await waitFor('dev and staging credentials with a countdown', async () => (await vs.treeRows('Environments')).filter((r) => r.level === 2 && /\d+:\d\d|\d+ min/.test(r.description)).length >= 6 || undefined, 60_000);
    const sb = env!.sandbox;
    // The identity provider is reached by fetch, whose proxy agent tunnels (CONNECT) even plain
    // HTTP; the cloud clients send plain-HTTP requests through the proxy, so their paths show.
    const want: Record<string, (r: ProxiedRequest) => boolean> = {
      'identity provider': (r) => r.host === hostOf(sb.issuer),
      'dev Databricks workspace': (r) => r.host === hostOf(sb.databricks.dev),
      'Google STS': (r) => r.host === hostOf(sb.google.stsUrl) && (r.path === undefined || /token/.test(r.path)),
      'Google IAM Credentials': (r) => r.host === hostOf(sb.google.iamCredentialsUrl) && (r.path === undefined || /generateAccessToken/.test(r.path)),
      'AWS STS': (r) => r.host === hostOf(sb.aws.stsUrl),
    };
    const seen = await waitFor(
      'requests to every service in the proxy log',
      async () => {
        const reqs = proxy!.requests();
        return Object.values(want).every((f) => reqs.some(f)) ? reqs : undefined;
      },
      30_000,
    ).catch(() => undefined);
    const reqs = proxy!.requests();
    for (const [what, f] of Object.entries(want)) assert.ok(reqs.some(f), `${what} not reached through the proxy; proxied:\n${reqs.map(describe_).join('\n')}`);
    assert.ok(seen);
    // Nothing token-shaped in the request lines the proxy saw (tokens travel in headers and bodies only).
    assert.ok(!reqs.some((r) => /eyJ[\w-]{10,}\.|dapi[0-9a-f]{16}|ya29\./.test(r.path ?? '')), reqs.map(describe_).join('\n'));
    await vs.screenshot('60-behind-proxy');
  });

  it('a host in http.noProxy goes direct, and the doctor names the proxy and the direct host', async function () {
    const staging = new URL(env!.sandbox.databricks.staging);
    // Staging's credentials were issued above: its workspace was reached, but not through the proxy.
    assert.ok(!proxy!.requests().some((r) => r.host === staging.host), `staging's workspace went through the proxy despite http.noProxy`);
    await vs.runCommand('ML Spanner: Doctor: Check Sign-In and Environments');
    const report = await waitFor('the doctor report', async () => webviewText(vs.page, 'Network'), 60_000);
    assert.ok(report.includes(`Proxy ${proxy!.url} (from http.proxy).`), report);
    assert.match(report, new RegExp(`Through it: [^\\n]*identity provider ${escapeRegExp(new URL(env!.sandbox.issuer).origin)}`), report);
    assert.match(report, new RegExp(`Direct: [^\\n]*${escapeRegExp(staging.origin)} \\(http\\.noProxy\\)`), report);
    // Every host the environments send tokens to is listed with its trust state (named in the
    // user's own settings here, so trusted without a question).
    assert.match(report, new RegExp(`${escapeRegExp(staging.origin)}: [^\\n]*for [^\\n]*staging/databricks`), report);
    await vs.screenshot('61-doctor-names-proxy');
  });
});
