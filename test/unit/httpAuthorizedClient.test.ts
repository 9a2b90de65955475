import * as assert from 'node:assert/strict';
import type { Credential } from '../../src/core/credentials/Credential';
import { UserFacingError } from '../../src/core/errors';
import { tokenFingerprint } from '../../src/core/fingerprint';
import { AuthorizedClient, credentialTokenSource, functionTokenSource, type TokenSource } from '../../src/core/http/AuthorizedClient';
import { createHttpClient, ServiceError } from '../../src/core/http/HttpClient';
import { scriptedServer, type Reply, type ScriptedServer } from './fakes/scriptedServer';

const NOW = 1_800_000_000_000;

function bearer(target: 'databricks' | 'google', accessToken: unknown, expiresAt = NOW + 3600_000): Credential {
  return {
    environment: 'dev',
    target,
    issuedAt: NOW,
    expiresAt,
    scopes: [],
    source: 'federation',
    principal: 'p',
    fingerprint: 'sha256:000000000000',
    subjectTokenKind: 'idToken',
    accessToken,
  } as unknown as Credential;
}

const unauthorized: Reply = { status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' } };
const ok: Reply = { status: 200, body: { ok: true } };

describe('AuthorizedClient', () => {
  let srv: ScriptedServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  /** A token source that records what it was asked and hands out tok-0, tok-1, ... */
  function countingSource(): TokenSource & { asked: boolean[] } {
    const asked: boolean[] = [];
    return {
      asked,
      token: async ({ forceRefresh }) => {
        asked.push(forceRefresh);
        const value = `tok-${asked.length - 1}`;
        return { value, fingerprint: tokenFingerprint(value) };
      },
    };
  }

  function client(tokens: TokenSource) {
    return new AuthorizedClient(createHttpClient({ service: 'Databricks', baseURL: srv!.url, retry: { maxRetries: 0 } }), tokens);
  }

  it('attaches the bearer token and records its fingerprint, never the token', async () => {
    srv = await scriptedServer([ok]);
    const tokens = countingSource();
    const c = client(tokens);
    assert.deepEqual(await c.data({ method: 'GET', url: '/x' }), { ok: true });
    assert.equal(srv.seen[0].auth, 'Bearer tok-0');
    assert.equal(c.lastTokenFingerprint, tokenFingerprint('tok-0'));
    assert.deepEqual(tokens.asked, [false]);
  });

  it('a 401 is retried exactly once, with forceRefresh', async () => {
    srv = await scriptedServer([unauthorized, ok]);
    const tokens = countingSource();
    const c = client(tokens);
    assert.deepEqual(await c.data({ method: 'GET', url: '/x' }), { ok: true });
    assert.deepEqual(tokens.asked, [false, true]);
    assert.deepEqual(
      srv.seen.map((s) => s.auth),
      ['Bearer tok-0', 'Bearer tok-1'],
    );
    assert.equal(c.lastTokenFingerprint, tokenFingerprint('tok-1'));
  });

  it('a second 401 is not retried again: it is an auth error', async () => {
    srv = await scriptedServer([unauthorized, unauthorized, ok]);
    const tokens = countingSource();
    const c = client(tokens);
    await assert.rejects(c.data({ method: 'GET', url: '/x' }), (e: unknown) => e instanceof ServiceError && e.status === 401 && e.kind === 'auth');
    assert.equal(srv.seen.length, 2);
    assert.deepEqual(tokens.asked, [false, true]);
  });

  it('other failures are not retried with a new token', async () => {
    srv = await scriptedServer([{ status: 403, body: { error_code: 'PERMISSION_DENIED', message: 'no' } }]);
    const tokens = countingSource();
    await assert.rejects(client(tokens).data({ method: 'GET', url: '/x' }), (e: unknown) => e instanceof ServiceError && e.kind === 'denied');
    assert.deepEqual(tokens.asked, [false]);
  });

  it('noAuthRetry turns the 401 retry off', async () => {
    srv = await scriptedServer([unauthorized, ok]);
    const tokens = countingSource();
    await assert.rejects(client(tokens).data({ method: 'GET', url: '/x', noAuthRetry: true }), (e: unknown) => e instanceof ServiceError && e.status === 401);
    assert.equal(srv.seen.length, 1);
  });

  it('a token-source failure reaches the caller unchanged and nothing is sent', async () => {
    srv = await scriptedServer([ok]);
    const signIn = new UserFacingError('auth', 'Your session ended.', 'Sign in again.');
    const c = client({
      token: async () => {
        throw signIn;
      },
    });
    await assert.rejects(c.data({ method: 'GET', url: '/x' }), (e) => e === signIn);
    assert.equal(srv.seen.length, 0);
  });

  it('an empty token from a function source is refused, never sent as an empty bearer', async () => {
    srv = await scriptedServer([ok]);
    const c = client(functionTokenSource(async () => '', 'Databricks'));
    await assert.rejects(c.data({ method: 'GET', url: '/x' }), (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol' && /No Databricks token was available/.test(e.message));
    assert.equal(srv.seen.length, 0);
  });

  it('a token with a line break (header injection) is refused', async () => {
    srv = await scriptedServer([ok]);
    const c = client(functionTokenSource(async () => 'abc\r\nX-Evil: 1'));
    await assert.rejects(c.data({ method: 'GET', url: '/x' }), (e: unknown) => e instanceof UserFacingError && /not a bearer token/.test(e.message));
    assert.equal(srv.seen.length, 0);
  });
});

describe('credentialTokenSource', () => {
  it('hands out a bearer credential’s token with its fingerprint and passes forceRefresh on', async () => {
    const asked: boolean[] = [];
    const source = credentialTokenSource(async (force) => (asked.push(force), bearer('databricks', 'dose-abc')), { target: 'databricks', environment: 'dev' });
    assert.deepEqual(await source.token({ forceRefresh: false }), { value: 'dose-abc', fingerprint: tokenFingerprint('dose-abc') });
    await source.token({ forceRefresh: true });
    assert.deepEqual(asked, [false, true]);
  });

  const refused: Array<[string, () => Promise<Credential>, RegExp]> = [
    ['an absent token', async () => bearer('databricks', undefined), /No Databricks token for "dev" was available/],
    ['an empty token', async () => bearer('databricks', ''), /No Databricks token for "dev" was available/],
    ['a non-string token', async () => bearer('databricks', 42), /No Databricks token for "dev" was available/],
    ['an AWS session', async () => ({ ...bearer('databricks', 'x'), target: 'aws' }) as unknown as Credential, /Expected a Databricks token for "dev", but the credential is for aws/],
    ['a Google token where Databricks is expected', async () => bearer('google', 'ya29.x'), /but the credential is for google/],
    ['nothing at all', async () => undefined as unknown as Credential, /not a bearer token/],
  ];
  for (const [name, get, message] of refused) {
    it(`refuses ${name} with a clear error`, async () => {
      const source = credentialTokenSource(get, { target: 'databricks', environment: 'dev' });
      await assert.rejects(source.token({ forceRefresh: false }), (e: unknown) => {
        assert.ok(e instanceof UserFacingError, String(e));
        assert.equal(e.kind, 'protocol');
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it('keeps the token in hand while it is valid when renewing fails for a passing reason', async () => {
    let now = NOW;
    const results: Array<Credential | UserFacingError> = [
      bearer('databricks', 'held', NOW + 10 * 60_000),
      new UserFacingError('network', 'Cannot reach the identity provider (ECONNRESET).'),
      new UserFacingError('service', 'Databricks token exchange failed: HTTP 503'),
      new UserFacingError('network', 'still down'),
      new UserFacingError('network', 'still down'),
      new UserFacingError('auth', 'Your session ended.'),
    ];
    const identity = 'https://idp|ada';
    const source = credentialTokenSource(
      async () => {
        const r = results.shift()!;
        if (r instanceof Error) throw r;
        return r;
      },
      { now: () => now, identity: () => identity },
    );
    assert.equal((await source.token({ forceRefresh: false })).value, 'held');
    assert.equal((await source.token({ forceRefresh: false })).value, 'held', 'network failure: the held token is still good');
    assert.equal((await source.token({ forceRefresh: false })).value, 'held', 'service failure: likewise');
    // The service refused the token: a held token is no answer then.
    await assert.rejects(source.token({ forceRefresh: true }), /still down/);
    // Too close to its expiry to keep using it.
    now = NOW + 10 * 60_000 - 30_000;
    await assert.rejects(source.token({ forceRefresh: false }), /still down/);
    now = NOW;
    // The session is gone: never keep using a token then.
    await assert.rejects(source.token({ forceRefresh: false }), (e: unknown) => e instanceof UserFacingError && e.kind === 'auth');
  });

  it('never hands one user’s token to another: the token in hand is kept only for the same identity', async () => {
    let identity: string | undefined = 'https://idp|ada';
    const results: Array<Credential | UserFacingError> = [bearer('databricks', 'adas-token'), new UserFacingError('network', 'down'), new UserFacingError('network', 'down')];
    const get = async () => {
      const r = results.shift()!;
      if (r instanceof Error) throw r;
      return r;
    };
    const source = credentialTokenSource(get, { now: () => NOW, identity: () => identity });
    assert.equal((await source.token({ forceRefresh: false })).value, 'adas-token');
    identity = 'https://idp|bob';
    await assert.rejects(source.token({ forceRefresh: false }), /down/);
    // Without an identity to compare, nothing is kept at all.
    const answers: Array<Credential | Error> = [bearer('databricks', 'x'), new UserFacingError('network', 'still down')];
    const anonymous = credentialTokenSource(
      async () => {
        const r = answers.shift()!;
        if (r instanceof Error) throw r;
        return r;
      },
      { now: () => NOW },
    );
    assert.equal((await anonymous.token({ forceRefresh: false })).value, 'x');
    await assert.rejects(anonymous.token({ forceRefresh: false }), /still down/);
  });
});
