import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { completeDeviceLogin, loginThroughIdp } from './browserlessLogin';
import { sandbox } from './setup';

const SCOPES = 'openid profile email offline_access';

async function discover(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(sandbox().issuer), sandbox().clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

/** Authorization code + PKCE (RFC 7636 S256) through the login page, as the extension does it. */
async function signIn(config: oidc.Configuration, username: string, port = 53_682): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: `http://127.0.0.1:${port}/callback`,
    scope: SCOPES,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await loginThroughIdp(url.href, username, 'demo');
  return oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
}

function oauthError(e: unknown): string | undefined {
  return (e as { error?: string }).error;
}

describe('sandbox identity provider', () => {
  let config: oidc.Configuration;
  before(async () => {
    config = await discover();
  });

  it('publishes discovery with PKCE S256, device flow, revocation and RFC 9207 iss', async () => {
    const res = await fetch(`${sandbox().issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const meta = (await res.json()) as Record<string, unknown>;
    assert.equal(meta.issuer, sandbox().issuer);
    assert.ok(new URL(sandbox().issuer).hostname === '127.0.0.2');
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'revocation_endpoint', 'device_authorization_endpoint']) {
      assert.match(String(meta[key]), new RegExp(`^${sandbox().issuer}/`), key);
    }
    assert.ok((meta.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:device_code'));
    assert.ok((meta.scopes_supported as string[]).includes('offline_access'));
    assert.ok((meta.claims_supported as string[]).includes('groups'));
  });

  it('signs in with code + PKCE and puts the user claims and groups in the ID token', async () => {
    const tokens = await signIn(config, 'alice');
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.iss, sandbox().issuer);
    assert.equal(claims.aud, sandbox().clientId);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.name, 'Alice Example');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.email_verified, true);
    assert.equal(claims.preferred_username, 'alice');
    assert.deepEqual(claims.groups, ['ml-dev', 'ml-staging']);
    assert.equal(decodeJwt(tokens.id_token as string).groups !== undefined, true);
    assert.ok(tokens.refresh_token, 'offline_access yields a refresh token without prompt=consent');
    assert.ok(tokens.expires_in && tokens.expires_in > 0 && tokens.expires_in <= 3600);
  });

  it('returns code, state and iss (RFC 9207) to a loopback redirect on any port (RFC 8252 §7.3)', async () => {
    for (const port of [50_001, 61_234]) {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${port}/callback`,
        scope: SCOPES,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st-' + port,
      });
      const callback = new URL(await loginThroughIdp(url.href, 'bob', 'demo'));
      assert.equal(callback.origin, `http://127.0.0.1:${port}`);
      assert.equal(callback.pathname, '/callback');
      assert.equal(callback.searchParams.get('state'), 'st-' + port);
      assert.equal(callback.searchParams.get('iss'), sandbox().issuer);
      assert.ok(callback.searchParams.get('code'));
    }
  });

  it('refuses a redirect URI that is not registered loopback, and a request without PKCE', async () => {
    const base = { client_id: sandbox().clientId, response_type: 'code', scope: SCOPES, state: 's' };
    const foreign = new URL(`${sandbox().issuer}/auth?${new URLSearchParams({ ...base, redirect_uri: 'http://192.0.2.1:8080/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`);
    await assert.rejects(loginThroughIdp(foreign.href, 'alice', 'demo'), /redirect_uri/);
    const noPkce = new URL(`${sandbox().issuer}/auth?${new URLSearchParams({ ...base, redirect_uri: 'http://127.0.0.1:5000/callback' })}`);
    const callback = new URL(await loginThroughIdp(noPkce.href, 'alice', 'demo'));
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.match(callback.searchParams.get('error_description') ?? '', /PKCE/);
  });

  it('shows the error on a wrong password and does not redirect', async () => {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:5001/callback',
      scope: SCOPES,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    await assert.rejects(loginThroughIdp(url.href, 'alice', 'wrong'), /Wrong username or password/);
  });

  it('issues RS256 JWT access tokens for urn:mlspanner:api carrying sub and groups', async () => {
    const tokens = await signIn(config, 'carol');
    const jwks = createRemoteJWKSet(new URL(`${sandbox().issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: sandbox().issuer, audience: 'urn:mlspanner:api' });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, 'carol');
    assert.deepEqual(payload.groups, ['ml-dev', 'ml-staging', 'ml-prod']);
    assert.equal(payload.client_id, sandbox().clientId);
  });

  it('refreshes with rotation, and revocation (RFC 7009) ends the refresh token', async () => {
    const tokens = await signIn(config, 'alice');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    assert.ok(refreshed.id_token);
    assert.deepEqual(refreshed.claims()?.groups, ['ml-dev', 'ml-staging']);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
    await oidc.tokenRevocation(config, refreshed.refresh_token as string, { token_type_hint: 'refresh_token' });
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token as string), (e) => oauthError(e) === 'invalid_grant');
    // RFC 7009 §2.2: unknown tokens are answered with 200 too.
    await oidc.tokenRevocation(config, 'not-a-token');
  });

  it('revoking a user through the admin knob makes refresh fail with invalid_grant', async () => {
    const tokens = await signIn(config, 'bob');
    await sandbox().admin.revokeUser('bob');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token as string), (e) => oauthError(e) === 'invalid_grant');
    // A fresh sign-in still works afterwards.
    assert.ok((await signIn(config, 'bob')).refresh_token);
  });

  it('fails the token endpoint once with 503 when asked to, then recovers', async () => {
    const tokens = await signIn(config, 'alice');
    // Through the HTTP admin endpoint, as a test in another process would.
    const knob = await fetch(`${sandbox().issuer}/__sandbox/token-fault`, { method: 'POST', body: JSON.stringify({ status: 503 }) });
    assert.equal(knob.status, 204);
    const res = await fetch(config.serverMetadata().token_endpoint as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: sandbox().clientId }),
    });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok((await oidc.refreshTokenGrant(config, tokens.refresh_token as string)).access_token);
  });

  it('completes the device authorization grant (RFC 8628) through the user-code page', async () => {
    const device = await oidc.initiateDeviceAuthorization(config, { scope: SCOPES });
    assert.ok(device.verification_uri_complete);
    await completeDeviceLogin(device.verification_uri_complete, 'carol', 'demo');
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    assert.equal(tokens.claims()?.sub, 'carol');
    assert.deepEqual(tokens.claims()?.groups, ['ml-dev', 'ml-staging', 'ml-prod']);
    assert.ok(tokens.refresh_token);
  });
});

describe('sandbox emulators accept the IdP identity', () => {
  let idToken: string;
  before(async () => {
    idToken = (await signIn(await discover(), 'alice')).id_token as string;
  });

  it('exchanges the ID token at Google STS, then impersonates the staging service account', async () => {
    const sts = await fetch(`${sandbox().google.stsUrl}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: sandbox().google.audience('staging'),
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token: idToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      }),
    });
    assert.equal(sts.status, 200);
    const federated = (await sts.json()) as { access_token: string };
    const sa = sandbox().google.serviceAccount('staging');
    const iam = await fetch(`${sandbox().google.iamCredentialsUrl}/v1/projects/-/serviceAccounts/${encodeURIComponent(sa)}:generateAccessToken`, {
      method: 'POST',
      headers: { authorization: `Bearer ${federated.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/spanner.data'], lifetime: '900s' }),
    });
    assert.equal(iam.status, 200);
    // alice is not in ml-prod: the prod service account is denied.
    const prod = await fetch(`${sandbox().google.iamCredentialsUrl}/v1/projects/-/serviceAccounts/${sandbox().google.serviceAccount('prod')}:generateAccessToken`, {
      method: 'POST',
      headers: { authorization: `Bearer ${federated.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'] }),
    });
    assert.equal(prod.status, 403);
  });

  it('assumes the staging AWS role with the ID token and denies prod', async () => {
    const call = (env: string) =>
      fetch(sandbox().aws.stsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: sandbox().aws.roleArn(env), RoleSessionName: 'alice', WebIdentityToken: idToken }),
      });
    const ok = await call('staging');
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<AccessKeyId>ASIA[A-Z0-9]{16}<\/AccessKeyId>/);
    const denied = await call('prod');
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /<Code>AccessDenied<\/Code>/);
  });

  it('federates the ID token into a Databricks workspace token (RFC 8693)', async () => {
    const res = await fetch(`${sandbox().databricks.dev}/oidc/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: idToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'all-apis',
      }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token?: string; token_type?: string };
    assert.ok(body.access_token);
    assert.match(body.token_type ?? '', /^bearer$/i);
  });

  it('gives an environments setting that points at the running emulators', () => {
    const envs = sandbox().environments as Record<string, { spanner?: Record<string, string>; aws?: Record<string, string>; databricks?: Record<string, string> }>;
    assert.deepEqual(Object.keys(envs), ['dev', 'staging', 'prod']);
    assert.equal(envs.dev.spanner?.stsEndpoint, sandbox().google.stsUrl);
    assert.equal(envs.dev.spanner?.iamCredentialsEndpoint, sandbox().google.iamCredentialsUrl);
    assert.equal(envs.dev.aws?.stsEndpoint, sandbox().aws.stsUrl);
    assert.equal(envs.prod.databricks?.host, sandbox().databricks.prod);
  });
});
