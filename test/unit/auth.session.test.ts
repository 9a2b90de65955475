import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import * as oidc from 'openid-client';
import { SessionManager, refreshLeadMs, retryBackoffMs, type IdpSettings, type SignInUi } from '../../src/core/auth/SessionManager';
import { describeOidcError, type OidcApi, type TokenSet } from '../../src/core/auth/OidcClient';
import { LoopbackServer } from '../../src/core/auth/LoopbackServer';
import { UserFacingError, CancelledError } from '../../src/core/errors';
import { TestSecretStorage } from './fakes/TestSecretStorage';
import { RecordingSink } from './fakes/RecordingSink';

const settings: IdpSettings = { issuer: 'https://idp.example.com', clientId: 'cid', scopes: ['openid', 'offline_access'], groupsClaim: 'groups', flow: 'auto' };

/** A scripted IdP: each refresh returns the next token set or throws the next error. */
class FakeOidc implements OidcApi {
  deviceFlowSupported = true;
  revocationSupported = true;
  revoked: string[] = [];
  refreshes = 0;
  refreshResults: Array<TokenSet | Error> = [];
  constructor(private readonly clock: { now: number }) {}
  tokens(n: number, lifetimeMs = 3_600_000, rt = `rt-${n}`): TokenSet {
    return {
      accessToken: `at-${n}`,
      accessTokenExpiresAt: this.clock.now + lifetimeMs,
      idToken: undefined,
      refreshToken: rt,
      scopes: ['openid', 'offline_access'],
      claims: { sub: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['ml-dev'] },
    };
  }
  async checkClientKnown() {}
  authorizationUrl(p: { redirectUri: string; state: string }) {
    const u = new URL('https://idp.example.com/auth');
    u.searchParams.set('redirect_uri', p.redirectUri);
    u.searchParams.set('state', p.state);
    return u;
  }
  async exchangeCode(callback: URL) {
    assert.equal(callback.searchParams.get('code'), 'the-code');
    return this.tokens(0);
  }
  async startDeviceAuthorization() {
    return { info: { userCode: 'ABCD-EFGH', verificationUri: 'https://idp.example.com/device', expiresAt: this.clock.now + 600_000 }, handle: {} as oidc.DeviceAuthorizationResponse };
  }
  async pollDevice() {
    return this.tokens(0);
  }
  async refresh() {
    this.refreshes++;
    const next = this.refreshResults.shift() ?? this.tokens(this.refreshes);
    if (next instanceof Error) throw next;
    return next;
  }
  async revoke(t: string) {
    this.revoked.push(t);
  }
}

/** A browser that follows the authorization URL straight to the loopback callback. */
function browser(state?: string): SignInUi {
  return {
    openBrowser: async (url) => {
      const u = new URL(url);
      const cb = new URL(u.searchParams.get('redirect_uri')!);
      cb.searchParams.set('code', 'the-code');
      cb.searchParams.set('state', state ?? u.searchParams.get('state')!);
      await fetch(cb);
      return true;
    },
    showDeviceCode: () => undefined,
  };
}

function setup(flowCtx: { uiKind: 'desktop' | 'web'; remoteName?: string; browserOnThisMachine: boolean } = { uiKind: 'desktop', browserOnThisMachine: false }) {
  const clock = { now: 1_000_000 };
  const fake = new FakeOidc(clock);
  const secrets = new TestSecretStorage();
  const sink = new RecordingSink();
  const mgr = new SessionManager({
    settings: () => settings,
    secrets,
    sink,
    flowContext: async () => flowCtx,
    discover: async () => fake,
    now: () => clock.now,
  });
  return { clock, fake, secrets, sink, mgr };
}

describe('SessionManager', () => {
  it('signs in through the loopback redirect and keeps the refresh token only in the secret store', async () => {
    const { mgr, secrets, sink } = setup();
    const s = await mgr.signIn(browser());
    assert.equal(s.name, 'Alice Example');
    assert.deepEqual(s.groups, ['ml-dev']);
    assert.equal(mgr.state.kind, 'signedIn');
    const stored = JSON.parse([...secrets.data.values()][0]);
    assert.equal(stored.refreshToken, 'rt-0');
    assert.deepEqual(sink.types(), ['signIn']);
    assert.ok(!JSON.stringify(sink.events).includes('at-0') && !JSON.stringify(sink.events).includes('rt-0'), 'no token in the access log');
    mgr.dispose();
  });

  it('uses the device code flow in a remote window', async () => {
    const { mgr } = setup({ uiKind: 'desktop', remoteName: 'ssh-remote', browserOnThisMachine: false });
    let shown = '';
    await mgr.signIn({ openBrowser: async () => assert.fail('no browser redirect expected'), showDeviceCode: (i) => (shown = i.userCode) });
    assert.equal(shown, 'ABCD-EFGH');
    mgr.dispose();
  });

  it('cancels sign-in without losing an existing session', async () => {
    const { mgr } = setup();
    await mgr.signIn(browser());
    const abort = new AbortController();
    const p = mgr.signIn({ openBrowser: async () => (abort.abort(), true), showDeviceCode: () => undefined, signal: abort.signal });
    await assert.rejects(p, (e) => e instanceof CancelledError);
    assert.equal(mgr.state.kind, 'signedIn');
    mgr.dispose();
  });

  it('ignores a callback with the wrong state (CSRF) and times out', async () => {
    const clock = { now: 0 };
    const fake = new FakeOidc(clock);
    const mgr = new SessionManager({ settings: () => settings, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }), discover: async () => fake, signInTimeoutMs: 300 });
    await assert.rejects(mgr.signIn(browser('forged-state')), /timed out/);
    assert.equal(mgr.state.kind, 'signedOut');
    mgr.dispose();
  });

  it('restores silently from the stored refresh token', async () => {
    const a = setup();
    await a.mgr.signIn(browser());
    a.mgr.dispose();
    const b = setup();
    for (const [k, v] of a.secrets.data) b.secrets.data.set(k, v);
    const s = await b.mgr.restore();
    assert.equal(s?.subject, 'alice');
    assert.equal(b.fake.refreshes, 1);
    assert.equal(s?.name, 'Alice Example', 'claims survive a refresh without an ID token');
    b.mgr.dispose();
  });

  it('signs out with the reason and clears the secret when the refresh token is refused', async () => {
    const { mgr, fake, secrets, sink } = setup();
    await mgr.signIn(browser());
    fake.refreshResults.push(new UserFacingError('auth', 'The identity provider refused the session refresh (invalid_grant: grant revoked).'));
    await assert.rejects(mgr.refresh(), /Sign in again|session ended/);
    assert.equal(mgr.state.kind, 'signedOut');
    assert.match((mgr.state as { reason?: string }).reason ?? '', /invalid_grant/);
    assert.equal(secrets.data.size, 0);
    assert.ok(sink.types().includes('sessionRefreshFailed'));
    mgr.dispose();
  });

  it('keeps the session and the refresh token when the IdP is unreachable', async () => {
    const { mgr, fake, secrets } = setup();
    await mgr.signIn(browser());
    fake.refreshResults.push(new UserFacingError('network', 'Cannot reach the identity provider (ECONNREFUSED).'));
    await assert.rejects(mgr.refresh(), /ECONNREFUSED/);
    assert.equal(mgr.state.kind, 'signedIn');
    assert.match((mgr.state as { refreshError?: string }).refreshError ?? '', /ECONNREFUSED/);
    assert.equal(secrets.data.size, 1);
    mgr.dispose();
  });

  it('shares one refresh between concurrent callers', async () => {
    const { mgr, fake, clock } = setup();
    await mgr.signIn(browser());
    clock.now += 3_600_000 - 30_000;
    const [a, b] = await Promise.all([mgr.fresh(60), mgr.fresh(60)]);
    assert.equal(fake.refreshes, 1);
    assert.equal(a.accessToken, b.accessToken);
    mgr.dispose();
  });

  it('revokes the refresh token on sign-out (RFC 7009)', async () => {
    const { mgr, fake, secrets, sink } = setup();
    await mgr.signIn(browser());
    const r = await mgr.signOut();
    assert.ok(r.revoked);
    assert.deepEqual(fake.revoked, ['rt-0']);
    assert.equal(secrets.data.size, 0);
    assert.equal(mgr.current(), undefined);
    assert.ok(sink.types().includes('signOut'));
    mgr.dispose();
  });

  describe('with a fake clock', () => {
    let clock: ReturnType<typeof FakeTimers.install>;
    beforeEach(() => (clock = FakeTimers.install({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] })));
    afterEach(() => clock.uninstall());

    it('refreshes silently at least 60 s before expiry', async () => {
      const fake = new FakeOidc({ get now() { return Date.now(); } });
      const mgr = new SessionManager({ settings: () => settings, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, remoteName: 'ssh-remote', browserOnThisMachine: false }), discover: async () => fake });
      await mgr.signIn({ openBrowser: async () => true, showDeviceCode: () => undefined });
      assert.equal(fake.refreshes, 0);
      await clock.tickAsync(3_600_000 - 360_001);
      assert.equal(fake.refreshes, 0, 'not yet: lead is 10% of an hour = 6 min');
      await clock.tickAsync(2);
      assert.equal(fake.refreshes, 1);
      assert.equal(mgr.current()?.accessToken, 'at-1');
      mgr.dispose();
    });

    it('retries a failed background refresh with backoff', async () => {
      const fake = new FakeOidc({ get now() { return Date.now(); } });
      const mgr = new SessionManager({ settings: () => settings, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, remoteName: 'ssh-remote', browserOnThisMachine: false }), discover: async () => fake });
      await mgr.signIn({ openBrowser: async () => true, showDeviceCode: () => undefined });
      fake.refreshResults.push(new UserFacingError('network', 'unreachable'));
      await clock.tickAsync(3_600_000 - 360_000);
      assert.equal(fake.refreshes, 1);
      await clock.tickAsync(retryBackoffMs(1));
      assert.equal(fake.refreshes, 2);
      assert.equal(mgr.state.kind, 'signedIn');
      assert.equal((mgr.state as { refreshError?: string }).refreshError, undefined);
      mgr.dispose();
    });
  });

  it('refresh lead: never under 60 s, 10 % of long lifetimes', () => {
    assert.equal(refreshLeadMs(300_000), 60_000);
    assert.equal(refreshLeadMs(3_600_000), 360_000);
  });
});

describe('describeOidcError', () => {
  const table: Array<[string, unknown, RegExp, string]> = [
    ['unknown client', new oidc.ResponseBodyError('x', { cause: { error: 'invalid_client', error_description: 'client not found' }, response: new Response() }), /does not know this client.*Check mlspanner\.idp\.clientId/, 'config'],
    ['refused grant', new oidc.ResponseBodyError('x', { cause: { error: 'invalid_grant', error_description: 'grant request is invalid' }, response: new Response() }), /invalid_grant: grant request is invalid.*Sign in again/, 'auth'],
    ['unreachable', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), /Cannot reach the identity provider.*ECONNREFUSED/, 'network'],
    ['unknown', new Error('boom'), /boom/, 'service'],
  ];
  for (const [name, e, re, kind] of table) {
    it(name, () => {
      const u = describeOidcError(e, 'https://idp.example.com', 'session refresh');
      assert.match(u.display, re);
      assert.equal(u.kind, kind);
      assert.ok(!u.display.includes('{}'));
    });
  }
});

describe('LoopbackServer', () => {
  it('listens on 127.0.0.1, answers one callback and closes', async () => {
    const s = await LoopbackServer.start();
    assert.match(s.redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const wait = s.waitForCallback({ state: 'st', timeoutMs: 5000 });
    const res = await fetch(`${s.redirectUri}?code=c&state=st`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /close this tab/);
    assert.equal((await wait).searchParams.get('code'), 'c');
    await assert.rejects(fetch(`${s.redirectUri}?code=c&state=st`));
  });
  it('refuses a wrong state and keeps waiting', async () => {
    const s = await LoopbackServer.start();
    const wait = s.waitForCallback({ state: 'good', timeoutMs: 5000 });
    assert.equal((await fetch(`${s.redirectUri}?code=c&state=evil`)).status, 400);
    assert.equal((await fetch(`${s.redirectUri}?code=c&state=good`)).status, 200);
    await wait;
  });
  it('shows the provider error page and returns the error callback', async () => {
    const s = await LoopbackServer.start();
    const wait = s.waitForCallback({ state: 'st', timeoutMs: 5000 });
    const res = await fetch(`${s.redirectUri}?error=access_denied&error_description=User%20cancelled&state=st`);
    assert.match(await res.text(), /User cancelled/);
    assert.equal((await wait).searchParams.get('error'), 'access_denied');
  });
});
