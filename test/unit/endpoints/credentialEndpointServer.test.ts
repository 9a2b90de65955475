import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Credential } from '../../../src/core/credentials/Credential';
import { UserFacingError } from '../../../src/core/errors';
import {
  CredentialEndpointServer,
  mergeNoProxy,
  secretMatches,
  toDotEnv,
  type EndpointConsumer,
  type EndpointRegistration,
} from '../../../src/core/endpoints/CredentialEndpointServer';
import { UNSET_VARIABLES, type EndpointTarget } from '../../../src/core/endpoints/endpointProtocols';
import { RecordingSink } from '../fakes/RecordingSink';

const HOST = 'https://dbc-1234.cloud.databricks.com';
const ENVIRONMENTS = {
  dev: {
    name: 'dev',
    databricks: { host: HOST, scopes: ['all-apis'], subjectToken: 'idToken' as const },
    spanner: {
      project: 'ml-dev',
      instance: 'ml',
      database: 'features',
      workloadIdentityAudience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x',
      subjectToken: 'idToken' as const,
      stsEndpoint: 'https://sts.googleapis.com',
      iamCredentialsEndpoint: 'https://iamcredentials.googleapis.com',
      endpoint: 'https://spanner.googleapis.com',
    },
    aws: { roleArn: 'arn:aws:iam::123456789012:role/ml-dev', region: 'eu-west-1', subjectToken: 'idToken' as const, stsEndpoint: 'https://sts.eu-west-1.amazonaws.com' },
  },
  staging: { name: 'staging', databricks: { host: 'https://staging.cloud.databricks.com', scopes: ['all-apis'], subjectToken: 'idToken' as const } },
  /** Private endpoints: the processes are pointed at them too. */
  private: {
    name: 'private',
    spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: 'x', subjectToken: 'idToken' as const, stsEndpoint: 's', iamCredentialsEndpoint: 'i', endpoint: 'https://spanner.internal.example' },
    aws: { roleArn: 'arn:aws:iam::123456789012:role/ml', region: 'us-east-1', subjectToken: 'idToken' as const, stsEndpoint: 'https://sts-vpce.internal.example' },
  },
  empty: { name: 'empty' },
};

let minted = 0;
/** A credential as the broker returns it (token values are unique per call). */
function credentialFor(environment: string, target: EndpointTarget, over: Partial<Record<string, unknown>> = {}): Credential {
  minted++;
  const base = {
    environment,
    target,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 3600_000,
    scopes: target === 'google' ? ['https://www.googleapis.com/auth/cloud-platform'] : [],
    source: 'federation',
    principal: target === 'databricks' ? (ENVIRONMENTS as Record<string, { databricks?: { host: string } }>)[environment]?.databricks?.host ?? '' : 'p',
    fingerprint: `sha256:fp${minted}`,
    subjectTokenKind: 'idToken',
  };
  const c =
    target === 'aws'
      ? { ...base, kind: 'aws', accessKeyId: `ASIA${'A'.repeat(12)}${String(minted).padStart(4, '0')}`, secretAccessKey: `secret-${minted}-xxxxxxxxxxxx`, sessionToken: `session-${minted}-yyyyyyyyyyyy`, assumedRoleArn: 'arn:aws:sts::1:assumed-role/r/alice' }
      : { ...base, kind: 'bearer', accessToken: target === 'google' ? `ya29.unit-${minted}-zzzzzzzzzzzz` : `dose${'0'.repeat(28)}${String(minted).padStart(4, '0')}` };
  return { ...c, ...over } as unknown as Credential;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const dbxHeaders = (host = HOST) => ({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host });
const googleForm = (secret: string, grant = 'refresh_token') => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('mlspanner-local-endpoint:public-loopback-client').toString('base64')}` },
  body: new URLSearchParams({ grant_type: grant, refresh_token: secret }).toString(),
});

function googleFileOf(reg: EndpointRegistration): { token_url: string; refresh_token: string; type: string; [k: string]: unknown } {
  return JSON.parse(readFileSync(reg.env.GOOGLE_APPLICATION_CREDENTIALS, 'utf8')) as { token_url: string; refresh_token: string; type: string };
}

describe('local credential endpoints', () => {
  let server: CredentialEndpointServer;
  let sink: RecordingSink;
  let logs: string[];
  let tempRoot: string;
  let credential: (environment: string, target: EndpointTarget, consumer: EndpointConsumer) => Promise<Credential>;
  const issued: Credential[] = [];
  const consumer: EndpointConsumer = { kind: 'terminal', name: 'ML Spanner: dev' };

  beforeEach(() => {
    sink = new RecordingSink();
    logs = [];
    issued.length = 0;
    tempRoot = mkdtempSync(path.join(os.tmpdir(), 'endpoints-test-'));
    credential = async (environment, target) => {
      const c = credentialFor(environment, target);
      issued.push(c);
      return c;
    };
    server = new CredentialEndpointServer({
      credential: (e, t, c) => credential(e, t, c),
      environment: (name) => (ENVIRONMENTS as Record<string, { name: string }>)[name] as never,
      sink,
      log: (m) => void logs.push(m),
      tempRoot,
      credentialTimeoutMs: 2_000,
    });
  });

  afterEach(() => {
    server.dispose();
    rmSync(tempRoot, { recursive: true, force: true });
  });

  it('binds 127.0.0.1 only, on a random port, once started by the first registration', async () => {
    assert.equal(server.origin, undefined, 'not started before first use');
    await server.register({ environment: 'dev', consumer });
    const origin = new URL(server.origin!);
    assert.equal(origin.hostname, '127.0.0.1');
    assert.ok(Number(origin.port) > 0);
    await assert.rejects(request(`http://127.0.0.2:${origin.port}/`), /ECONNREFUSED/);
  });

  it('gives each consumer its own unguessable prefix and secret, and the variables of every configured target', async () => {
    const a = await server.register({ environment: 'dev', consumer });
    const b = await server.register({ environment: 'dev', consumer: { kind: 'task', name: 'train' } });
    assert.deepEqual(a.targets, ['databricks', 'google', 'aws']);
    const prefixOf = (r: EndpointRegistration) => new URL(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI).pathname.split('/')[1];
    for (const r of [a, b]) {
      assert.match(prefixOf(r), /^[A-Za-z0-9_-]{22,}$/, '≥ 128 bits, base64url');
      assert.ok(Buffer.from(r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, 'base64url').length >= 32);
      assert.equal(r.env.DATABRICKS_HOST, HOST);
      assert.equal(r.env.DATABRICKS_AUTH_TYPE, 'metadata-service');
      assert.match(r.env.DATABRICKS_METADATA_SERVICE_URL, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${prefixOf(r)}/databricks/${r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN}$`));
      assert.equal(r.env.GOOGLE_CLOUD_PROJECT, 'ml-dev');
      assert.equal(r.env.CLOUDSDK_CORE_PROJECT, 'ml-dev');
      assert.equal(r.env.CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE, r.env.GOOGLE_APPLICATION_CREDENTIALS);
      assert.equal(r.env.AWS_REGION, 'eu-west-1');
      assert.equal(r.env.AWS_ENDPOINT_URL_STS, undefined, 'the default regional endpoint needs no variable');
      assert.equal(r.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SPANNER, undefined);
      assert.equal(r.env.AWS_PROFILE, 'default', "the registration's own config file");
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'DATABRICKS_TOKEN', 'DATABRICKS_CONFIG_PROFILE', 'CLOUDSDK_AUTH_ACCESS_TOKEN']) {
        assert.ok(r.unset.includes(name), `${name} is unset`);
      }
      assert.deepEqual(r.unset.filter((n) => n in r.env), [], 'nothing both set and unset');
      assert.deepEqual(
        r.unset.filter((n) => !r.blank.includes(n)),
        ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'],
        'only a relative container URI must really be removed (botocore prefers it even empty)',
      );
    }
    assert.notEqual(prefixOf(a), prefixOf(b));
    assert.notEqual(a.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, b.env.AWS_CONTAINER_AUTHORIZATION_TOKEN);
    assert.deepEqual(server.list().map((r) => r.consumer.kind), ['terminal', 'task']);
  });

  it('points the processes at private STS and Spanner endpoints when the environment has them', async () => {
    const r = await server.register({ environment: 'private', consumer });
    assert.equal(r.env.AWS_ENDPOINT_URL_STS, 'https://sts-vpce.internal.example');
    assert.equal(r.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SPANNER, 'https://spanner.internal.example/');
  });

  it('registers only the targets asked for and configured; an environment with none is refused', async () => {
    const r = await server.register({ environment: 'dev', consumer, targets: ['aws'] });
    assert.deepEqual(r.targets, ['aws']);
    assert.equal(r.env.DATABRICKS_HOST, undefined);
    assert.equal(r.env.GOOGLE_APPLICATION_CREDENTIALS, undefined);
    assert.deepEqual(r.unset, UNSET_VARIABLES.aws);
    await assert.rejects(server.register({ environment: 'empty', consumer }), (e: unknown) => e instanceof UserFacingError && e.kind === 'config' && /no Databricks, Google or AWS credentials/.test(e.message));
    await assert.rejects(server.register({ environment: 'staging', consumer, targets: ['aws'] }), /has no AWS credentials/);
    await assert.rejects(server.register({ environment: 'nope', consumer }), /no environment "nope"/);
  });

  it('Databricks metadata-service: version 1 and the environment host in, {access_token, token_type, expires_on} out', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const ok = await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: dbxHeaders(`${HOST}/`) });
    assert.equal(ok.status, 200);
    const c = issued.at(-1) as Credential & { accessToken: string };
    assert.deepEqual(ok.body, { access_token: c.accessToken, token_type: 'Bearer', expires_on: Math.floor(c.expiresAt / 1000) });
    assert.equal(typeof ok.body.expires_on, 'number', 'a JSON number (the Python SDK calls datetime.fromtimestamp on it)');

    const noVersion = await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: { 'X-Databricks-Host': HOST } });
    assert.equal(noVersion.status, 400);
    assert.match(String(noVersion.body.message), /version/);
    assert.equal((await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: { 'X-Databricks-Metadata-Version': '2', 'X-Databricks-Host': HOST } })).status, 400);
    assert.equal((await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: { 'X-Databricks-Metadata-Version': '1' } })).status, 400);
    const otherHost = await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: dbxHeaders('https://other.cloud.databricks.com') });
    assert.equal(otherHost.status, 403);
    assert.match(String(otherHost.body.message), /"dev" workspace/);
    assert.equal(issued.length, 1, 'no credential is fetched for a refused request');
  });

  it('AWS container credentials: the secret as the Authorization header, {AccessKeyId, SecretAccessKey, Token, Expiration} out', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const ok = await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } });
    assert.equal(ok.status, 200);
    const c = issued.at(-1) as Credential & { accessKeyId: string; secretAccessKey: string; sessionToken: string };
    assert.deepEqual(Object.keys(ok.body).sort(), ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
    assert.equal(ok.body.AccessKeyId, c.accessKeyId);
    assert.equal(ok.body.SecretAccessKey, c.secretAccessKey);
    assert.equal(ok.body.Token, c.sessionToken);
    assert.match(String(ok.body.Expiration), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(Date.parse(String(ok.body.Expiration)), Math.floor(c.expiresAt / 1000) * 1000);
    assert.equal(readFileSync(r.env.AWS_CONFIG_FILE, 'utf8'), '[default]\nregion = eu-west-1\n');
    assert.equal(readFileSync(r.env.AWS_SHARED_CREDENTIALS_FILE, 'utf8'), '', 'no profile can win over the endpoint');
    assert.equal(readFileSync(r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8'), r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, 'the same secret, for SDKs that read the file first');
    if (process.platform !== 'win32') for (const f of r.files) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    await r.revoke();
    assert.equal(readFileSync(r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8'), '', 'the secret leaves the disk on revoke');
    const revoked = await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: '' } });
    assert.equal(revoked.status, 401);
    assert.match(String(revoked.body.Message), /revoked \(terminal closed\)/, 'a process reading the emptied file still learns why');
    assert.ok(existsSync(r.env.AWS_CONFIG_FILE), 'the config (no secret) stays until dispose, so the CLI reaches the endpoint');
    server.dispose();
    for (const f of r.files) assert.equal(existsSync(f), false, f);
  });

  it('Google: an external_account_authorized_user file with the endpoint and the secret (no token), private, removed on revoke', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const file = r.env.GOOGLE_APPLICATION_CREDENTIALS;
    const json = googleFileOf(r);
    assert.equal(json.type, 'external_account_authorized_user');
    assert.equal(json.refresh_token, r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, 'the consumer secret, nothing else');
    assert.match(json.token_url, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{22,}\/google\/token$/);
    assert.deepEqual(Object.keys(json).sort(), ['client_id', 'client_secret', 'refresh_token', 'token_info_url', 'token_url', 'type']);
    assert.equal(json.token_info_url, json.token_url.replace(/token$/, 'introspect'));
    if (process.platform !== 'win32') {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    }
    const ok = await request(json.token_url, googleForm(json.refresh_token));
    assert.equal(ok.status, 200);
    const c = issued.at(-1) as Credential & { accessToken: string };
    assert.equal(ok.body.access_token, c.accessToken);
    assert.equal(ok.body.token_type, 'Bearer');
    assert.ok(Number(ok.body.expires_in) > 3500 && Number(ok.body.expires_in) <= 3600);
    assert.equal(ok.body.scope, 'https://www.googleapis.com/auth/cloud-platform');
    const wrongGrant = await request(json.token_url, googleForm(json.refresh_token, 'urn:ietf:params:oauth:grant-type:token-exchange'));
    assert.equal(wrongGrant.status, 400);
    assert.equal(wrongGrant.body.error, 'unsupported_grant_type');

    // gcloud introspects the token it was handed (RFC 7662) with its own client id: possession is the proof.
    const introspect = (token: string) =>
      request(String(json.token_info_url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Z2Nsb3VkOm5vdHNvc2VjcmV0' }, body: new URLSearchParams({ token, token_type_hint: 'urn:ietf:params:oauth:token-type:access_token' }).toString() });
    const active = await introspect(c.accessToken);
    assert.equal(active.status, 200);
    assert.deepEqual(active.body, { active: true, token_type: 'Bearer', username: 'p', scope: 'https://www.googleapis.com/auth/cloud-platform', exp: Math.floor(c.expiresAt / 1000) });
    assert.deepEqual((await introspect('ya29.some-other-token-xxxxxxxx')).body, { active: false });
    assert.equal(issued.length, 1, 'introspection issues nothing');

    await r.revoke('terminal closed');
    const left = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    assert.deepEqual(left, { ...json, refresh_token: 'revoked' }, 'the secret leaves the disk; the file stays until dispose');
    const later = await request(left.token_url, googleForm(left.refresh_token));
    assert.equal(later.status, 401, 'a client started after revoke reaches the endpoint');
    assert.match(String(later.body.error_description), /revoked \(terminal closed\)/, 'and reads why');
    assert.equal((await introspect(c.accessToken)).status, 401);
    const after = await request(json.token_url, googleForm(json.refresh_token));
    assert.equal(after.status, 401);
    assert.equal(after.body.error, 'invalid_grant');
    assert.match(String(after.body.error_description), /revoked \(terminal closed\)/);
  });

  it('answers 404 for any other path and 401 for a wrong or missing secret', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const origin = server.origin!;
    const dbx = new URL(r.env.DATABRICKS_METADATA_SERVICE_URL);
    const prefix = dbx.pathname.split('/')[1];
    for (const p of ['/', '/databricks', `/${prefix}`, `/${prefix}/`, `/${prefix}/gcp`, `/${prefix}/aws/extra`, `/${prefix}/aws/`, `/x${prefix}/aws`, `//${prefix}/aws`]) {
      const res = await request(`${origin}${p}`, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN, ...dbxHeaders() } });
      assert.equal(res.status, 404, p);
    }
    const wrong = 'A'.repeat(43);
    assert.equal((await request(`${origin}/${prefix}/databricks/${wrong}`, { headers: dbxHeaders() })).status, 401);
    assert.equal((await request(`${origin}/${prefix}/databricks/x`, { headers: dbxHeaders() })).status, 401, 'a shorter secret is just wrong');
    assert.equal((await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI)).status, 401, 'no Authorization header');
    const aws = await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: wrong } });
    assert.equal(aws.status, 401);
    assert.equal(aws.body.Code, 'UNAUTHENTICATED');
    assert.equal((await request(googleFileOf(r).token_url, googleForm(wrong))).status, 401);
    assert.equal(issued.length, 0, 'nothing fetched without the secret');
    assert.equal((await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { method: 'POST', headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } })).status, 405);
    assert.equal((await request(googleFileOf(r).token_url)).status, 405);
  });

  it('refuses requests not addressed to the loopback port (DNS rebinding) and requests from browsers', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const url = r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
    const auth = r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
    assert.equal((await request(url, { headers: { authorization: auth, host: `attacker.example:${new URL(url).port}` } })).status, 421);
    assert.equal((await request(url, { headers: { authorization: auth, origin: 'https://attacker.example' } })).status, 403);
    assert.equal((await request(url.replace('127.0.0.1', 'localhost'), { headers: { authorization: auth } })).status, 200, 'localhost is the same loopback endpoint');
    assert.equal(issued.length, 1);
  });

  it('checks secrets in constant time over equal-length digests', () => {
    const digest = createHash('sha256').update('s3cret', 'utf8').digest();
    assert.equal(secretMatches('s3cret', digest), true);
    for (const wrong of ['s3creT', 's3cre', 's3cret!', '', undefined, 'x'.repeat(10_000)]) assert.equal(secretMatches(wrong, digest), false, String(wrong));
    assert.match(secretMatches.toString(), /timingSafeEqual/);
  });

  it('revoking ends a registration (401, says why), per consumer, per environment and for all', async () => {
    const a = await server.register({ environment: 'dev', consumer });
    const b = await server.register({ environment: 'dev', consumer: { kind: 'debug', name: 'Python: train.py' } });
    const s = await server.register({ environment: 'staging', consumer: { kind: 'task', name: 'deploy' } });
    const get = (r: EndpointRegistration, host = HOST) => request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: dbxHeaders(host) });
    assert.equal((await get(a)).status, 200);
    await a.revoke();
    assert.equal(a.revoked, true);
    const revoked = await get(a);
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error_code, 'REVOKED');
    assert.match(String(revoked.body.message), /revoked \(terminal closed\)/);
    assert.equal((await get(b)).status, 200, 'other consumers keep working');

    assert.equal(await server.revokeEnvironment('dev', 'access to dev changed'), 1);
    assert.match(String((await get(b)).body.message), /access to dev changed/);
    assert.equal((await get(s, 'https://staging.cloud.databricks.com')).status, 200);
    assert.equal(await server.revokeAll('signed out'), 1);
    const out = await get(s, 'https://staging.cloud.databricks.com');
    assert.equal(out.status, 401);
    assert.match(String(out.body.message), /signed out/);
    assert.deepEqual(server.list(), []);
  });

  it('maps a denial to 403, signed out to 401 with "sign in in VS Code", other failures to 502/503/504, never a stack or token', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const aws = () => request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } });
    const cases: Array<{ error: unknown; status: number; pattern: RegExp }> = [
      { error: new UserFacingError('denied', 'Environment "dev" requires group ml-dev.'), status: 403, pattern: /requires group ml-dev.*denied AWS credentials/ },
      { error: new UserFacingError('auth', 'Cannot get aws credentials for "dev": you are not signed in.', 'Run "ML Spanner: Sign In".'), status: 401, pattern: /Sign in to ML Spanner Access in VS Code/ },
      { error: new UserFacingError('network', 'AWS STS is unreachable.'), status: 503, pattern: /Could not get AWS credentials for "dev": AWS STS is unreachable/ },
      { error: new UserFacingError('service', 'AWS STS said InvalidIdentityToken.'), status: 502, pattern: /InvalidIdentityToken/ },
      { error: new Error('boom eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl at line 3'), status: 502, pattern: /Could not get AWS credentials for "dev": boom eyJh…\[redacted\]/ },
    ];
    for (const c of cases) {
      credential = async () => {
        throw c.error;
      };
      const res = await aws();
      assert.equal(res.status, c.status, String(c.error));
      assert.match(String(res.body.Message), c.pattern);
      assert.doesNotMatch(res.text, /at .*\.ts:\d+|eyJzdWIi/, 'no stack, no token');
    }
    credential = () => new Promise(() => undefined);
    const slow = new CredentialEndpointServer({ credential: () => credential('dev', 'aws', consumer), environment: (n) => (ENVIRONMENTS as Record<string, { name: string }>)[n] as never, sink, tempRoot, credentialTimeoutMs: 50 });
    try {
      const rs = await slow.register({ environment: 'dev', consumer, targets: ['aws'] });
      const res = await request(rs.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: rs.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } });
      assert.equal(res.status, 504);
      assert.match(String(res.body.Message), /Timed out after 0 s waiting for AWS credentials for "dev"/);
    } finally {
      slow.dispose();
    }
  });

  it('refuses a Databricks token for another workspace than the registration was made for (the environment was edited)', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    credential = async (e, t) => credentialFor(e, t, { principal: 'https://moved.cloud.databricks.com' });
    const res = await request(r.env.DATABRICKS_METADATA_SERVICE_URL, { headers: dbxHeaders() });
    assert.equal(res.status, 409);
    assert.match(String(res.body.message), /workspace changed/);
    assert.ok(!('access_token' in res.body));
  });

  it('records the first fetch of each credential per consumer, then counts; a summary on revoke; no secret or token in events or logs', async () => {
    let current = credentialFor('dev', 'aws');
    credential = async () => current;
    const r = await server.register({ environment: 'dev', consumer: { kind: 'task', name: 'etl' } });
    const aws = () => request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } });
    for (let i = 0; i < 5; i++) assert.equal((await aws()).status, 200);
    const fetched = sink.events.filter((e) => e.type === 'credentialFetched');
    assert.equal(fetched.length, 1, 'a busy SDK does not flood the log');
    assert.equal(fetched[0].outcome, 'success');
    assert.equal(fetched[0].environment, 'dev');
    assert.equal(fetched[0].target, 'aws');
    assert.equal(fetched[0].tokenFingerprint, current.fingerprint);
    assert.deepEqual(fetched[0].consumer, { kind: 'task', name: 'etl' });

    current = credentialFor('dev', 'aws'); // the broker renewed it
    for (let i = 0; i < 3; i++) await aws();
    await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: 'wrong' } });
    await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: 'wrong again' } });
    await r.revoke('task finished');
    const all = sink.events.filter((e) => e.type === 'credentialFetched');
    assert.deepEqual(
      all.map((e) => [e.outcome, e.tokenFingerprint ?? null, e.summary ?? false, e.fetches ?? null, e.failures ?? null]),
      [
        ['success', fetched[0].tokenFingerprint, false, null, null],
        ['success', current.fingerprint, false, null, null],
        ['denied', null, false, null, null],
        ['success', null, true, 8, 2],
      ],
    );
    assert.match(String(all.at(-1)!.detail), /task finished/);

    const secret = r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
    const prefix = new URL(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI).pathname.split('/')[1];
    const everything = JSON.stringify(sink.events) + logs.join('\n');
    for (const c of issued.concat([current])) {
      const v = c as Credential & { secretAccessKey?: string; sessionToken?: string; accessToken?: string };
      for (const s of [v.secretAccessKey, v.sessionToken, v.accessToken]) if (s) assert.ok(!everything.includes(s));
    }
    assert.ok(!everything.includes(secret), 'the endpoint secret is never logged');
    assert.ok(!everything.includes(prefix), 'nor the path prefix');
    assert.ok(!everything.includes(current.kind === 'aws' ? current.secretAccessKey : 'x'));
  });

  it('a registration being made while everything (or its environment) is revoked ends revoked, not live', async () => {
    const pending = server.register({ environment: 'dev', consumer });
    await server.revokeAll('signed out');
    await assert.rejects(pending, (e: unknown) => e instanceof UserFacingError && e.kind === 'cancelled' && /revoked while terminal "ML Spanner: dev" was being set up/.test(e.message));
    const other = server.register({ environment: 'staging', consumer });
    const again = server.register({ environment: 'dev', consumer });
    await server.revokeEnvironment('dev');
    await assert.rejects(again, /revoked while/);
    assert.deepEqual((await other).revoked, false, 'another environment is not affected');
    assert.deepEqual(server.list().map((r) => r.environment), ['staging']);
    assert.deepEqual(readdirSync(tempRoot).flatMap((d) => readdirSync(path.join(tempRoot, d))), [], 'no file left behind');
  });

  it('warm: fetches each target once at registration (not logged as a consumer fetch), so the first request is a cache hit', async () => {
    const asked: string[] = [];
    credential = async (environment, target) => {
      asked.push(target);
      return credentialFor(environment, target);
    };
    const r = await server.register({ environment: 'dev', consumer, targets: ['aws', 'databricks'], warm: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(asked.sort(), ['aws', 'databricks']);
    assert.deepEqual(sink.events, []);
    assert.equal((await request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } })).status, 200);
    assert.deepEqual(sink.types(), ['credentialFetched']);

    credential = async () => {
      throw new UserFacingError('denied', 'Access to dev denied: not in ml-dev.');
    };
    await server.register({ environment: 'dev', consumer, targets: ['aws'], warm: true });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.match(logs.at(-1)!, /could not prepare AWS credentials \(403 PERMISSION_DENIED\): Access to dev denied/);
  });

  it('dispose revokes everything, stops the server and removes the private directory', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    const dir = path.dirname(r.env.GOOGLE_APPLICATION_CREDENTIALS);
    assert.ok(existsSync(dir));
    server.dispose();
    assert.equal(r.revoked, true);
    assert.equal(existsSync(dir), false);
    await assert.rejects(request(r.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: r.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } }), /ECONNREFUSED|socket hang up|ECONNRESET/);
    await assert.rejects(server.register({ environment: 'dev', consumer }), /shut down/);
  });

  it('adds the loopback hosts to NO_PROXY without dropping what is there', async () => {
    const r = await server.register({ environment: 'dev', consumer });
    assert.deepEqual(r.noProxy, ['127.0.0.1', 'localhost']);
    assert.equal(mergeNoProxy(undefined), '127.0.0.1,localhost');
    assert.equal(mergeNoProxy('.corp.example, localhost'), '.corp.example,localhost,127.0.0.1');
    assert.equal(mergeNoProxy('127.0.0.1,localhost'), '127.0.0.1,localhost');
  });

  it('writes a registration as a .env file: values quoted when needed, unset names empty', () => {
    const text = toDotEnv({ environment: 'dev', env: { A: 'http://127.0.0.1:1/x', B: 'C:\\Users\\a b\\f.json' }, blank: ['AWS_SESSION_TOKEN'] });
    assert.equal(text, '# ML Spanner Access: local credential endpoints for "dev". Valid while VS Code runs; do not commit.\nA=http://127.0.0.1:1/x\nB="C:\\\\Users\\\\a b\\\\f.json"\nAWS_SESSION_TOKEN=\n');
  });
});
