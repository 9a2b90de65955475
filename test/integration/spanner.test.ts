import { strict as assert } from 'node:assert';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import { GateCredentials } from './gateCredentials';
import { UserFacingError } from '../../src/core/errors';
import { createHttpClient, ServiceError } from '../../src/core/http/HttpClient';
import type { Environment } from '../../src/core/policy/Environment';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { looksLikeToken } from '../../src/core/redact';
import { googleTokenSource, QueryRunner, runQuery } from '../../src/core/spanner/QueryRunner';
import { SANDBOX_PROJECT, SANDBOX_WORKLOAD_IDENTITY_AUDIENCE } from '../../sandbox';
import { startGoogleEmulator, type GoogleEmulator } from '../../sandbox/google/GoogleEmulator';
import { churnProbability, sandboxSpannerDatabases } from '../../sandbox/spanner/demoData';
import { startSpannerEmulator, type SpannerEmulator } from '../../sandbox/spanner/SpannerEmulator';
import { signInAs as signIn } from './signInAs';
import { sandbox } from './setup';


type Settings = Record<string, Record<string, Record<string, unknown>>>;

const PREDICT_DE = "SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = 'DE' LIMIT 5";

describe('ML Spanner queries against the sandbox', function () {
  this.timeout(30_000);
  let alice: SessionManager;
  const brokers: GateCredentials[] = [];

  before(async () => {
    alice = await signIn('alice');
  });
  after(() => {
    for (const b of brokers) b.dispose();
    alice?.dispose();
  });

  function setup(settings: unknown = sandbox().environments) {
    const events: AccessEventInput[] = [];
    const sink = { record: (e: AccessEventInput) => void events.push(e) };
    const resolution = resolveEnvironments(settings);
    const broker = new GateCredentials({ identity: alice, environments: () => resolution, http: (service) => createHttpClient({ service, retry: { maxRetries: 1, baseDelayMs: 50 } }), sink });
    brokers.push(broker);
    const env = (name: string): Environment => resolution.environments[name];
    return { events, sink, broker, env };
  }

  it('the sandbox environments point spanner.endpoint at the Spanner emulator', () => {
    const { env } = setup();
    assert.equal(env('dev').spanner?.endpoint, sandbox().google.spannerUrl);
    assert.equal(env('staging').spanner?.endpoint, sandbox().google.spannerUrl, 'inherited through extends');
  });

  for (const environment of ['dev', 'staging']) {
    it(`runs ML.PREDICT with a real ${environment === 'dev' ? 'STS' : 'impersonated'} token in ${environment}`, async () => {
      const { events, sink, broker, env } = setup();
      const spanner = env(environment).spanner!;
      const r = await runQuery({ environment, spanner, sql: PREDICT_DE, getToken: googleTokenSource(broker, environment), sink });
      assert.equal(r.database, `projects/${SANDBOX_PROJECT}/instances/ml/databases/features`);
      assert.deepEqual(
        r.columns.map((c) => `${c.name} ${c.typeName}`),
        ['customer_id INT64', 'country STRING', 'tenure_months INT64', 'monthly_spend FLOAT64', 'churned BOOL', 'predicted_churned BOOL', 'churn_probability FLOAT64'],
      );
      assert.equal(r.rows.length, 5);
      for (const [id, country, tenure, spend, , predicted, p] of r.rows) {
        assert.equal(typeof id, 'number');
        assert.equal(country, 'DE');
        assert.equal(p, churnProbability(tenure as number, spend as number), 'the prediction follows the input');
        assert.equal(predicted, (p as number) >= 0.5);
      }
      assert.deepEqual(
        r.rows.map((row) => row[0]),
        [1001, 1002, 1005, 1007, 1010],
      );
      assert.equal(r.stats?.queryStats?.rows_returned, '5');
      assert.match(r.markdown, /^\| customer_id \| country \|/);
      assert.match(r.markdown, /_5 rows\._$/);

      const queries = events.filter((e) => e.type === 'queryExecuted');
      assert.equal(queries.length, 1);
      assert.equal(queries[0].outcome, 'success');
      assert.equal(queries[0].rows, 5);
      assert.equal(queries[0].detail, PREDICT_DE);
      const credential = await broker.get(environment, 'google');
      assert.equal(queries[0].tokenFingerprint, credential.fingerprint, 'the fingerprint of the token that ran the query');
      assert.ok(!looksLikeToken(JSON.stringify(events)));
    });
  }

  it('decodes every column type the emulator serves (DATE, TIMESTAMP, NUMERIC, JSON, ARRAY, BYTES, NaN)', async () => {
    const { sink, broker, env } = setup();
    const r = await runQuery({ environment: 'dev', spanner: env('dev').spanner!, sql: 'SELECT * FROM features ORDER BY customer_id DESC LIMIT 3', getToken: googleTokenSource(broker, 'dev'), sink });
    assert.deepEqual(
      r.rows.map((row) => row[0]),
      [1005, 1004, 1003],
    );
    const byId = Object.fromEntries(r.rows.map((row) => [row[0] as number, row]));
    assert.equal(byId[1005][3], '99999999999999999999999999999.999999999', 'NUMERIC stays exact');
    assert.ok(Number.isNaN(byId[1003][4] as number));
    assert.equal(byId[1004][4], Infinity);
    assert.deepEqual(byId[1004][5], ['loyal', null, 'web']);
    assert.deepEqual(byId[1004][7], new Uint8Array([255]));
    assert.equal(byId[1003][1], '2025-06-01');
    assert.equal(byId[1005][6], '{"plan":"team","seats":12}');
  });

  it('an unknown table is INVALID_ARGUMENT with Spanner’s message, recorded as a failure', async () => {
    const { events, sink, broker, env } = setup();
    await assert.rejects(runQuery({ environment: 'dev', spanner: env('dev').spanner!, sql: 'SELECT * FROM churn_scores', getToken: googleTokenSource(broker, 'dev'), sink }), (e: ServiceError) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.equal(e.message, 'The query failed: Table not found: churn_scores');
      return true;
    });
    const q = events.find((e) => e.type === 'queryExecuted');
    assert.equal(q?.outcome, 'failure');
  });

  it('unsupported SQL is INVALID_ARGUMENT naming what is unsupported', async () => {
    const { sink, broker, env } = setup();
    await assert.rejects(
      runQuery({ environment: 'dev', spanner: env('dev').spanner!, sql: 'SELECT country FROM customers GROUP BY country', getToken: googleTokenSource(broker, 'dev'), sink }),
      (e: ServiceError) => e.code === 'INVALID_ARGUMENT' && /GROUP BY is not supported/.test(e.message),
    );
  });

  it('a database the principal may not read is PERMISSION_DENIED naming the principal and the database', async () => {
    const settings = JSON.parse(JSON.stringify(sandbox().environments)) as Settings;
    settings.dev.spanner.database = 'billing';
    const { events, sink, broker, env } = setup(settings);
    await assert.rejects(runQuery({ environment: 'dev', spanner: env('dev').spanner!, sql: 'SELECT 1', getToken: googleTokenSource(broker, 'dev'), sink }), (e: ServiceError) => {
      assert.equal(e.code, 'PERMISSION_DENIED');
      assert.match(e.message, /denied your federated identity \(projects\/123456789\/locations\/global\/workloadIdentityPools\/ml-pool\/providers\/sandbox-idp\)/);
      assert.match(e.message, /projects\/ml-sandbox\/instances\/ml\/databases\/billing/);
      return true;
    });
    assert.equal(events.find((e) => e.type === 'queryExecuted')?.outcome, 'failure');
  });

  it('refuses DML before any credential is requested', async () => {
    const { events, sink, broker, env } = setup();
    await assert.rejects(
      runQuery({ environment: 'dev', spanner: env('dev').spanner!, sql: "UPDATE customers SET churned = TRUE WHERE country = 'DE'", getToken: googleTokenSource(broker, 'dev'), sink }),
      (e: UserFacingError) => e.kind === 'denied' && /ML Spanner queries run read-only; use the console for DDL/.test(e.message),
    );
    assert.deepEqual(
      events.map((e) => `${e.type}:${e.outcome}`),
      ['queryExecuted:denied'],
    );
  });

  describe('with a Spanner emulator whose clock the test moves', () => {
    let google: GoogleEmulator;
    let spanner: SpannerEmulator;
    let skewMs = 0;

    before(async () => {
      const trust = sandbox().trust;
      google = await startGoogleEmulator({
        quiet: true,
        providers: [{ audience: SANDBOX_WORKLOAD_IDENTITY_AUDIENCE, issuer: trust.issuer, allowedAudiences: [trust.audience], subjectClaim: trust.subjectClaim, groupsClaim: trust.groupsClaim }],
        serviceAccounts: {},
      });
      spanner = await startSpannerEmulator({
        quiet: true,
        lookupToken: (t) => google.lookupToken(t),
        databases: sandboxSpannerDatabases({ project: SANDBOX_PROJECT, instance: 'ml', groups: ['ml-dev'], serviceAccounts: [], prodServiceAccount: 'nobody@example.invalid' }),
        now: () => Date.now() + skewMs,
      });
    });
    after(async () => {
      await spanner?.close();
      await google?.close();
    });

    it('recreates a session that idled out (NOT_FOUND) and the query still succeeds', async () => {
      const settings = JSON.parse(JSON.stringify(sandbox().environments)) as Settings;
      Object.assign(settings.dev.spanner, { stsEndpoint: google.stsUrl, endpoint: spanner.url });
      const { events, sink, broker, env } = setup(settings);
      const runner = new QueryRunner({ sink });
      const request = { environment: 'dev', spanner: env('dev').spanner!, sql: PREDICT_DE, getToken: googleTokenSource(broker, 'dev') };
      try {
        await runner.run(request);
        await runner.run(request);
        assert.deepEqual(spanner.stats(), { sessionsCreated: 1, sessionsDeleted: 0, sessionsExpired: 0, queries: 2 }, 'one session serves both queries');
        skewMs = 61 * 60_000; // an hour and a minute idle
        const r = await runner.run(request);
        assert.equal(r.rows.length, 5);
        assert.deepEqual(spanner.stats(), { sessionsCreated: 2, sessionsDeleted: 0, sessionsExpired: 1, queries: 3 });
        assert.deepEqual(
          events.filter((e) => e.type === 'queryExecuted').map((e) => e.outcome),
          ['success', 'success', 'success'],
        );
      } finally {
        await runner.dispose();
      }
      assert.equal(spanner.stats().sessionsDeleted, 1, 'dispose deletes the live session');
      assert.deepEqual(spanner.sessions(), []);
    });

    it('rejects an unknown token with 401 UNAUTHENTICATED in the Google error shape', async () => {
      const db = `projects/${SANDBOX_PROJECT}/instances/ml/databases/features`;
      const res = await fetch(`${spanner.url}/v1/${db}/sessions`, { method: 'POST', headers: { authorization: 'Bearer ya29.not-issued-here', 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { code: number; status: string; message: string } };
      assert.equal(body.error.code, 401);
      assert.equal(body.error.status, 'UNAUTHENTICATED');
    });
  });
});
