import { strict as assert } from 'node:assert';
import { AccessGate, PURPOSES, type Purpose } from '../../src/core/access/AccessGate';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession, IdentitySource } from '../../src/core/auth/IdentitySession';
import type { HttpFactory } from '../../src/core/credentials/Credential';
import { parseBundleTargets } from '../../src/core/policy/parseBundleTargets';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';

class FakeIdentity implements IdentitySource {
  session?: IdentitySession;
  constructor(groups: string[], subject = 'alice') {
    this.session = {
      issuer: 'https://idp.example.com',
      subject,
      name: subject,
      groups,
      claims: {},
      idToken: 'id-token',
      idTokenExpiresAt: Date.now() + 3600_000,
      accessToken: 'access-token',
      accessTokenExpiresAt: Date.now() + 3600_000,
      scopes: ['openid'],
    };
  }
  current() {
    return this.session;
  }
  async fresh() {
    if (!this.session) throw new Error('signed out');
    return this.session;
  }
}

const SETTINGS = {
  dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' }, aws: { roleArn: 'arn:aws:iam::123456789012:role/dev' } },
  staging: { extends: 'dev', requiredGroups: ['ml-staging'], spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD } },
  prod: { extends: 'staging', requiredGroups: ['ml-prod'] },
  constructor: { requiredGroups: [], databricks: { host: 'https://proto.example.com' } },
};
const BUNDLE = parseBundleTargets('targets:\n  sandbox:\n    workspace:\n      host: https://bundle.example.com\n');

/** An HTTP factory that fails the test if anything is sent: the gate decides before any request. */
const noHttp: HttpFactory = () => {
  throw new Error('no request may be made in these tests');
};

function setup(groups: string[], opts: { remember?: number } = {}) {
  const events: AccessEventInput[] = [];
  const identity = new FakeIdentity(groups);
  let now = 1_000_000;
  const gate = new AccessGate({
    identity,
    environments: () => resolveEnvironments(SETTINGS, BUNDLE),
    sink: { record: (e) => void events.push(e) },
    http: noHttp,
    now: () => now,
    rememberConfirmationMs: () => opts.remember ?? 0,
  });
  return { gate, events, identity, tick: (ms: number) => (now += ms) };
}

describe('access gate', () => {
  // purpose × environment kind → decision, for a user in ml-dev and ml-staging (not ml-prod).
  const kinds: Record<string, { environment: string; groups: string[] }> = {
    'granted (member)': { environment: 'staging', groups: ['ml-dev', 'ml-staging'] },
    'prod-like (member)': { environment: 'prod', groups: ['ml-prod'] },
    'not a member': { environment: 'prod', groups: ['ml-dev', 'ml-staging'] },
    'bundle only': { environment: 'sandbox', groups: ['ml-dev'] },
    'no group required': { environment: 'constructor', groups: [] },
    unknown: { environment: 'nowhere', groups: ['ml-dev'] },
  };
  const expected: Record<string, Record<Purpose, string>> = {
    'granted (member)': { view: 'granted', refresh: 'granted', terminal: 'granted', job: 'granted', notebook: 'granted', query: 'granted', workspace: 'granted', endpoint: 'granted', secretScope: 'granted', doctor: 'granted', explain: 'granted' },
    'prod-like (member)': { view: 'confirm', refresh: 'confirm', terminal: 'confirm', job: 'confirm', notebook: 'confirm', query: 'confirm', workspace: 'confirm', endpoint: 'confirm', secretScope: 'confirm', doctor: 'confirm', explain: 'granted' },
    'not a member': Object.fromEntries(PURPOSES.map((p) => [p, 'denied'])) as Record<Purpose, string>,
    'bundle only': Object.fromEntries(PURPOSES.map((p) => [p, 'denied'])) as Record<Purpose, string>,
    'no group required': { view: 'granted', refresh: 'granted', terminal: 'granted', job: 'granted', notebook: 'granted', query: 'granted', workspace: 'granted', endpoint: 'granted', secretScope: 'granted', doctor: 'granted', explain: 'granted' },
    unknown: Object.fromEntries(PURPOSES.map((p) => [p, 'denied'])) as Record<Purpose, string>,
  };
  for (const [kind, { environment, groups }] of Object.entries(kinds)) {
    it(`decides every purpose for: ${kind}`, () => {
      const { gate } = setup(groups);
      const actual = Object.fromEntries(PURPOSES.map((p) => [p, gate.evaluate({ environment, purpose: p }).kind]));
      assert.deepEqual(actual, expected[kind]);
    });
  }

  it('an environment named after an Object.prototype member resolves like any other', () => {
    const { gate } = setup([]);
    const d = gate.evaluate({ environment: 'constructor', purpose: 'job', targets: ['databricks'] });
    assert.equal(d.kind, 'granted');
    assert.equal(gate.evaluate({ environment: 'toString', purpose: 'job' }).kind, 'denied');
    assert.equal(gate.evaluate({ environment: '__proto__', purpose: 'job' }).kind, 'denied');
  });

  it('records every denial once, with the purpose, and never for a mere evaluation', () => {
    const { gate, events } = setup(['ml-dev']);
    gate.evaluate({ environment: 'staging', purpose: 'view' });
    assert.equal(events.length, 0);
    const d = gate.request({ environment: 'staging', purpose: 'terminal' });
    assert.equal(d.kind, 'denied');
    assert.deepEqual(
      events.map((e) => [e.type, e.outcome, e.environment, e.purpose, e.via]),
      [['accessDenied', 'denied', 'staging', 'terminal', 'user']],
    );
    assert.match(String(events[0].reason), /requires one of groups ml-staging; you have ml-dev/);
  });

  it('denies a target the environment does not configure, naming the setting, as a config error', () => {
    const { gate } = setup(['ml-dev']);
    const d = gate.request({ environment: 'dev', purpose: 'query', targets: ['google'] });
    assert.equal(d.kind, 'denied');
    assert.ok(d.kind === 'denied' && d.error.kind === 'config');
    assert.match(d.reason, /mlspanner\.environments\.dev\.spanner\.workloadIdentityAudience/);
  });

  it('a prod-like environment issues nothing before a confirmation with a reason, which is recorded with its purpose', async () => {
    const { gate, events } = setup(['ml-prod']);
    const d = gate.request({ environment: 'prod', purpose: 'query', targets: ['google'] });
    assert.equal(d.kind, 'confirm');
    assert.throws(() => gate.confirm({ environment: 'prod', purpose: 'query' }, '  '), /reason/);
    const grant = gate.confirm({ environment: 'prod', purpose: 'query', targets: ['google'], action: 'Run this query' }, 'INC-4711 "code=abc123" approved');
    assert.equal(grant.reason, 'INC-4711 "code=abc123" approved');
    assert.deepEqual(
      events.map((e) => [e.type, e.environment, e.purpose, e.reason, e.action]),
      [['accessConfirmed', 'prod', 'query', 'INC-4711 "code=abc123" approved', 'Run this query']],
    );
    // Another purpose asks again; a grant covers only its targets.
    assert.equal(gate.evaluate({ environment: 'prod', purpose: 'terminal' }).kind, 'confirm');
    await assert.rejects(gate.credential(grant, 'aws'), /granted for Google token \(ML Spanner\), not AWS session/);
  });

  it('remembers a confirmation for the configured window, per environment and purpose, and forgets it at sign-out', () => {
    const { gate, tick } = setup(['ml-prod'], { remember: 10 * 60_000 });
    gate.confirm({ environment: 'prod', purpose: 'job' }, 'CHG-1');
    const again = gate.evaluate({ environment: 'prod', purpose: 'job' });
    assert.equal(again.kind, 'granted');
    assert.equal(again.kind === 'granted' && again.grant.reason, 'CHG-1');
    assert.equal(gate.evaluate({ environment: 'prod', purpose: 'view' }).kind, 'confirm');
    tick(10 * 60_000 + 1);
    assert.equal(gate.evaluate({ environment: 'prod', purpose: 'job' }).kind, 'confirm');
    gate.confirm({ environment: 'prod', purpose: 'job' }, 'CHG-2');
    gate.forgetConfirmations();
    assert.equal(gate.evaluate({ environment: 'prod', purpose: 'job' }).kind, 'confirm');
  });

  it('by default a confirmation is not remembered', () => {
    const { gate } = setup(['ml-prod']);
    gate.confirm({ environment: 'prod', purpose: 'job' }, 'CHG-1');
    assert.equal(gate.evaluate({ environment: 'prod', purpose: 'job' }).kind, 'confirm');
  });

  it('a grant belongs to its user: after an account change it is refused', async () => {
    const { gate, identity } = setup(['ml-dev', 'ml-staging']);
    const d = gate.request({ environment: 'staging', purpose: 'job', targets: ['databricks'] });
    assert.equal(d.kind, 'granted');
    identity.session = new FakeIdentity(['ml-dev', 'ml-staging'], 'mallory').session;
    await assert.rejects(gate.credential(d.kind === 'granted' ? d.grant : assert.fail(), 'databricks'), (e: Error & { kind?: string }) => e.kind === 'auth');
  });

  it('a group lost since the grant is a recorded denial, not a credential', async () => {
    const { gate, identity, events } = setup(['ml-dev', 'ml-staging']);
    const d = gate.request({ environment: 'staging', purpose: 'job', targets: ['databricks'] });
    identity.session = { ...identity.session!, groups: ['ml-dev'] };
    await assert.rejects(gate.credential(d.kind === 'granted' ? d.grant : assert.fail(), 'databricks'), (e: Error & { kind?: string }) => e.kind === 'denied');
    assert.deepEqual(events.map((e) => [e.type, e.purpose]), [['accessDenied', 'job']]);
  });

  it('signed out: denied with a Sign In remedy', () => {
    const { gate, identity } = setup(['ml-dev']);
    identity.session = undefined;
    const d = gate.evaluate({ environment: 'dev', purpose: 'view' });
    assert.ok(d.kind === 'denied' && d.error.kind === 'auth');
    assert.deepEqual(d.kind === 'denied' && d.error.remedies.map((r) => r.command), ['mlspanner.signIn']);
  });

  it('an agent request is recorded as done by an agent, with the tool', () => {
    const { gate, events } = setup(['ml-dev']);
    gate.request({ environment: 'staging', purpose: 'query', via: 'agent', tool: 'mlspanner_runQuery' });
    assert.deepEqual([events[0].via, events[0].tool], ['agent', 'mlspanner_runQuery']);
  });
});
