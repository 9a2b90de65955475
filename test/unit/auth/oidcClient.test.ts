import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { OidcClient, accountPrompt, checkProviderEndpoints, describeOidcError } from '../../../src/core/auth/OidcClient';
import { UserFacingError } from '../../../src/core/errors';
import { closedPort, fakeIdpServer, type FakeIdpServer } from './fakeIdpServer';

const SCOPES = ['openid', 'profile', 'email', 'offline_access'];

describe('OidcClient against a loopback provider', () => {
  let idp: FakeIdpServer;
  beforeEach(async () => (idp = await fakeIdpServer()));
  afterEach(() => idp.close());

  it('refreshes without a scope parameter (RFC 6749 §6: the scope originally granted)', async () => {
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
    const t = await client.refresh('rt-1');
    assert.equal(t.accessToken, 'at-1');
    const req = idp.seen.find((r) => r.path === '/token')!;
    assert.equal(req.form.get('grant_type'), 'refresh_token');
    assert.equal(req.form.has('scope'), false, `refresh sent scope=${req.form.get('scope')}`);
    client.close();
  });

  for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'device_authorization_endpoint', 'revocation_endpoint', 'jwks_uri', 'end_session_endpoint']) {
    it(`refuses a loopback http issuer whose ${endpoint} is plain http on another host`, async () => {
      idp.metadata[endpoint] = 'http://idp.attacker.example/steal';
      await assert.rejects(OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES }), (e) => {
        assert.ok(e instanceof UserFacingError);
        assert.equal(e.kind, 'config');
        assert.match(e.message, new RegExp(`${endpoint} http://idp\\.attacker\\.example/steal is not https`));
        return true;
      });
      assert.equal(idp.seen.filter((r) => r.path !== '/.well-known/openid-configuration').length, 0, 'nothing else was requested');
    });
  }

  it('accepts https endpoints and http endpoints on loopback hosts', async () => {
    idp.metadata.revocation_endpoint = 'https://idp.example.com/revoke';
    idp.metadata.end_session_endpoint = 'http://localhost:9/logout';
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
    assert.equal(client.endSessionSupported, true);
    client.close();
  });

  it('names an unreachable token endpoint host as a network problem (refused)', async () => {
    const port = await closedPort();
    idp.metadata.token_endpoint = `http://127.0.0.1:${port}/token`;
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
    await assert.rejects(client.refresh('rt-1'), (e) => {
      assert.ok(e instanceof UserFacingError);
      assert.equal(e.kind, 'network');
      assert.match(e.message, new RegExp(`Cannot reach the identity provider at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\).*unreachable`));
      assert.doesNotMatch(e.display, /Sign-in failed|fetch failed/);
      return true;
    });
    client.close();
  });

  it('names a connection reset by the provider as a network problem', async () => {
    const resetter = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
    const port = (resetter.address() as AddressInfo).port;
    idp.metadata.token_endpoint = `http://127.0.0.1:${port}/token`;
    try {
      const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
      await assert.rejects(client.refresh('rt-1'), (e) => {
        assert.ok(e instanceof UserFacingError);
        assert.equal(e.kind, 'network', e.display);
        assert.match(e.message, new RegExp(`Cannot reach the identity provider at http://127\\.0\\.0\\.1:${port}`));
        return true;
      });
      client.close();
    } finally {
      await new Promise<void>((r) => resetter.close(() => r()));
    }
  });

  it('close() cuts off a request in flight', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    idp.metadata.token_endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/token`;
    try {
      const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
      const p = client.refresh('rt-1');
      while (!held.length) await new Promise((r) => setTimeout(r, 5));
      client.close();
      await assert.rejects(p);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('builds the end-session URL with id_token_hint and client_id', async () => {
    idp.metadata.end_session_endpoint = `${idp.issuer}/session/end`;
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
    const u = client.endSessionUrl({ idTokenHint: 'a.b.c' })!;
    assert.equal(u.origin + u.pathname, `${idp.issuer}/session/end`);
    assert.equal(u.searchParams.get('client_id'), 'cid');
    assert.equal(u.searchParams.get('id_token_hint'), 'a.b.c');
    client.close();
  });

  it('puts prompt into the authorization URL only when asked', async () => {
    const client = await OidcClient.discover({ issuer: idp.issuer, clientId: 'cid', scopes: SCOPES });
    const base = { redirectUri: 'http://127.0.0.1:1/callback', codeChallenge: 'c', state: 's', nonce: 'n' };
    assert.equal(client.authorizationUrl(base).searchParams.has('prompt'), false);
    assert.equal(client.authorizationUrl({ ...base, prompt: 'login' }).searchParams.get('prompt'), 'login');
    client.close();
  });
});

describe('checkProviderEndpoints', () => {
  const table: Array<[string, Record<string, unknown>, number]> = [
    ['all https', { token_endpoint: 'https://a.example/t', jwks_uri: 'https://a.example/k' }, 0],
    ['loopback http', { token_endpoint: 'http://127.0.0.2:9400/t', end_session_endpoint: 'http://[::1]:1/x' }, 0],
    ['http elsewhere', { token_endpoint: 'http://a.example/t' }, 1],
    ['http on a lookalike host', { authorization_endpoint: 'http://127.0.0.1.nip.io/a' }, 1],
    ['credentials in the URL', { revocation_endpoint: 'https://u:p@a.example/r' }, 1],
    ['not a URL', { device_authorization_endpoint: 'nope' }, 1],
    ['other schemes', { jwks_uri: 'file:///etc/passwd' }, 1],
    ['unused endpoints are not checked', { userinfo_endpoint: 'http://a.example/u' }, 0],
  ];
  for (const [name, md, problems] of table) it(name, () => assert.equal(checkProviderEndpoints(md).length, problems));
});

describe('accountPrompt', () => {
  const table: Array<['login' | 'select_account', unknown, string]> = [
    ['login', undefined, 'login'],
    ['select_account', ['none', 'login', 'consent', 'select_account'], 'select_account'],
    ['select_account', ['none', 'login', 'consent'], 'login'],
    ['select_account', undefined, 'login'],
  ];
  for (const [asked, supported, sent] of table) it(`${asked} with ${JSON.stringify(supported)} → ${sent}`, () => assert.equal(accountPrompt(asked, supported), sent));
});

describe('describeOidcError wording', () => {
  const denied = (description?: string) =>
    new oidc.AuthorizationResponseError('authorization response from the server is an error', {
      cause: new URLSearchParams({ error: 'access_denied', ...(description ? { error_description: description } : {}) }),
    });

  it('a user who declines at the consent screen reads "You declined"', () => {
    for (const desc of ['End-User aborted interaction', 'User did not authorize the request', undefined]) {
      const e = describeOidcError(denied(desc), 'https://login.example.com/oauth2/default', 'sign-in');
      assert.match(e.display, /^You declined the sign-in at login\.example\.com/);
      assert.doesNotMatch(e.display, /administrator/);
    }
  });

  it('a policy refusal still asks the administrator', () => {
    const e = describeOidcError(denied('User is not assigned to the client application.'), 'https://login.example.com', 'sign-in');
    assert.match(e.display, /administrator/);
  });

  it('finds the network code through nested causes and names the endpoint host', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    const fetchFailed = new TypeError('fetch failed', { cause: new AggregateError([inner]) });
    const wrapped = new Error('something went wrong', { cause: fetchFailed });
    const e = describeOidcError(wrapped, 'https://login.example.com', 'session refresh', 'https://tokens.example.com/token');
    assert.equal(e.kind, 'network');
    assert.match(e.message, /Cannot reach the identity provider at https:\/\/tokens\.example\.com \(ECONNREFUSED\)/);
  });

  it('offers the buttons its text names: Open Settings at the setting, and Retry of the failed step', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    const atSignIn = describeOidcError(refused, 'https://login.example.com', 'discovery');
    assert.deepEqual(
      atSignIn.remedies.map((r) => [r.title, r.command, r.args]),
      [
        ['Open Settings', 'workbench.action.openSettings', ['mlspanner.idp.issuer']],
        ['Retry', 'mlspanner.signIn', []],
      ],
    );
    const atRefresh = describeOidcError(refused, 'https://login.example.com', 'session refresh');
    assert.deepEqual(atRefresh.remedies.map((r) => r.command), ['workbench.action.openSettings', 'mlspanner.refreshCredentials']);
    const badClient = describeOidcError(new oidc.ResponseBodyError('bad', { cause: { error: 'invalid_client' }, response: new Response('{}', { status: 401 }) }), 'https://login.example.com', 'sign-in');
    assert.deepEqual(badClient.remedies.map((r) => r.args), [['mlspanner.idp.clientId']], 'a configuration error is not retried as is');
    const declined = describeOidcError(denied('The user declined'), 'https://login.example.com', 'sign-in');
    assert.deepEqual(declined.remedies.map((r) => r.command), ['mlspanner.signIn'], 'the Sign In its text names, nothing to open or retry');
  });
});
