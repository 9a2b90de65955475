import { strict as assert } from 'node:assert';
import type { IdpSettings } from '../../src/core/auth/SessionManager';
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
