import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as FakeTimers from '@sinonjs/fake-timers';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession, IdentitySource } from '../../src/core/auth/IdentitySession';
import { assumeAwsRole } from '../../src/core/credentials/assumeAwsRole';
import { cappedExpiry, credentialState, refreshMarginMs, type HttpFactory } from '../../src/core/credentials/Credential';
import { credentialCacheKey } from '../../src/core/credentials/CredentialBroker';
import { AccessGate } from '../../src/core/access/AccessGate';
import type { Credential } from '../../src/core/credentials/Credential';
import { DatabricksDiscovery, exchangeDatabricksToken } from '../../src/core/credentials/exchangeDatabricksToken';
import { exchangeGoogleToken } from '../../src/core/credentials/exchangeGoogleToken';
import { UserFacingError } from '../../src/core/errors';
import { tokenFingerprint } from '../../src/core/fingerprint';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { looksLikeToken } from '../../src/core/redact';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';
const T0 = Date.parse('2030-01-01T00:00:00Z');

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  form: URLSearchParams;
  json?: Record<string, unknown>;
}

type Reply = { status: number; body: unknown; type?: string };

/**
 * Loopback stand-ins for the three services, answering per CONTRACTS.md; each route can be
 * overridden, held (to test request sharing) or counted.
 */
class FakeServices {
  server!: Server;
  url = '';
  seen: Seen[] = [];
  now: () => number = Date.now;
  lifetimeSeconds = 3600;
  private counter = 0;
  hold?: Promise<void>;
  routes: Record<string, (s: Seen) => Reply> = {};

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.reset();
    return this;
  }

  reset(): void {
    this.seen = [];
    this.hold = undefined;
    this.lifetimeSeconds = 3600;
    this.routes = {
      'GET /oidc/.well-known/oauth-authorization-server': () => ({ status: 200, body: { issuer: this.url + '/oidc', token_endpoint: this.url + '/oidc/v1/token' } }),
      'GET /oidc/.well-known/openid-configuration': () => ({ status: 200, body: { token_endpoint: this.url + '/oidc/v1/token' } }),
      'POST /oidc/v1/token': () => ({ status: 200, body: { access_token: `dose${String(++this.counter).padStart(32, '0')}`, token_type: 'Bearer', expires_in: this.lifetimeSeconds } }),
      'POST /v1/token': (s) =>
        s.form.get('audience') === AUD
          ? { status: 200, body: { access_token: `ya29.sts-${++this.counter}-xxxxxxxxxx`, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: this.lifetimeSeconds } }
          : { status: 400, body: { error: 'invalid_target', error_description: 'The target service indicated by the "audience" parameters is invalid.' } },
      'POST /v1/projects/-/serviceAccounts/runner@ml.iam.gserviceaccount.com:generateAccessToken': () => ({
        status: 200,
        body: { accessToken: `ya29.sa-${++this.counter}-xxxxxxxxxx`, expireTime: new Date(this.now() + this.lifetimeSeconds * 1000).toISOString() },
      }),
      'POST /': () => ({
        status: 200,
        type: 'text/xml',
        body: `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/ml/alice</Arn></AssumedRoleUser><Credentials><AccessKeyId>ASIA${String(++this.counter).padStart(16, '0')}</AccessKeyId><SecretAccessKey>secret-${this.counter}</SecretAccessKey><SessionToken>session-${this.counter}</SessionToken><Expiration>${new Date(this.now() + this.lifetimeSeconds * 1000).toISOString()}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
      }),
    };
  }

  count(route: string): number {
    return this.seen.filter((s) => `${s.method} ${s.path}` === route).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0];
    const isJson = String(req.headers['content-type']).startsWith('application/json');
    const seen: Seen = { method: req.method ?? 'GET', path, headers: req.headers, form: new URLSearchParams(isJson ? '' : text), json: isJson ? JSON.parse(text) : undefined };
    this.seen.push(seen);
    if (this.hold) await this.hold;
    const route = this.routes[`${seen.method} ${path}`];
    const reply = route ? route(seen) : { status: 404, body: { error_code: 'NOT_FOUND', message: `no route ${path}` } };
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'Content-Type': reply.type ?? 'application/json' }).end(body);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const noRetry: HttpFactory = (service) => createHttpClient({ service, retry: { maxRetries: 0 }, timeoutMs: 5000 });

class FakeIdentity implements IdentitySource {
  session: IdentitySession | undefined;
  freshCalls = 0;
  constructor(groups: string[]) {
    this.session = {
      issuer: 'https://idp.example.com',
      subject: 'alice',
      name: 'Alice',
      groups,
      claims: {},
      idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.id-signature',
      idTokenExpiresAt: T0 + 3600_000,
      accessToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzY3AiOiJhcGkifQ.access-signature',
      accessTokenExpiresAt: T0 + 3600_000,
      scopes: ['openid'],
    };
  }
  current(): IdentitySession | undefined {
    return this.session;
  }
  async fresh(): Promise<IdentitySession> {
    this.freshCalls++;
    if (!this.session) throw new UserFacingError('auth', 'Not signed in.');
    return this.session;
  }
}

function settings(url: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dev: {
      requiredGroups: ['ml-dev'],
      databricks: { host: url },
      spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD, stsEndpoint: url, iamCredentialsEndpoint: url },
      aws: { roleArn: 'arn:aws:iam::123456789012:role/ml', stsEndpoint: url },
    },
    staging: { extends: 'dev', requiredGroups: ['ml-staging'], spanner: { serviceAccount: 'runner@ml.iam.gserviceaccount.com' }, maxTtlSeconds: 900 },
    prod: { extends: 'dev', requiredGroups: ['ml-prod'] },
    ...over,
  };
}

describe('credential exchanges (loopback services)', () => {
  const svc = new FakeServices();
  before(() => svc.start());
  after(() => svc.close());
  beforeEach(() => svc.reset());

  it('Databricks: discovers the token endpoint once per host and sends an RFC 8693 exchange', async () => {
    const discovery = new DatabricksDiscovery(noRetry);
    const req = { environment: 'dev', host: svc.url, scopes: ['all-apis', 'sql'], subjectToken: 'eyJ.subject.jwt', now: T0 };
    const a = await exchangeDatabricksToken(noRetry, discovery, req);
    await exchangeDatabricksToken(noRetry, discovery, req);
    assert.equal(svc.count('GET /oidc/.well-known/oauth-authorization-server'), 1);
    const post = svc.seen.filter((s) => s.path === '/oidc/v1/token');
    assert.equal(post.length, 2);
    assert.deepEqual(Object.fromEntries(post[0].form), {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'eyJ.subject.jwt',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      scope: 'all-apis sql',
    });
    assert.equal(post[0].headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(a.kind, 'bearer');
    assert.equal(a.serviceExpiresAt, T0 + 3600_000);
    assert.equal(a.source, 'federation');
    await exchangeDatabricksToken(noRetry, discovery, { ...req, clientId: 'sp-1' });
    assert.equal(svc.seen.at(-1)?.form.get('client_id'), 'sp-1', 'client_id only when configured');
  });

  it('Databricks: falls back to openid-configuration, and refuses a token endpoint on another origin', async () => {
    svc.routes['GET /oidc/.well-known/oauth-authorization-server'] = () => ({ status: 404, body: { error_code: 'NOT_FOUND', message: 'no' } });
    const req = { environment: 'dev', host: svc.url, scopes: ['all-apis'], subjectToken: 'eyJ.s.t', now: T0 };
    await exchangeDatabricksToken(noRetry, new DatabricksDiscovery(noRetry), req);
    assert.equal(svc.count('GET /oidc/.well-known/openid-configuration'), 1);
    svc.routes['GET /oidc/.well-known/openid-configuration'] = () => ({ status: 200, body: { token_endpoint: 'https://attacker.example.com/token' } });
    await assert.rejects(exchangeDatabricksToken(noRetry, new DatabricksDiscovery(noRetry), req), (e: UserFacingError) => {
      assert.match(e.message, /outside the workspace .*refusing to send your token there/);
      assert.equal(e.action, 'Check mlspanner.environments.dev.databricks.host.');
      return true;
    });
    assert.equal(svc.count('POST /oidc/v1/token'), 1);
  });

  it('Databricks: a refused exchange says what to fix', async () => {
    svc.routes['POST /oidc/v1/token'] = () => ({ status: 400, body: { error: 'invalid_client', error_description: 'no federation policy for client sp-9' } });
    const discovery = new DatabricksDiscovery(noRetry);
    await assert.rejects(exchangeDatabricksToken(noRetry, discovery, { environment: 'prod', host: svc.url, clientId: 'sp-9', scopes: ['all-apis'], subjectToken: 'eyJ.s.t', now: T0 }), (e: UserFacingError) => {
      assert.equal(e.kind, 'config');
      assert.match(e.message, /^Databricks token exchange for "prod" at http:\/\/127\.0\.0\.1:\d+ failed: .*no federation policy for client sp-9/);
      assert.match(e.action!, /mlspanner\.environments\.prod\.databricks\.clientId/);
      return true;
    });
  });

  it('Google: STS without Authorization, then impersonation with the STS token and a capped lifetime', async () => {
    const t = await exchangeGoogleToken(noRetry, {
      environment: 'staging',
      audience: AUD,
      subjectToken: 'eyJ.id.token',
      subjectTokenKind: 'idToken',
      stsEndpoint: svc.url,
      iamCredentialsEndpoint: svc.url,
      serviceAccount: 'runner@ml.iam.gserviceaccount.com',
      maxTtlSeconds: 900,
      now: T0,
    });
    const [sts, iam] = svc.seen;
    assert.equal(sts.headers.authorization, undefined);
    assert.deepEqual(Object.fromEntries(sts.form), {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: AUD,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: 'eyJ.id.token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    });
    assert.match(String(iam.headers.authorization), /^Bearer ya29\.sts-/);
    assert.deepEqual(iam.json, { scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '900s' });
    assert.equal(t.source, 'impersonation');
    assert.equal(t.principal, 'runner@ml.iam.gserviceaccount.com');
    assert.match((t as { accessToken: string }).accessToken, /^ya29\.sa-/);
  });

  it('Google: an access-token subject is sent as jwt; without a service account the STS token is the credential', async () => {
    const t = await exchangeGoogleToken(noRetry, { environment: 'dev', audience: AUD, subjectToken: 'eyJ.a.t', subjectTokenKind: 'accessToken', stsEndpoint: svc.url, iamCredentialsEndpoint: svc.url, maxTtlSeconds: 3600, now: T0 });
    assert.equal(svc.seen[0].form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:jwt');
    assert.equal(svc.seen.length, 1);
    assert.equal(t.source, 'sts');
    assert.equal(t.serviceExpiresAt, T0 + 3600_000);
  });

  it('Google: a wrong audience surfaces invalid_target naming the audience setting', async () => {
    await assert.rejects(
      exchangeGoogleToken(noRetry, { environment: 'dev', audience: AUD.replace('corp', 'other'), subjectToken: 'eyJ.a.t', subjectTokenKind: 'idToken', stsEndpoint: svc.url, iamCredentialsEndpoint: svc.url, maxTtlSeconds: 3600, now: T0 }),
      (e: UserFacingError) => {
        assert.equal(e.kind, 'config');
        assert.match(e.message, /invalid_target/);
        assert.match(e.action!, /^Check mlspanner\.environments\.dev\.spanner\.workloadIdentityAudience/);
        return true;
      },
    );
  });

  it('Google: a refused impersonation names the service account setting', async () => {
    svc.routes['POST /v1/projects/-/serviceAccounts/runner@ml.iam.gserviceaccount.com:generateAccessToken'] = () => ({
      status: 403,
      body: { error: { code: 403, message: "Permission 'iam.serviceAccounts.getAccessToken' denied", status: 'PERMISSION_DENIED' } },
    });
    await assert.rejects(
      exchangeGoogleToken(noRetry, { environment: 'staging', audience: AUD, subjectToken: 'eyJ.a.t', subjectTokenKind: 'idToken', stsEndpoint: svc.url, iamCredentialsEndpoint: svc.url, serviceAccount: 'runner@ml.iam.gserviceaccount.com', maxTtlSeconds: 3600, now: T0 }),
      (e: UserFacingError) => e.kind === 'denied' && /roles\/iam\.workloadIdentityUser/.test(e.action!) && /spanner\.serviceAccount/.test(e.action!),
    );
  });

  it('AWS: AssumeRoleWithWebIdentity as a query-protocol form, XML parsed', async () => {
    const t = await assumeAwsRole(noRetry, { environment: 'dev', stsEndpoint: svc.url, roleArn: 'arn:aws:iam::123456789012:role/ml', roleSessionName: 'alice', webIdentityToken: 'eyJ.w.t', durationSeconds: 900, now: T0 });
    assert.deepEqual(Object.fromEntries(svc.seen[0].form), {
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::123456789012:role/ml',
      RoleSessionName: 'alice',
      WebIdentityToken: 'eyJ.w.t',
      DurationSeconds: '900',
    });
    assert.equal(svc.seen[0].headers.authorization, undefined);
    assert.equal(t.kind, 'aws');
    assert.equal(t.kind === 'aws' && t.assumedRoleArn, 'arn:aws:sts::123456789012:assumed-role/ml/alice');
  });

  it('AWS: an XML error becomes an actionable error', async () => {
    svc.routes['POST /'] = () => ({
      status: 403,
      type: 'text/xml',
      body: '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>',
    });
    await assert.rejects(
      assumeAwsRole(noRetry, { environment: 'prod', stsEndpoint: svc.url, roleArn: 'arn:aws:iam::123456789012:role/ml', roleSessionName: 'alice', webIdentityToken: 'eyJ.w.t', durationSeconds: 900, now: T0 }),
      (e: UserFacingError) => e.kind === 'denied' && e.message.endsWith('AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity') && /aws\.roleArn/.test(e.action!),
    );
  });
});

describe('credential policy arithmetic', () => {
  it('caps expiry at issuedAt + maxTtl', () => {
    assert.equal(cappedExpiry(T0, T0 + 3600_000, 900), T0 + 900_000);
    assert.equal(cappedExpiry(T0, T0 + 600_000, 900), T0 + 600_000);
    assert.equal(cappedExpiry(T0, undefined, 900), T0 + 900_000);
  });
  const margins: [number, number][] = [
    [3600, 360_000],
    [900, 90_000],
    [300, 60_000],
  ];
  for (const [lifetime, margin] of margins)
    it(`refreshes a ${lifetime} s credential ${margin / 1000} s before expiry`, () => assert.equal(refreshMarginMs(T0, T0 + lifetime * 1000), margin));
  it('states', () => {
    const c = { issuedAt: T0, expiresAt: T0 + 900_000 };
    assert.deepEqual([T0, T0 + 810_001, T0 + 900_000].map((n) => credentialState(c, n)), ['valid', 'expiring', 'expired']);
  });
  it('keys the cache by environment, identity and everything that decides the token', () => {
    const base = resolveEnvironments(settings('https://a.example.com')).environments;
    const moved = resolveEnvironments(settings('https://b.example.com')).environments;
    const who = { issuer: 'https://idp', subject: 'alice' };
    const k = credentialCacheKey(base.dev, 'databricks', who);
    assert.equal(k, credentialCacheKey(base.dev, 'databricks', { ...who }));
    const different = [
      credentialCacheKey(base.prod, 'databricks', who),
      credentialCacheKey(base.dev, 'databricks', { ...who, subject: 'bob' }),
      credentialCacheKey(base.dev, 'databricks', { ...who, issuer: 'https://other' }),
      credentialCacheKey(moved.dev, 'databricks', who),
      credentialCacheKey(base.dev, 'google', who),
    ];
    assert.equal(new Set([k, ...different]).size, 6);
  });
});

describe('CredentialBroker', () => {
  const svc = new FakeServices();
  let clock: FakeTimers.Clock;
  let events: AccessEventInput[];
  let identity: FakeIdentity;
  let env: Record<string, unknown>;
  let gate: AccessGate;
  /** Every credential through the gate: confirm environments get a test reason. */
  const broker = {
    get: async (environment: string, target: string, opts?: { forceRefresh?: boolean }): Promise<Credential> => {
      const d = gate.request({ environment, purpose: 'refresh', targets: [target] });
      if (d.kind === 'denied') throw d.error;
      const grant = d.kind === 'granted' ? d.grant : gate.confirm({ environment, purpose: 'refresh', targets: [target] }, 'unit test');
      return gate.credential(grant, target, opts);
    },
    peek: () => gate.credentials.peek(),
    revoke: (e: string, t?: string) => gate.credentials.revoke(e, t),
    clear: () => gate.credentials.clear(),
    nearestExpiry: () => gate.credentials.nearestExpiry(),
    onDidChange: (l: () => void) => gate.credentials.onDidChange(l),
    startAutoRefresh: (o?: { idleMs?: number; retryMs?: number }) => gate.startAutoRefresh(o),
  };

  before(() => svc.start());
  after(() => svc.close());
  beforeEach(() => {
    svc.reset();
    clock = FakeTimers.createClock(T0);
    svc.now = () => clock.now;
    events = [];
    identity = new FakeIdentity(['ml-dev', 'ml-staging']);
    env = settings(svc.url);
    gate = new AccessGate({
      identity,
      environments: () => resolveEnvironments(env),
      http: noRetry,
      sink: { record: (e) => events.push(e) },
      now: () => clock.now,
      timers: clock,
    });
  });
  afterEach(() => gate.dispose());

  it('issues, caches and records a fingerprint, never the token', async () => {
    const c = await broker.get('dev', 'databricks');
    assert.equal(c.target, 'databricks');
    const again = await broker.get('dev', 'databricks');
    assert.equal(again, c);
    assert.equal(svc.count('POST /oidc/v1/token'), 1);
    assert.equal(events.length, 1);
    const e = events[0];
    assert.equal(e.type, 'credentialIssued');
    assert.equal(e.tokenFingerprint, tokenFingerprint(c.kind === 'bearer' ? c.accessToken : ''));
    assert.equal(e.environment, 'dev');
    assert.deepEqual(e.actor, { issuer: 'https://idp.example.com', subject: 'alice', name: 'Alice' });
    assert.equal(looksLikeToken(JSON.stringify(events)), false);
    assert.equal(JSON.stringify(broker.peek()).includes('dose'), false, 'peek() carries no token material');
    assert.equal(broker.peek()[0].state, 'valid');
  });

  it('caps every credential at maxTtlSeconds and sends the subject token each target asks for', async () => {
    env = settings(svc.url, { staging: { extends: 'dev', requiredGroups: ['ml-staging'], maxTtlSeconds: 900, databricks: { subjectToken: 'accessToken' } } });
    const d = await broker.get('staging', 'databricks');
    assert.equal(d.expiresAt, T0 + 900_000);
    assert.equal(d.serviceExpiresAt, T0 + 3600_000);
    assert.equal(svc.seen.at(-1)?.form.get('subject_token'), identity.session!.accessToken);
    const a = await broker.get('staging', 'aws');
    assert.equal(svc.seen.at(-1)?.form.get('DurationSeconds'), '900');
    assert.equal(svc.seen.at(-1)?.form.get('WebIdentityToken'), identity.session!.idToken);
    assert.equal(a.expiresAt, T0 + 900_000);
    assert.equal(a.kind === 'aws' && a.fingerprint, tokenFingerprint(a.kind === 'aws' ? a.sessionToken : ''));
  });

  it('denies by group with the reason, records accessDenied with the purpose and makes no request', async () => {
    await assert.rejects(broker.get('prod', 'databricks'), (e: UserFacingError) => {
      assert.equal(e.kind, 'denied');
      assert.equal(e.message, 'Access to Databricks token in "prod" denied: requires one of groups ml-prod; you have ml-dev, ml-staging.');
      assert.deepEqual(e.remedies.map((r) => r.command), ['mlspanner.explainAccess']);
      return true;
    });
    assert.equal(svc.seen.length, 0);
    assert.deepEqual(
      events.map((e) => [e.type, e.outcome, e.environment, e.target, e.purpose, e.reason]),
      [['accessDenied', 'denied', 'prod', 'databricks', 'refresh', 'Access to Databricks token in "prod" denied: requires one of groups ml-prod; you have ml-dev, ml-staging.']],
    );
  });

  it('explains unknown, broken and signed-out cases', async () => {
    env = settings(svc.url, { qa: { extends: 'nowhere' } });
    await assert.rejects(broker.get('qa', 'aws'), /Environment "qa" is not usable: mlspanner\.environments\.qa\.extends: unknown environment "nowhere"/);
    await assert.rejects(broker.get('perf', 'aws'), (e: UserFacingError) => e.kind === 'config' && /no environment named "perf" \(known: dev, staging, prod\)/.test(e.message));
    identity.session = undefined;
    await assert.rejects(broker.get('dev', 'aws'), (e: UserFacingError) => e.kind === 'auth' && e.remedies.some((r) => r.command === 'mlspanner.signIn'));
  });

  it('shares one in-flight request among concurrent callers', async () => {
    let release!: () => void;
    svc.hold = new Promise<void>((r) => (release = r));
    const calls = [broker.get('dev', 'google'), broker.get('dev', 'google'), broker.get('dev', 'google')];
    while (svc.count('POST /v1/token') < 1) await new Promise((r) => setImmediate(r));
    assert.equal(broker.peek().length, 0);
    release();
    const [a, b, c] = await Promise.all(calls);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(svc.count('POST /v1/token'), 1);
    assert.equal(events.filter((e) => e.type === 'credentialIssued').length, 1);
  });

  it('refreshes when less than max(60 s, 10% of the lifetime) is left', async () => {
    const first = await broker.get('dev', 'aws'); // 3600 s: margin 360 s
    clock.tick(3600_000 - 360_000 - 1);
    assert.equal(await broker.get('dev', 'aws'), first);
    clock.tick(2);
    const second = await broker.get('dev', 'aws');
    assert.notEqual(second, first);
    assert.equal(second.issuedAt, clock.now);
    assert.deepEqual(events.map((e) => e.type), ['credentialIssued', 'credentialRefreshed']);
  });

  it('keeps a failure in one environment away from the others, and shows it', async () => {
    env = settings(svc.url, { staging: { extends: 'dev', requiredGroups: ['ml-staging'], spanner: { workloadIdentityAudience: AUD.replace('corp', 'gone') } } });
    await assert.rejects(broker.get('staging', 'google'), (e: UserFacingError) => e.kind === 'config' && /spanner\.workloadIdentityAudience/.test(e.display));
    const ok = await broker.get('dev', 'google');
    assert.equal(ok.source, 'sts');
    const failed = broker.peek().find((p) => p.environment === 'staging');
    assert.equal(failed?.state, 'failed');
    assert.match(failed?.error ?? '', /invalid_target/);
    assert.deepEqual(events.map((e) => [e.type, e.environment]), [['credentialFailed', 'staging'], ['credentialIssued', 'dev']]);
  });

  it('revokes per environment and target, clears on sign-out, and notifies', async () => {
    let changes = 0;
    broker.onDidChange(() => changes++);
    await broker.get('dev', 'databricks');
    await broker.get('dev', 'aws');
    await broker.get('staging', 'databricks');
    assert.equal(broker.revoke('dev', 'aws'), 1);
    assert.deepEqual(broker.peek().map((p) => `${p.environment}/${p.target}`).sort(), ['dev/databricks', 'staging/databricks']);
    assert.equal(broker.revoke('dev'), 1);
    broker.clear();
    assert.deepEqual(broker.peek(), []);
    const revoked = events.filter((e) => e.type === 'credentialRevoked');
    assert.deepEqual(revoked.map((e) => `${e.environment}/${e.target}/${e.reason}`), ['dev/aws/revoked by the user', 'dev/databricks/revoked by the user', 'staging/databricks/signed out']);
    assert.ok(revoked.every((e) => typeof e.tokenFingerprint === 'string'));
    assert.ok(changes >= 6);
    await broker.get('dev', 'aws');
    assert.equal(svc.count('POST /'), 2, 'a revoked credential is exchanged anew');
  });

  it('drops a request that finishes after a revoke', async () => {
    let release!: () => void;
    svc.hold = new Promise<void>((r) => (release = r));
    const pending = broker.get('dev', 'databricks');
    while (svc.seen.length < 1) await new Promise((r) => setImmediate(r));
    broker.revoke('dev');
    release();
    await pending;
    assert.deepEqual(broker.peek(), []);
  });

  it('reports the nearest expiry among cached credentials', async () => {
    assert.equal(broker.nearestExpiry(), undefined);
    await broker.get('dev', 'databricks');
    await broker.get('staging', 'aws');
    assert.deepEqual(broker.nearestExpiry(), { environment: 'staging', target: 'aws', expiresAt: T0 + 900_000 });
    clock.tick(3700_000);
    assert.deepEqual(broker.nearestExpiry(), { environment: 'dev', target: 'databricks', expiresAt: T0 + 3600_000 }, 'all expired: the latest');
    assert.deepEqual(broker.peek().map((p) => p.state), ['expired', 'expired']);
  });

  it('denies a cached credential after the groups change, and forgets it', async () => {
    await broker.get('staging', 'databricks');
    identity.session = { ...identity.session!, groups: ['ml-dev'] };
    await assert.rejects(broker.get('staging', 'databricks'), (e: UserFacingError) => e.kind === 'denied');
    assert.deepEqual(broker.peek(), []);
  });

  it('keeps in-use credentials fresh on a timer, and retries a failed refresh later', async () => {
    broker.startAutoRefresh({ idleMs: 3600_000, retryMs: 30_000 });
    const first = await broker.get('staging', 'databricks'); // 900 s cap: margin 90 s
    assert.equal(first.expiresAt, T0 + 900_000);
    await clock.tickAsync(810_000 - 1);
    assert.equal(svc.count('POST /oidc/v1/token'), 1);
    svc.routes['POST /oidc/v1/token'] = () => ({ status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'try later' } });
    await clock.tickAsync(1);
    await waitFor(() => events.some((e) => e.type === 'credentialFailed'));
    assert.equal(svc.count('POST /oidc/v1/token'), 2);
    assert.equal(broker.peek()[0].state, 'expiring', 'the old credential is still valid');
    svc.reset();
    await clock.tickAsync(30_000);
    await waitFor(() => events.some((e) => e.type === 'credentialRefreshed'));
    const [info] = broker.peek();
    assert.equal(info.state, 'valid');
    assert.equal(info.issuedAt, T0 + 840_000);
  });

  it('stops keeping credentials fresh once they are idle', async () => {
    broker.startAutoRefresh({ idleMs: 60_000 });
    await broker.get('dev', 'databricks');
    await clock.tickAsync(3600_000);
    assert.equal(svc.count('POST /oidc/v1/token'), 1);
  });

  // Regression: a service lifetime inside the refresh margin (expires_in ≤ 60), or this
  // machine's clock 14 min ahead of AWS with 900 s sessions, made every use re-exchange: 600+
  // STS calls and access-log entries in 3 s.
  it('a credential that lives 30 s is not re-exchanged on every use, and renewals are spaced', async () => {
    broker.startAutoRefresh({ idleMs: 3600_000, retryMs: 30_000 });
    svc.lifetimeSeconds = 30;
    await broker.get('dev', 'databricks');
    // A busy client: a use every 10 ms for 3 s.
    for (let i = 0; i < 300; i++) {
      await broker.get('dev', 'databricks');
      await clock.tickAsync(10);
    }
    assert.equal(svc.count('POST /oidc/v1/token'), 1, 'one exchange for 3 s of use');
    // Five minutes of use: renewed before it expires, but no more often than every half
    // lifetime (15 s here; 30 s for anything that lives a minute or more).
    for (let i = 0; i < 300; i++) {
      await broker.get('dev', 'databricks').catch(() => undefined);
      await clock.tickAsync(1000);
    }
    const exchanges = svc.count('POST /oidc/v1/token');
    assert.ok(exchanges >= 2 && exchanges <= 1 + 300 / 15 + 1, `${exchanges} exchanges in 5 min`);
    assert.ok(events.filter((e) => e.type === 'credentialIssued' || e.type === 'credentialRefreshed').length <= exchanges);
  });

  it("AWS with this machine's clock 14 min ahead: expiry from the local issue time and the requested duration, one STS call", async () => {
    svc.now = () => clock.now - 14 * 60_000; // AWS's clock, behind ours
    svc.lifetimeSeconds = 900;
    env = settings(svc.url, { dev: { ...(settings(svc.url).dev as object), maxTtlSeconds: 900 } });
    const c = await broker.get('dev', 'aws');
    assert.equal(c.expiresAt, T0 + 900_000, 'local issue time + 900 s, not the Expiration read against a skewed clock');
    for (let i = 0; i < 300; i++) {
      await broker.get('dev', 'aws');
      await clock.tickAsync(10);
    }
    assert.equal(svc.count('POST /'), 1, 'one AssumeRoleWithWebIdentity for 3 s of use');
  });

  /** Real-time wait for the loopback server's answer (the fake clock drives only the broker). */
  async function waitFor(condition: () => boolean): Promise<void> {
    const until = Date.now() + 3000;
    while (!condition()) {
      if (Date.now() > until) throw new Error('timed out waiting for the broker');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
});
