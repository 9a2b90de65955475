import assert from 'node:assert/strict';
import { startGoogleEmulator, type GoogleEmulator } from '../../sandbox/google/GoogleEmulator';
import { camelToSnake, discoveryMethod, loadContract, schemaViolations, type DiscoveryDocument } from './contracts';
import { startTestIssuer, type TestIssuer } from './TestIssuer';

const sts = loadContract<DiscoveryDocument>('sts.v1.discovery.EXTRACT.json');
const iam = loadContract<DiscoveryDocument>('iamcredentials.v1.discovery.json');
const AUDIENCE = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/ml-pool/providers/test-idp';
const GUARDED_AUDIENCE = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/ml-pool/providers/prod-only';
const CLIENT_ID = 'test-client';
const SA = 'ml-staging@ml-sandbox.iam.gserviceaccount.com';

function isGoogleError(body: unknown, status: number, googleStatus: string): boolean {
  const e = (body as { error?: Record<string, unknown> }).error;
  return !!e && Object.keys(body as object).length === 1 && e.code === status && e.status === googleStatus && typeof e.message === 'string' && e.message.length > 0;
}

describe('Google emulator against the STS and IAM Credentials discovery documents', () => {
  let idp: TestIssuer;
  let google: GoogleEmulator;
  const stsMethod = discoveryMethod(sts, 'sts.token');
  const iamMethod = discoveryMethod(iam, 'iamcredentials.projects.serviceAccounts.generateAccessToken');

  before(async () => {
    idp = await startTestIssuer(CLIENT_ID);
    google = await startGoogleEmulator({
      quiet: true,
      providers: [
        { audience: AUDIENCE, issuer: idp.issuer, allowedAudiences: [CLIENT_ID], subjectClaim: 'sub', groupsClaim: 'groups' },
        { audience: GUARDED_AUDIENCE, issuer: idp.issuer, allowedAudiences: [CLIENT_ID], subjectClaim: 'sub', groupsClaim: 'groups', requiredGroups: ['ml-prod'] },
      ],
      serviceAccounts: { [SA]: { groups: ['ml-staging'] } },
    });
  });
  after(async () => {
    await google?.close();
    await idp?.close();
  });

  /** Form parameters named after the discovery request schema (snake_case on the wire). */
  function exchangeParams(overrides: Record<string, string> = {}): URLSearchParams {
    const params = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: AUDIENCE,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: '',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      ...overrides,
    });
    const known = new Set(Object.keys(sts.schemas[stsMethod.request?.$ref ?? ''].properties).map(camelToSnake));
    for (const key of params.keys()) assert.ok(known.has(key), `request parameter ${key} is not in the STS request schema`);
    return params;
  }

  async function exchange(params: URLSearchParams, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${google.stsUrl}/${stsMethod.path}`, {
      method: stsMethod.httpMethod,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: params,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function federatedToken(groups: string[]): Promise<string> {
    const { body } = await exchange(exchangeParams({ subject_token: await idp.sign({ sub: 'alice', groups }) }));
    return body.access_token as string;
  }

  async function generate(sa: string, token: string | undefined, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
    const name = `projects/-/serviceAccounts/${sa}`;
    assert.match(name, new RegExp(iamMethod.parameters?.name.pattern ?? '^$'));
    const path = iamMethod.path.replace('{+name}', name);
    const res = await fetch(`${google.iamCredentialsUrl}/${path}`, {
      method: iamMethod.httpMethod,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers a token exchange with exactly the response schema fields', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const subject = await idp.sign({ sub: 'alice', groups: ['ml-dev'] }, { alg });
      const { status, body } = await exchange(exchangeParams({ subject_token: subject }));
      assert.equal(status, 200);
      assert.deepEqual(schemaViolations(sts, stsMethod.response?.$ref ?? '', body), []);
      assert.deepEqual(Object.keys(body).sort(), Object.keys(sts.schemas[stsMethod.response?.$ref ?? ''].properties).sort());
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.ok((body.expires_in as number) > 3500 && (body.expires_in as number) <= 3600);
    }
  });

  it('accepts the id_token subject token type and caps the lifetime at the subject token', async () => {
    const subject = await idp.sign({ sub: 'alice' }, { expiresInSeconds: 300 });
    const { status, body } = await exchange(exchangeParams({ subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }));
    assert.equal(status, 200);
    assert.ok((body.expires_in as number) <= 300 && (body.expires_in as number) >= 295, `expires_in ${body.expires_in}`);
  });

  it('answers OAuth errors: invalid_target, invalid_grant, unauthorized_client, invalid_request', async () => {
    const good = await idp.sign({ sub: 'alice', groups: ['ml-dev'] });
    const cases: Array<[string, URLSearchParams, Record<string, string>, string]> = [
      ['unknown audience', exchangeParams({ subject_token: good, audience: AUDIENCE.replace('test-idp', 'nope') }), {}, 'invalid_target'],
      ['expired token', exchangeParams({ subject_token: await idp.sign({ sub: 'alice' }, { expiresInSeconds: -10 }) }), {}, 'invalid_grant'],
      ['wrong audience', exchangeParams({ subject_token: await idp.sign({ sub: 'alice' }, { audience: 'someone-else' }) }), {}, 'invalid_grant'],
      ['unknown key', exchangeParams({ subject_token: await idp.signWithForeignKey({ sub: 'alice' }) }), {}, 'invalid_grant'],
      ['not a JWT', exchangeParams({ subject_token: 'abc' }), {}, 'invalid_grant'],
      ['attribute condition', exchangeParams({ subject_token: good, audience: GUARDED_AUDIENCE }), {}, 'unauthorized_client'],
      ['Authorization header', exchangeParams({ subject_token: good }), { authorization: 'Bearer x' }, 'invalid_request'],
      ['wrong grant type', exchangeParams({ subject_token: good, grant_type: 'client_credentials' }), {}, 'unsupported_grant_type'],
      ['no scope', exchangeParams({ subject_token: good, scope: '' }), {}, 'invalid_request'],
    ];
    for (const [what, params, headers, error] of cases) {
      const { status, body } = await exchange(params, headers);
      assert.equal(status, 400, what);
      assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'], what);
      assert.equal(body.error, error, what);
      assert.ok(!JSON.stringify(body).includes(good), `${what}: the error must not echo the subject token`);
    }
  });

  it('generates a service-account token with the generateAccessToken response schema', async () => {
    const token = await federatedToken(['ml-staging']);
    const request = { scope: ['https://www.googleapis.com/auth/spanner.data'], lifetime: '900s' };
    assert.deepEqual(schemaViolations(iam, iamMethod.request?.$ref ?? '', request), []);
    const before = Date.now();
    const { status, body } = await generate(SA, token, request);
    assert.equal(status, 200);
    assert.deepEqual(schemaViolations(iam, iamMethod.response?.$ref ?? '', body), []);
    assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'expireTime']);
    const expires = Date.parse(body.expireTime as string);
    assert.match(body.expireTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(expires >= before + 899_000 && expires <= Date.now() + 900_000, 'expireTime follows the requested lifetime');
    assert.ok(google.lookupToken(body.accessToken as string)?.principal === SA);
  });

  it('answers Google errors: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 400 INVALID_ARGUMENT', async () => {
    const allowed = await federatedToken(['ml-staging']);
    const denied = await federatedToken(['ml-dev']);
    const scope = ['https://www.googleapis.com/auth/cloud-platform'];
    const cases: Array<[string, Promise<{ status: number; body: Record<string, unknown> }>, number, string]> = [
      ['no bearer', generate(SA, undefined, { scope }), 401, 'UNAUTHENTICATED'],
      ['unknown bearer', generate(SA, 'ya29.made-up', { scope }), 401, 'UNAUTHENTICATED'],
      ['not in the group', generate(SA, denied, { scope }), 403, 'PERMISSION_DENIED'],
      ['unknown account', generate('nobody@ml-sandbox.iam.gserviceaccount.com', allowed, { scope }), 403, 'PERMISSION_DENIED'],
      ['lifetime over 3600s', generate(SA, allowed, { scope, lifetime: '7200s' }), 400, 'INVALID_ARGUMENT'],
      ['lifetime not a duration', generate(SA, allowed, { scope, lifetime: '15m' }), 400, 'INVALID_ARGUMENT'],
      ['no scope', generate(SA, allowed, {}), 400, 'INVALID_ARGUMENT'],
    ];
    for (const [what, call, status, googleStatus] of cases) {
      const res = await call;
      assert.equal(res.status, status, what);
      assert.ok(isGoogleError(res.body, status, googleStatus), `${what}: ${JSON.stringify(res.body)}`);
    }
  });

  it('does not accept a token once it expired', async () => {
    let now = Date.now();
    const clocked = await startGoogleEmulator({
      quiet: true,
      now: () => now,
      providers: [{ audience: AUDIENCE, issuer: idp.issuer, allowedAudiences: [CLIENT_ID], subjectClaim: 'sub', groupsClaim: 'groups' }],
      serviceAccounts: { [SA]: { groups: ['ml-staging'] } },
    });
    try {
      const res = await fetch(`${clocked.stsUrl}/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: exchangeParams({ subject_token: await idp.sign({ sub: 'alice', groups: ['ml-staging'] }) }),
      });
      const { access_token: token, expires_in: ttl } = (await res.json()) as { access_token: string; expires_in: number };
      assert.ok(clocked.lookupToken(token));
      now += ttl * 1000;
      assert.equal(clocked.lookupToken(token), undefined);
      const iamRes = await fetch(`${clocked.iamCredentialsUrl}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'] }),
      });
      assert.equal(iamRes.status, 401);
    } finally {
      await clocked.close();
    }
  });
});
