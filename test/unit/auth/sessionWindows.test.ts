import { strict as assert } from 'node:assert';
import { LEASE_KEY_PREFIX, SECRET_KEY_PREFIX, SessionManager, type IdpSettings, type SessionState } from '../../../src/core/auth/SessionManager';
import { TestSecretStorage } from '../fakes/TestSecretStorage';
import { RecordingSink } from '../fakes/RecordingSink';
import { FakeProvider, followingBrowser } from './fakeOidc';

const settings: IdpSettings = { issuer: 'https://idp.example.com', clientId: 'cid', scopes: ['openid', 'offline_access'], groupsClaim: 'groups', flow: 'auto' };

/** One VS Code window: its own SessionManager on the shared secret store. */
function windowOn(secrets: TestSecretStorage, provider: FakeProvider, id: string) {
  const errors: unknown[] = [];
  const mgr = new SessionManager({
    settings: () => settings,
    secrets,
    sink: new RecordingSink(),
    flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
    discover: async () => provider.api(),
    leaseSettleMs: 20,
    windowId: id,
    onBackgroundError: (e) => errors.push(e),
  });
  return { mgr, errors };
}

/** Resolves when the manager reaches a state, or fails after 3 s. */
function until(mgr: SessionManager, ok: (s: SessionState) => boolean, what: string): Promise<void> {
  if (ok(mgr.state)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (sub.dispose(), reject(new Error(`timed out waiting for ${what}; state ${JSON.stringify(mgr.state.kind)}`))), 3000);
    const sub = mgr.onDidChange((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}

function storedToken(secrets: TestSecretStorage): string | undefined {
  const v = secrets.valuesUnder(SECRET_KEY_PREFIX)[0];
  return v ? (JSON.parse(v) as { refreshToken: string }).refreshToken : undefined;
}

describe('SessionManager across windows (one SecretStorage)', () => {
  it('two windows stay signed in across rotations when both refresh at the same moment', async () => {
    const secrets = new TestSecretStorage();
    const provider = new FakeProvider(Date.now, { rotate: true });
    const a = windowOn(secrets, provider, 'window-a');
    const b = windowOn(secrets, provider, 'window-b');
    await a.mgr.signIn(followingBrowser());
    // Window B follows the sign-in made in window A.
    await until(b.mgr, (s) => s.kind === 'signedIn', 'window B to follow the sign-in');
    for (let round = 1; round <= 3; round++) {
      const [sa, sb] = await Promise.all([a.mgr.refresh(), b.mgr.refresh()]);
      assert.equal(sa.subject, 'alice');
      assert.equal(sb.subject, 'alice');
      assert.equal(a.mgr.state.kind, 'signedIn', `window A after round ${round}`);
      assert.equal(b.mgr.state.kind, 'signedIn', `window B after round ${round}`);
    }
    // Every refresh used the token the store held at that moment: no token was sent twice.
    const refreshTokensSent = provider.received;
    assert.equal(new Set(refreshTokensSent).size, refreshTokensSent.length, 'a rotated refresh token was reused');
    assert.ok(provider.refreshes >= 6, `${provider.refreshes} refreshes: a restore and 3 rounds in 2 windows`);
    assert.ok(storedToken(secrets));
    assert.deepEqual(secrets.valuesUnder(LEASE_KEY_PREFIX), [], 'no lease left behind');
    assert.deepEqual([...a.errors, ...b.errors], []);
    a.mgr.dispose();
    b.mgr.dispose();
  });

  it('a window that sees a live lease waits and adopts the token rotated by the lease holder', async () => {
    const secrets = new TestSecretStorage();
    const provider = new FakeProvider(Date.now, { rotate: true });
    const a = windowOn(secrets, provider, 'window-a');
    await a.mgr.signIn(followingBrowser());
    const key = [...secrets.data.keys()].find((k) => k.startsWith(SECRET_KEY_PREFIX))!;
    const leaseKey = key.replace(SECRET_KEY_PREFIX, LEASE_KEY_PREFIX);
    // Another window holds the lease and is refreshing right now.
    await secrets.store(leaseKey, JSON.stringify({ owner: 'window-x', until: Date.now() + 30_000 }));
    const pending = a.mgr.refresh();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(provider.refreshes, 0, 'window A waits for the lease holder');
    const old = JSON.parse(secrets.data.get(key)!) as { refreshToken: string };
    const rotated = await provider.api().refresh(old.refreshToken);
    await secrets.store(key, JSON.stringify({ ...old, refreshToken: rotated.refreshToken }));
    await secrets.delete(leaseKey);
    const s = await pending;
    assert.equal(s.subject, 'alice');
    assert.deepEqual(provider.received.slice(-1), [rotated.refreshToken], 'window A refreshed with the rotated token, not its stale one');
    assert.equal(a.mgr.state.kind, 'signedIn');
    a.mgr.dispose();
  });

  it('sign-out in one window signs out the other; sign-in in one signs in the other', async () => {
    const secrets = new TestSecretStorage();
    const provider = new FakeProvider(Date.now, { rotate: true });
    const a = windowOn(secrets, provider, 'window-a');
    const b = windowOn(secrets, provider, 'window-b');
    await a.mgr.signIn(followingBrowser());
    await until(b.mgr, (s) => s.kind === 'signedIn', 'window B to follow the sign-in');
    await a.mgr.signOut();
    await until(b.mgr, (s) => s.kind === 'signedOut', 'window B to follow the sign-out');
    assert.match((b.mgr.state as { reason?: string }).reason ?? '', /signed out in another window/);
    assert.equal(storedToken(secrets), undefined);
    // And back: signing in in window B signs window A in.
    await b.mgr.signIn(followingBrowser());
    await until(a.mgr, (s) => s.kind === 'signedIn', 'window A to follow the sign-in');
    assert.equal(a.mgr.current()?.subject, 'alice');
    a.mgr.dispose();
    b.mgr.dispose();
  });

  it('a sign-in as another user in one window shows in the other', async () => {
    const secrets = new TestSecretStorage();
    const provider = new FakeProvider(Date.now, { rotate: true });
    const a = windowOn(secrets, provider, 'window-a');
    const b = windowOn(secrets, provider, 'window-b');
    await a.mgr.signIn(followingBrowser());
    await until(b.mgr, (s) => s.kind === 'signedIn', 'window B to follow the sign-in');
    provider.signInAs('bob', 'Bob Example');
    await a.mgr.signIn(followingBrowser(), { prompt: 'login' });
    await until(b.mgr, (s) => s.kind === 'signedIn' && s.session.subject === 'bob', 'window B to switch to bob');
    a.mgr.dispose();
    b.mgr.dispose();
  });

  it('on invalid_grant a window re-reads the store and adopts a token another window rotated', async () => {
    const secrets = new TestSecretStorage();
    const provider = new FakeProvider(Date.now, { rotate: true });
    const a = windowOn(secrets, provider, 'window-a');
    await a.mgr.signIn(followingBrowser());
    const key = [...secrets.data.keys()].find((k) => k.startsWith(SECRET_KEY_PREFIX))!;
    const old = JSON.parse(secrets.data.get(key)!) as { refreshToken: string };
    // A store that shows window A the old record on its first read (a slow keychain), the new one after.
    const rotated = await provider.api().refresh(old.refreshToken);
    const newer = JSON.stringify({ ...old, refreshToken: rotated.refreshToken });
    secrets.data.set(key, newer);
    const get = secrets.get.bind(secrets);
    let stale = 1;
    secrets.get = async (k: string) => (k === key && stale-- > 0 ? JSON.stringify(old) : get(k));
    const s = await a.mgr.refresh();
    assert.equal(s.subject, 'alice');
    assert.equal(a.mgr.state.kind, 'signedIn');
    assert.ok(storedToken(secrets));
    a.mgr.dispose();
  });
});
