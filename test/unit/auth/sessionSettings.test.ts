import { strict as assert } from 'node:assert';
import { SECRET_KEY_PREFIX, SessionManager, type IdpSettings, type SignInUi } from '../../../src/core/auth/SessionManager';
import { CancelledError } from '../../../src/core/errors';
import { TestSecretStorage } from '../fakes/TestSecretStorage';
import { RecordingSink } from '../fakes/RecordingSink';
import { FakeProvider, fakeJwt, followingBrowser } from './fakeOidc';

const A: IdpSettings = { issuer: 'https://idp-a.example.com', clientId: 'cid', scopes: ['openid', 'offline_access'], groupsClaim: 'groups', flow: 'loopback' };
const B: IdpSettings = { ...A, issuer: 'https://idp-b.example.com' };

function twoProviders() {
  const providers = { a: new FakeProvider(Date.now, { issuer: A.issuer }), b: new FakeProvider(Date.now, { issuer: B.issuer }) };
  let current = A;
  const secrets = new TestSecretStorage();
  const logs: string[] = [];
  const mgr = new SessionManager({
    settings: () => current,
    secrets,
    sink: new RecordingSink(),
    flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
    discover: async (s) => (s.issuer === A.issuer ? providers.a : providers.b).api(),
    leaseSettleMs: 10,
    log: (level, m) => logs.push(`${level}: ${m}`),
  });
  const change = async (to: IdpSettings) => {
    const before = current;
    current = to;
    await mgr.settingsChanged(before);
  };
  return { providers, secrets, mgr, change, logs };
}

/** A browser that reaches the callback only when `release` is called. */
function heldBrowser(): { ui: SignInUi; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inner = followingBrowser();
  return { ui: { ...inner, openBrowser: async (url) => (await gate, inner.openBrowser(url)) }, release };
}

describe('SessionManager when the provider settings change', () => {
  it('a sign-in in flight for provider A is stopped, and A\'s refresh token never reaches provider B', async () => {
    const { providers, secrets, mgr, change } = twoProviders();
    const browser = heldBrowser();
    const signingIn = mgr.signIn(browser.ui);
    await new Promise((r) => setTimeout(r, 50));
    await change(B);
    browser.release();
    await assert.rejects(signingIn, (e) => e instanceof CancelledError && /settings changed/.test(e.message));
    assert.equal(mgr.state.kind, 'signedOut');
    await assert.rejects(mgr.refresh(), /not signed in/);
    assert.ok(providers.b.received.every((t) => t.startsWith(B.issuer)), `provider B got ${providers.b.received.join(', ')}`);
    assert.equal(secrets.valuesUnder(`${SECRET_KEY_PREFIX}${B.issuer}`).length, 0);
    mgr.dispose();
  });

  it('a refresh in flight for provider A is cancelled, and nothing is sent to provider B', async () => {
    const { providers, mgr, change } = twoProviders();
    await mgr.signIn(followingBrowser());
    let open!: () => void;
    providers.a.gate = new Promise<void>((r) => (open = r));
    const refreshing = mgr.refresh();
    await new Promise((r) => setTimeout(r, 50));
    await change(B);
    open();
    await assert.rejects(refreshing, CancelledError);
    assert.equal(mgr.state.kind, 'signedOut');
    assert.match((mgr.state as { reason?: string }).reason ?? '', /settings changed/);
    await assert.rejects(mgr.fresh(), /not signed in/);
    assert.deepEqual(providers.b.received, []);
    mgr.dispose();
  });

  it('sign-in works again after a change, and restoring the original value restores its session', async () => {
    const { providers, mgr, change } = twoProviders();
    providers.a.signInAs('alice', 'Alice at A');
    providers.b.signInAs('bob', 'Bob at B');
    await mgr.signIn(followingBrowser());
    await change(B);
    assert.equal(mgr.state.kind, 'signedOut');
    const atB = await mgr.signIn(followingBrowser());
    assert.equal(atB.name, 'Bob at B');
    await change(A);
    assert.equal(mgr.state.kind, 'signedIn', 'the session stored for A comes back without a reload');
    assert.equal(mgr.current()?.name, 'Alice at A');
    assert.ok(providers.a.received.every((t) => t.startsWith(A.issuer)));
    assert.ok(providers.b.received.every((t) => t.startsWith(B.issuer)));
    mgr.dispose();
  });

  it('an empty issuer on the way (typing) leaves sign-in usable once it is set again', async () => {
    const { mgr, change } = twoProviders();
    await change({ ...A, issuer: '' });
    await assert.rejects(mgr.signIn(followingBrowser()), /not configured/);
    await change(A);
    assert.equal((await mgr.signIn(followingBrowser())).subject, 'alice');
    mgr.dispose();
  });

  it('drops a stored token bound to another issuer instead of sending it', async () => {
    const { providers, secrets, mgr } = twoProviders();
    await secrets.store(`${SECRET_KEY_PREFIX}${A.issuer}|${A.clientId}`, JSON.stringify({ v: 2, issuer: B.issuer, clientId: 'cid', refreshToken: `${B.issuer}#rt-9`, subject: 'bob' }));
    assert.equal(await mgr.restore(), undefined);
    assert.deepEqual(providers.a.received, []);
    assert.equal(secrets.valuesUnder(SECRET_KEY_PREFIX).length, 0);
    mgr.dispose();
  });

  it('migrates the plain stored format to the bound record', async () => {
    const { providers, secrets, mgr } = twoProviders();
    await mgr.signIn(followingBrowser());
    const key = `${SECRET_KEY_PREFIX}${A.issuer}|${A.clientId}`;
    const token = (JSON.parse(secrets.data.get(key)!) as { refreshToken: string }).refreshToken;
    mgr.dispose();
    secrets.data.set(key, token);
    const again = twoProviders();
    again.providers.a = providers.a;
    for (const [k, v] of secrets.data) again.secrets.data.set(k, v);
    const s = await again.mgr.restore();
    assert.equal(s?.subject, 'alice');
    const stored = JSON.parse(again.secrets.data.get(key)!) as Record<string, unknown>;
    assert.deepEqual([stored.v, stored.issuer, stored.clientId], [2, A.issuer, A.clientId]);
    again.mgr.dispose();
  });
});

describe('SessionManager: another user, provider sign-out, flow log', () => {
  it('asks for select_account where the provider supports it, else login', async () => {
    for (const [supported, expected] of [[['login', 'select_account'], 'select_account'], [undefined, 'login']] as const) {
      const provider = new FakeProvider(Date.now, { promptValuesSupported: supported ? [...supported] : undefined });
      const mgr = new SessionManager({ settings: () => A, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }), discover: async () => provider.api() });
      await mgr.signIn(followingBrowser(), { prompt: 'select_account' });
      assert.equal(provider.authorizationUrls[0].searchParams.get('prompt'), expected);
      await mgr.signIn(followingBrowser());
      assert.equal(provider.authorizationUrls[1].searchParams.has('prompt'), false);
      mgr.dispose();
    }
  });

  it('returns the provider end-session URL with id_token_hint and client_id when asked', async () => {
    const provider = new FakeProvider(Date.now, { endSessionEndpoint: 'https://idp-a.example.com/logout' });
    const mgr = new SessionManager({ settings: () => A, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }), discover: async () => provider.api() });
    const s = await mgr.signIn(followingBrowser());
    const r = await mgr.signOut({ endProviderSession: true });
    const u = new URL(r.endSessionUrl!);
    assert.equal(u.searchParams.get('id_token_hint'), s.idToken);
    assert.equal(u.searchParams.get('client_id'), 'cid');
    assert.ok(r.revoked);
    await mgr.signIn(followingBrowser());
    assert.equal((await mgr.signOut()).endSessionUrl, undefined, 'only when asked');
    mgr.dispose();
  });

  it('logs which flow was chosen, without tokens', async () => {
    for (const [remoteName, flow] of [[undefined, /loopback redirect/], ['ssh-remote', /device code flow/]] as const) {
      const provider = new FakeProvider(Date.now);
      const logs: string[] = [];
      const mgr = new SessionManager({
        settings: () => ({ ...A, flow: 'auto' }),
        secrets: new TestSecretStorage(),
        sink: new RecordingSink(),
        flowContext: async () => ({ uiKind: 'desktop' as const, remoteName, browserOnThisMachine: false }),
        discover: async () => provider.api(),
        log: (level, m) => logs.push(`${level}: ${m}`),
      });
      const s = await mgr.signIn(followingBrowser());
      assert.ok(logs.some((l) => flow.test(l)), logs.join('\n'));
      assert.ok(!logs.join('\n').includes(s.accessToken) && !logs.join('\n').includes(s.idToken));
      mgr.dispose();
    }
  });

  it('keeps an ID token for display when a refresh brings none', async () => {
    const provider = new FakeProvider(Date.now, { idTokenOnRefresh: false });
    const mgr = new SessionManager({ settings: () => A, secrets: new TestSecretStorage(), sink: new RecordingSink(), flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }), discover: async () => provider.api(), leaseSettleMs: 5 });
    const first = await mgr.signIn(followingBrowser());
    const after = await mgr.refresh();
    assert.equal(after.idToken, first.idToken);
    assert.notEqual(after.accessToken, first.accessToken);
    assert.equal(after.idTokenRenewed, false);
    assert.equal(fakeJwt({}).split('.').length, 3);
    mgr.dispose();
  });
});
