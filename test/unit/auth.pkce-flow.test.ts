import { strict as assert } from 'node:assert';
import * as oidc from 'openid-client';
import { chooseSignInFlow, type FlowContext } from '../../src/core/auth/signInFlow';
import { formatRemaining, expiryLevel, statusText } from '../../src/core/format/countdown';
import { extractGroups, displayName, emailOf, jwtExpiry } from '../../src/core/auth/claims';
import { validateIssuer, isLoopbackHost } from '../../src/core/auth/OidcClient';

describe('PKCE (RFC 7636)', () => {
  it('derives the S256 challenge of the RFC test vector', async () => {
    assert.equal(await oidc.calculatePKCECodeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
  it('makes verifiers of 43-128 unreserved characters, different each time', () => {
    const a = oidc.randomPKCECodeVerifier();
    const b = oidc.randomPKCECodeVerifier();
    assert.match(a, /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.notEqual(a, b);
  });
});

describe('chooseSignInFlow', () => {
  const base: FlowContext = { setting: 'auto', uiKind: 'desktop', browserOnThisMachine: false, deviceFlowSupported: true };
  const table: Array<[string, Partial<FlowContext>, string, boolean]> = [
    ['auto, local desktop', {}, 'loopback', false],
    ['auto, desktop ssh remote', { remoteName: 'ssh-remote' }, 'deviceCode', false],
    ['auto, desktop dev container', { remoteName: 'dev-container' }, 'deviceCode', false],
    ['auto, codespaces in a browser', { uiKind: 'web', remoteName: 'codespaces' }, 'deviceCode', false],
    ['auto, code-server reached on loopback', { uiKind: 'web', browserOnThisMachine: true }, 'loopback', false],
    ['auto, code-server reached from another host', { uiKind: 'web', browserOnThisMachine: false }, 'deviceCode', false],
    ['auto, remote but no device endpoint', { remoteName: 'wsl', deviceFlowSupported: false }, 'loopback', false],
    ['loopback forced in a remote window', { setting: 'loopback', remoteName: 'ssh-remote' }, 'loopback', false],
    ['deviceCode forced', { setting: 'deviceCode' }, 'deviceCode', false],
    ['deviceCode forced, unsupported', { setting: 'deviceCode', deviceFlowSupported: false }, 'loopback', true],
  ];
  for (const [name, ctx, flow, note] of table) {
    it(name, () => {
      const d = chooseSignInFlow({ ...base, ...ctx });
      assert.equal(d.flow, flow);
      assert.equal(Boolean(d.note), note);
    });
  }
});

describe('countdown', () => {
  const table: Array<[number, string]> = [
    [0, '0:00'],
    [-5000, '0:00'],
    [999, '0:00'],
    [59_000, '0:59'],
    [899_999, '14:59'],
    [3_599_000, '59:59'],
    [3_600_000, '1:00:00'],
    [3_725_000, '1:02:05'],
  ];
  for (const [ms, text] of table) it(`${ms} ms → ${text}`, () => assert.equal(formatRemaining(ms), text));
  it('builds the public status-bar text', () => assert.equal(statusText('staging', 899_000), '$(key) staging 14:59'));
  it('levels: ok, warning below the threshold, expired at zero', () => {
    assert.equal(expiryLevel(301_000, 300), 'ok');
    assert.equal(expiryLevel(299_000, 300), 'warning');
    assert.equal(expiryLevel(0, 300), 'expired');
  });
});

describe('claims', () => {
  it('reads groups as an array, a string, or a nested Keycloak path', () => {
    assert.deepEqual(extractGroups({ groups: ['ml-dev', 'ml-dev', 'ml-staging'] }, 'groups'), ['ml-dev', 'ml-staging']);
    assert.deepEqual(extractGroups({ roles: 'a b,c' }, 'roles'), ['a', 'b', 'c']);
    assert.deepEqual(extractGroups({ realm_access: { roles: ['ml-prod'] } }, 'realm_access.roles'), ['ml-prod']);
    assert.deepEqual(extractGroups({}, 'groups'), []);
    assert.deepEqual(extractGroups({ groups: [1, 'x'] }, 'groups'), ['x']);
  });
  it('names the user from the first claim present', () => {
    assert.equal(displayName({ name: 'Alice Example', sub: 'a' }), 'Alice Example');
    assert.equal(displayName({ preferred_username: 'bob', sub: 'b' }), 'bob');
    assert.equal(displayName({ sub: 'c' }), 'c');
    assert.equal(emailOf({ upn: 'dan@corp.example' }), 'dan@corp.example');
  });
  it('reads a JWT expiry without trusting it', () => {
    const t = `x.${Buffer.from(JSON.stringify({ exp: 100 })).toString('base64url')}.y`;
    assert.equal(jwtExpiry(t), 100_000);
    assert.equal(jwtExpiry('opaque'), undefined);
  });
});

describe('issuer validation', () => {
  it('accepts https and loopback http', () => {
    validateIssuer('https://login.example.com/oauth2/default');
    validateIssuer('http://127.0.0.2:9400');
    validateIssuer('http://localhost:8080/realms/ml');
  });
  for (const bad of ['http://idp.example.com', 'not a url', 'https://user:pw@idp.example.com', 'https://idp.example.com/?x=1', 'ftp://idp.example.com']) {
    it(`rejects ${bad}`, () => assert.throws(() => validateIssuer(bad), /mlspanner\.idp\.issuer/));
  }
  it('knows loopback hosts', () => {
    assert.ok(isLoopbackHost('127.0.0.2') && isLoopbackHost('[::1]') && isLoopbackHost('localhost'));
    assert.ok(!isLoopbackHost('128.0.0.1') && !isLoopbackHost('localhost.example.com'));
  });
});
