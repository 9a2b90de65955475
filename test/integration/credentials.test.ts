import { strict as assert } from 'node:assert';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import type { Credential } from '../../src/core/credentials/Credential';
import { GateCredentials } from './gateCredentials';
import { errorMessage, UserFacingError } from '../../src/core/errors';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { looksLikeToken } from '../../src/core/redact';
import { signInAs as signIn } from './signInAs';
import { sandbox } from './setup';


/** Deep copy of the sandbox's ready `mlspanner.environments` value with an edit applied. */
function editedEnvironments(edit: (envs: Record<string, Record<string, Record<string, unknown>>>) => void): unknown {
  const copy = JSON.parse(JSON.stringify(sandbox().environments)) as Record<string, Record<string, Record<string, unknown>>>;
  edit(copy);
  return copy;
}

describe('credential broker against the sandbox services', function () {
  this.timeout(30_000);
  const sessions: Record<string, SessionManager> = {};
  const brokers: GateCredentials[] = [];

  before(async () => {
    for (const user of ['alice', 'bob']) sessions[user] = await signIn(user);
  });
  after(() => {
    for (const b of brokers) b.dispose();
    for (const m of Object.values(sessions)) m.dispose();
  });

  function brokerFor(user: string, settings: unknown = sandbox().environments, now: () => number = Date.now) {
    const events: AccessEventInput[] = [];
    const broker = new GateCredentials({
      identity: sessions[user],
      environments: () => resolveEnvironments(settings),
      http: (service) => createHttpClient({ service, retry: { maxRetries: 1, baseDelayMs: 50 } }),
      sink: { record: (e) => void events.push(e) },
      now,
    });
    brokers.push(broker);
    return { broker, events };
  }

  it('the sandbox environments are valid settings', () => {
    const r = resolveEnvironments(sandbox().environments);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(Object.keys(r.environments).sort(), ['dev', 'prod', 'staging']);
    assert.equal(r.environments.prod.confirm, true);
  });

  it('exchanges a real IdP token for Databricks, Google (with impersonation) and AWS credentials', async () => {
    const { broker, events } = brokerFor('alice');
    const dbx = await broker.get('staging', 'databricks');
    assert.equal(dbx.source, 'federation');
    assert.equal(dbx.principal, sandbox().databricks.staging);
    // The token is real: the workspace accepts it.
    const jobs = await createHttpClient({ service: 'Databricks' }).get(`${sandbox().databricks.staging}/api/2.2/jobs/list`, {
      headers: { Authorization: `Bearer ${(dbx as Credential & { accessToken: string }).accessToken}` },
    });
    assert.equal(jobs.status, 200);

    const google = await broker.get('staging', 'google');
    assert.equal(google.source, 'impersonation');
    assert.equal(google.principal, sandbox().google.serviceAccount('staging'));
    const devGoogle = await broker.get('dev', 'google');
    assert.equal(devGoogle.source, 'sts', 'dev has no service account: the STS token itself');

    const aws = await broker.get('staging', 'aws');
    assert.equal(aws.target, 'aws');
    assert.equal(aws.principal, sandbox().aws.roleArn('staging'));
    assert.match(aws.kind === 'aws' ? aws.assumedRoleArn : '', /assumed-role\/ml-staging\/alice$/);
    for (const c of [dbx, google, devGoogle, aws]) {
      assert.ok(c.expiresAt > Date.now() && c.expiresAt <= c.issuedAt + 3600_000, `${c.target}: capped at maxTtlSeconds`);
    }

    assert.deepEqual(events.map((e) => `${e.type}:${e.environment}/${e.target}`), [
      'credentialIssued:staging/databricks',
      'credentialIssued:staging/google',
      'credentialIssued:dev/google',
      'credentialIssued:staging/aws',
    ]);
    assert.ok(!looksLikeToken(JSON.stringify(events)), 'fingerprints only in access events');
    assert.ok(events.every((e) => /^sha256:[0-9a-f]{12}$/.test(String(e.tokenFingerprint))));
  });

  it('denies an environment outside the user’s groups before any exchange', async () => {
    const { broker, events } = brokerFor('alice');
    await assert.rejects(broker.get('prod', 'aws'), (e: UserFacingError) => {
      assert.equal(e.kind, 'denied');
      assert.equal(e.message, 'Access to AWS session in "prod" denied: requires one of groups ml-prod; you have ml-dev, ml-staging.');
      return true;
    });
    assert.deepEqual(events.map((e) => [e.type, e.outcome]), [['accessDenied', 'denied']]);
  });

  it('when settings wrongly open an environment, the services still refuse, with an actionable error', async () => {
    // Bob is only in ml-dev; these settings drop the group check for staging.
    const open = editedEnvironments((e) => {
      e.staging.requiredGroups = [] as unknown as Record<string, unknown>;
    });
    const { broker, events } = brokerFor('bob', open);
    await assert.rejects(broker.get('staging', 'google'), (e: UserFacingError) => {
      assert.equal(e.kind, 'denied');
      assert.match(errorMessage(e), /Impersonating ml-staging@.* failed: .*mlspanner\.environments\.staging\.spanner\.serviceAccount/);
      return true;
    });
    await assert.rejects(broker.get('staging', 'aws'), (e: UserFacingError) => {
      assert.match(errorMessage(e), /AWS STS refused to assume .*role\/ml-staging for "staging"/);
      return true;
    });
    assert.deepEqual(events.map((e) => e.type), ['credentialFailed', 'credentialFailed']);
    assert.equal((await broker.get('dev', 'aws')).target, 'aws', 'the failing environment leaves the others working');
  });

  it('a wrong workload identity audience surfaces invalid_target naming the setting', async () => {
    const wrong = editedEnvironments((e) => {
      e.dev.spanner.workloadIdentityAudience = '//iam.googleapis.com/projects/999/locations/global/workloadIdentityPools/ml-pool/providers/missing';
    });
    const { broker } = brokerFor('alice', wrong);
    await assert.rejects(broker.get('dev', 'google'), (e: UserFacingError) => {
      assert.equal(e.kind, 'config');
      assert.match(e.message, /invalid_target/);
      assert.match(e.action ?? '', /mlspanner\.environments\.dev\.spanner\.workloadIdentityAudience/);
      return true;
    });
  });

  it('caps lifetimes at maxTtlSeconds and refreshes near expiry', async () => {
    const short = editedEnvironments((e) => {
      (e.dev as Record<string, unknown>).maxTtlSeconds = 300;
    });
    let offset = 0;
    const { broker, events } = brokerFor('alice', short, () => Date.now() + offset);
    const first = await broker.get('dev', 'aws');
    assert.ok(first.serviceExpiresAt! >= first.issuedAt + 899_000, 'AWS issues at least 900 s');
    assert.ok(Math.abs(first.expiresAt - (first.issuedAt + 300_000)) < 1, 'the broker expires it at the 300 s cap');
    const dbx = await broker.get('dev', 'databricks');
    assert.equal(dbx.expiresAt, dbx.issuedAt + 300_000);

    offset = 200_000; // 100 s left: more than the 60 s margin
    assert.equal(await broker.get('dev', 'aws'), first);
    offset = 241_000; // 59 s left
    const second = await broker.get('dev', 'aws');
    assert.notEqual(second, first);
    assert.notEqual(second.fingerprint, first.fingerprint);
    offset = 400_000;
    assert.equal(broker.peek().find((p) => p.target === 'databricks')?.state, 'expired');
    assert.deepEqual(events.map((e) => `${e.type}:${e.target}`), ['credentialIssued:aws', 'credentialIssued:databricks', 'credentialRefreshed:aws']);
  });
});
