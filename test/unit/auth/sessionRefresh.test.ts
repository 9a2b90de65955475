import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import { MIN_REFRESH_INTERVAL_MS, SessionManager, type IdpSettings } from '../../../src/core/auth/SessionManager';
import { TestSecretStorage } from '../fakes/TestSecretStorage';
import { RecordingSink } from '../fakes/RecordingSink';
import { FakeProvider, type FakeProviderOptions } from './fakeOidc';

const settings: IdpSettings = { issuer: 'https://idp.example.com', clientId: 'cid', scopes: ['openid', 'offline_access'], groupsClaim: 'groups', flow: 'auto' };

describe('SessionManager refresh schedule', () => {
  let clock: ReturnType<typeof FakeTimers.install>;
  beforeEach(() => (clock = FakeTimers.install({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'], loopLimit: 100_000 })));
  afterEach(() => clock.uninstall());

  async function signedIn(opts: FakeProviderOptions) {
    const provider = new FakeProvider(() => Date.now(), opts);
    const mgr = new SessionManager({
      settings: () => settings,
      secrets: new TestSecretStorage(),
      sink: new RecordingSink(),
      // A remote window: the device code flow, no browser needed.
      flowContext: async () => ({ uiKind: 'desktop' as const, remoteName: 'ssh-remote', browserOnThisMachine: false }),
      discover: async () => provider.api(),
    });
    await mgr.signIn({ openBrowser: async () => true, showDeviceCode: () => undefined });
    return { provider, mgr };
  }

  it('does not loop when the provider returns no new ID token on refresh (OIDC Core §12.2)', async () => {
    // The ID token lives 5 minutes, the access token an hour; refreshes never bring a new ID token.
    const { provider, mgr } = await signedIn({ idTokenOnRefresh: false, idTtlMs: 300_000, accessTtlMs: 3_600_000 });
    await clock.tickAsync(10 * 60_000);
    assert.equal(provider.refreshes, 1, 'one refresh before the ID token expired, then scheduled by the access token');
    const s = mgr.current()!;
    assert.equal(s.idTokenRenewed, false);
    assert.ok(s.idToken, 'the old ID token is kept for its claims');
    assert.equal(s.name, 'Alice Example');
    assert.equal(SessionManager.expiresAt(s), s.accessTokenExpiresAt);
    await clock.tickAsync(3 * 3_600_000);
    assert.ok(provider.refreshes <= 4, `${provider.refreshes} refreshes in 3 h 10 min with hour-long access tokens`);
    assert.equal(mgr.state.kind, 'signedIn');
    mgr.dispose();
  });

  it('says once that the provider does not renew ID tokens when a subject token needs one, without refreshing again', async () => {
    const { provider, mgr } = await signedIn({ idTokenOnRefresh: false, idTtlMs: 300_000, accessTtlMs: 3_600_000 });
    await clock.tickAsync(6 * 60_000);
    const before = provider.refreshes;
    for (let i = 0; i < 5; i++)
      await assert.rejects(mgr.fresh(120, 'idToken'), (e: Error) => {
        assert.match(e.message, /does not issue a new ID token when the session is refreshed.*expired at/);
        assert.match((e as { action?: string }).action ?? '', /Sign in again/);
        return true;
      });
    assert.equal(provider.refreshes, before, 'no refresh: it would not bring an ID token');
    // The access token is still good for callers that send it.
    assert.equal((await mgr.fresh(120)).accessToken, mgr.current()!.accessToken);
    assert.equal((await mgr.fresh(120, 'accessToken')).accessToken, mgr.current()!.accessToken);
    assert.equal(provider.refreshes, before);
    mgr.dispose();
  });

  it('asks for a new ID token by refreshing once where the provider renews them', async () => {
    const { provider, mgr } = await signedIn({ idTtlMs: 300_000, accessTtlMs: 3_600_000 });
    await clock.tickAsync(200_000);
    const pending = mgr.fresh(120, 'idToken');
    await clock.tickAsync(1000);
    const s = await pending;
    assert.equal(provider.refreshes, 1);
    assert.ok(s.idTokenExpiresAt - Date.now() > 120_000);
    mgr.dispose();
  });

  it(`keeps refreshes at least ${MIN_REFRESH_INTERVAL_MS / 1000} s apart when tokens come back already expired`, async () => {
    const { provider, mgr } = await signedIn({ accessTtlMs: 0, idTtlMs: 0 });
    await clock.tickAsync(5 * 60_000);
    assert.ok(provider.refreshes <= 5 * 60_000 / MIN_REFRESH_INTERVAL_MS + 1, `${provider.refreshes} refreshes in 5 minutes`);
    assert.ok(provider.refreshes >= 1);
    // On-demand callers inside the interval get a clear error, not another request.
    const n = provider.refreshes;
    await assert.rejects(mgr.fresh(60), /expired within \d+ s of the last refresh/);
    assert.equal(provider.refreshes, n);
    mgr.dispose();
  });

  it('an explicit Refresh is not held back by the minimum interval', async () => {
    const { provider, mgr } = await signedIn({});
    const p = mgr.refresh();
    await clock.tickAsync(1000);
    await p;
    const q = mgr.refresh();
    await clock.tickAsync(1000);
    await q;
    assert.equal(provider.refreshes, 2);
    mgr.dispose();
  });
});
