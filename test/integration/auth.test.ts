import { strict as assert } from 'node:assert';
import * as oidc from 'openid-client';
import { SessionManager, type IdpSettings, type SessionState } from '../../src/core/auth/SessionManager';
import { startIdentityProvider, type IdentityProviderOptions, type SandboxIdentityProvider } from '../../sandbox/idp/IdentityProvider';
import { OidcClient } from '../../src/core/auth/OidcClient';
import { AccessLog } from '../../src/core/audit/AccessLog';
import { looksLikeToken } from '../../src/core/redact';
import { errorMessage } from '../../src/core/errors';
import { TestSecretStorage } from '../unit/fakes/TestSecretStorage';
import { sandbox } from './setup';
import { sandboxIdp, sessionManager, userAtBrowser } from './signInAs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Rejects with an error whose user-facing text (message and action) matches. */
async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.match(errorMessage(e), re);
    return true;
  });
}

function idp(over: Partial<IdpSettings> = {}): IdpSettings {
  return sandboxIdp(over);
}

function manager(over: Partial<IdpSettings> = {}, timeoutMs = 20_000) {
  const dir = mkdtempSync(join(tmpdir(), 'mlspanner-it-'));
  const secrets = new TestSecretStorage();
  const log = new AccessLog(join(dir, 'access-log.jsonl'));
  const mgr = sessionManager({ idp: over, secrets, sink: log, timeoutMs });
  return { mgr, secrets, log };
}

describe('sign-in against the sandbox OpenID provider', () => {
  it('full code flow with PKCE: alice with her groups, refresh token only in the secret store', async () => {
    const { mgr, secrets, log } = manager();
    const s = await mgr.signIn(userAtBrowser('alice'));
    assert.equal(s.name, 'Alice Example');
    assert.equal(s.email, 'alice@example.com');
    assert.deepEqual([...s.groups].sort(), ['ml-dev', 'ml-staging']);
    assert.ok(s.idToken.split('.').length === 3);
    assert.ok(s.accessTokenExpiresAt > Date.now());
    const stored = JSON.parse([...secrets.data.values()][0]) as { refreshToken: string };
    assert.ok(stored.refreshToken.length > 10);
    await log.flush();
    const text = readFileSync(log.file, 'utf8');
    assert.ok(!looksLikeToken(text) && !text.includes(stored.refreshToken) && !text.includes(s.accessToken), 'no token in the access log');
    assert.ok((await log.verify()).ok);
    mgr.dispose();
  });

  it('the device code flow (RFC 8628)', async () => {
    const { mgr } = manager({ flow: 'deviceCode' });
    const s = await mgr.signIn(userAtBrowser('carol'));
    assert.ok(s.groups.includes('ml-prod'));
    mgr.dispose();
  });

  it('refreshes, restores in a new window, and revokes on sign-out', async () => {
    const a = manager();
    const first = await a.mgr.signIn(userAtBrowser('bob'));
    const refreshed = await a.mgr.refresh();
    assert.notEqual(refreshed.accessToken, first.accessToken);
    assert.equal(refreshed.subject, first.subject);
    a.mgr.dispose();

    const b = manager();
    for (const [k, v] of a.secrets.data) b.secrets.data.set(k, v);
    const restored = await b.mgr.restore();
    assert.equal(restored?.name, 'Bob Example');
    const stored = JSON.parse([...b.secrets.data.values()][0]) as { refreshToken: string };
    const r = await b.mgr.signOut();
    assert.ok(r.revoked, r.revokeError);
    assert.equal(b.secrets.data.size, 0);

    // The revoked refresh token no longer works at the IdP.
    const client = await OidcClient.discover(idp());
    await assert.rejects(client.refresh(stored.refreshToken), /invalid_grant/);
    b.mgr.dispose();
  });

  it('a refresh refused by the IdP (grants revoked) signs out with the reason', async () => {
    const { mgr, secrets } = manager();
    await mgr.signIn(userAtBrowser('carol'));
    await sandbox().admin.revokeUser('carol');
    await assert.rejects(mgr.refresh(), /invalid_grant/);
    assert.equal(mgr.state.kind, 'signedOut');
    assert.equal(secrets.data.size, 0);
    mgr.dispose();
  });

  it('rejects a callback with a forged state and times out instead of hanging', async () => {
    const { mgr } = manager({}, 1500);
    await assert.rejects(mgr.signIn(userAtBrowser('alice', 'demo', (cb) => cb.searchParams.set('state', 'forged'))), /timed out/);
    assert.equal(mgr.state.kind, 'signedOut');
    mgr.dispose();
  });

  it('names an unknown client id before opening the browser', async () => {
    const { mgr } = manager({ clientId: 'no-such-client' });
    let opened = false;
    await rejectsWith(mgr.signIn({ openBrowser: async () => (opened = true), showDeviceCode: () => undefined }), /does not know this client.*mlspanner\.idp\.clientId/);
    assert.equal(opened, false);
    mgr.dispose();
  });

  it('explains an unreachable issuer', async () => {
    const { mgr } = manager({ issuer: 'http://127.0.0.1:59999' });
    await rejectsWith(mgr.signIn(userAtBrowser('alice')), /Cannot reach the identity provider at http:\/\/127\.0\.0\.1:59999 \(ECONNREFUSED\).*mlspanner\.idp\.issuer/);
    mgr.dispose();
  });
});

/** A window's session manager for an IdP of the test's own, sharing `secrets` with other windows. */
function windowFor(idp: SandboxIdentityProvider, secrets: TestSecretStorage, over: Partial<IdpSettings> = {}): SessionManager {
  return new SessionManager({
    settings: () => ({ issuer: idp.issuer, clientId: idp.clientId, scopes: ['openid', 'profile', 'email', 'offline_access'], groupsClaim: 'groups', flow: 'loopback', ...over }),
    secrets,
    sink: { record: () => undefined },
    flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
    signInTimeoutMs: 20_000,
    leaseSettleMs: 50,
  });
}

function waitFor(mgr: SessionManager, ok: (s: SessionState) => boolean, what: string): Promise<void> {
  if (ok(mgr.state)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (sub.dispose(), reject(new Error(`timed out waiting for ${what}`))), 10_000);
    const sub = mgr.onDidChange((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}

describe('sign-in against stricter sandbox providers', () => {
  const started: SandboxIdentityProvider[] = [];
  async function provider(opts: IdentityProviderOptions): Promise<SandboxIdentityProvider> {
    const idp = await startIdentityProvider({ host: '127.0.0.2', quiet: true, ...opts });
    started.push(idp);
    return idp;
  }
  after(async () => {
    for (const idp of started.splice(0)) await idp.close();
  });

  it('a strict provider that granted less than asked: the session refreshes (no scope on refresh), tokens under two minutes', async () => {
    const idp = await provider({ strictRefreshScope: true, accessTokenTtlSeconds: 90, idTokenTtlSeconds: 90 });
    const mgr = windowFor(idp, new TestSecretStorage());
    const s = await mgr.signIn(userAtBrowser('alice'));
    assert.ok(!s.scopes.includes('offline_access'), `granted: ${s.scopes.join(' ')}`);
    assert.ok(s.accessTokenExpiresAt - Date.now() < 120_000);
    // The refresh the schedule would make ~30 s after sign-in, and the one after it.
    for (let i = 0; i < 2; i++) {
      const r = await mgr.refresh();
      assert.notEqual(r.accessToken, s.accessToken);
      assert.equal(mgr.state.kind, 'signedIn');
    }
    // What used to happen: asking again for every configured scope is refused.
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: idp.clientId, scopes: ['openid'] });
    const stored = JSON.parse([...(mgr as unknown as { deps: { secrets: TestSecretStorage } }).deps.secrets.data.values()][0]) as { refreshToken: string };
    await assert.rejects(oidc.refreshTokenGrant(client.config, stored.refreshToken, { scope: 'openid profile email offline_access' }), (e) => {
      assert.ok(e instanceof oidc.ResponseBodyError);
      assert.equal(e.error, 'invalid_scope');
      return true;
    });
    client.close();
    mgr.dispose();
  });

  it('two windows with refresh-token rotation stay signed in across rotations; sign-out in one signs out both', async () => {
    const idp = await provider({ rotateRefreshToken: true, accessTokenTtlSeconds: 60 });
    const secrets = new TestSecretStorage();
    const a = windowFor(idp, secrets);
    const b = windowFor(idp, secrets);
    await a.signIn(userAtBrowser('bob'));
    await waitFor(b, (st) => st.kind === 'signedIn', 'window B to follow the sign-in');
    for (let round = 0; round < 3; round++) {
      const [ra, rb] = await Promise.all([a.refresh(), b.refresh()]);
      assert.equal(ra.name, 'Bob Example');
      assert.equal(rb.name, 'Bob Example');
    }
    assert.equal(a.state.kind, 'signedIn');
    assert.equal(b.state.kind, 'signedIn');
    await a.signOut();
    await waitFor(b, (st) => st.kind === 'signedOut', 'window B to follow the sign-out');
    assert.equal(secrets.data.size, 0);
    a.dispose();
    b.dispose();
  });

  it('a provider that returns no ID token on refresh: the session lives on, a subject ID token gets one clear error', async () => {
    const idp = await provider({ idTokenOnRefresh: false, idTokenTtlSeconds: 2, accessTokenTtlSeconds: 600 });
    const mgr = windowFor(idp, new TestSecretStorage());
    const s = await mgr.signIn(userAtBrowser('carol'));
    await new Promise((r) => setTimeout(r, 2500));
    // The refresh the schedule makes once the ID token is stale: an access token, no ID token.
    const after = await mgr.refresh();
    assert.equal(after.idToken, s.idToken, 'the ID token from sign-in stays for its claims');
    assert.equal(after.name, 'Carol Example');
    assert.equal(after.idTokenRenewed, false);
    assert.equal(SessionManager.expiresAt(after), after.accessTokenExpiresAt, 'scheduled by the access token, not the expired ID token');
    for (let i = 0; i < 3; i++) await rejectsWith(mgr.fresh(60, 'idToken'), /does not issue a new ID token when the session is refreshed.*expired at.*Sign in again/);
    assert.equal(mgr.current()!.accessToken, after.accessToken, 'no refresh that could not help');
    assert.equal((await mgr.fresh(60)).accessToken, after.accessToken);
    mgr.dispose();
  });

  it('an issuer change during sign-in stops it, and switching back signs in without a reload', async () => {
    const other = await provider({});
    let settings: IdpSettings = idp();
    const mgr = new SessionManager({
      settings: () => settings,
      secrets: new TestSecretStorage(),
      sink: { record: () => undefined },
      flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
      signInTimeoutMs: 20_000,
    });
    let opened!: () => void;
    const browserOpened = new Promise<void>((r) => (opened = r));
    const signingIn = mgr.signIn({ openBrowser: async () => (opened(), true), showDeviceCode: () => undefined });
    await browserOpened;
    const before = settings;
    settings = { ...settings, issuer: other.issuer };
    await mgr.settingsChanged(before);
    await rejectsWith(signingIn, /settings changed/);
    settings = before;
    await mgr.settingsChanged({ ...before, issuer: other.issuer });
    const s = await mgr.signIn(userAtBrowser('alice'));
    assert.equal(s.issuer, before.issuer);
    mgr.dispose();
  });
});

describe('signing in as a different user at the sandbox provider', () => {
  it('asks for the login again (select_account falls back to login where the provider does not list it) and ends the provider session on request', async () => {
    const { mgr } = manager();
    await mgr.signIn(userAtBrowser('alice'));
    const user = userAtBrowser('bob');
    let asked: URL | undefined;
    const s = await mgr.signIn({ ...user, openBrowser: async (url) => ((asked = new URL(url)), user.openBrowser(url)) }, { prompt: 'select_account' });
    assert.equal(s.name, 'Bob Example');
    assert.deepEqual(asked?.searchParams.get('prompt')?.split(' '), ['login']);
    const r = await mgr.signOut({ endProviderSession: true });
    assert.ok(r.revoked, r.revokeError);
    const end = new URL(r.endSessionUrl!);
    assert.equal(end.searchParams.get('client_id'), sandbox().clientId);
    assert.equal(end.searchParams.get('id_token_hint'), s.idToken);
    const page = await fetch(end, { redirect: 'manual' });
    assert.ok(page.status === 200 || page.status === 303, `end-session answered ${page.status}`);
    mgr.dispose();
  });
});
