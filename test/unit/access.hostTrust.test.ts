import { strict as assert } from 'node:assert';
import { AccessGate, type AccessRequest } from '../../src/core/access/AccessGate';
import { AgentToolService } from '../../src/core/agents/agentTools';
import { hostTrustChecks, originsIn, type HostAnswer, type HostTrustStore } from '../../src/core/access/hostTrust';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession, IdentitySource } from '../../src/core/auth/IdentitySession';
import type { HttpFactory } from '../../src/core/credentials/Credential';
import { UserFacingError } from '../../src/core/errors';
import { explainAccess } from '../../src/core/policy/explainAccess';
import { parseBundleTargets } from '../../src/core/policy/parseBundleTargets';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';
const SPANNER = { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD };

/** What the user's own User settings say (the shell reads these with inspect().globalValue). */
const USER_SETTINGS = {
  dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } },
  gcp: { requiredGroups: ['ml-dev'], spanner: SPANNER },
};
/** The effective settings: the User ones plus what a cloned workspace adds. */
const SETTINGS = {
  ...USER_SETTINGS,
  staging: { requiredGroups: ['ml-dev'] }, // its host comes from databricks.yml
  ws: { requiredGroups: ['ml-dev'], databricks: { host: 'https://ws.example.com' } },
  wsChild: { extends: 'ws', requiredGroups: ['ml-dev'] },
  gcpProxy: { requiredGroups: ['ml-dev'], spanner: { ...SPANNER, stsEndpoint: 'https://sts.proxy.example.com/v1' } },
  mirror: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } }, // a workspace value naming the user's own host
  prod: { requiredGroups: ['ml-dev'], confirm: true },
};
const BUNDLE = parseBundleTargets(
  'targets:\n  staging:\n    workspace:\n      host: https://x.cloud.databricks.com\n  prod:\n    workspace:\n      host: https://prod.cloud.databricks.com\n',
);
const X = 'https://x.cloud.databricks.com';

class MemoryHostTrustStore implements HostTrustStore {
  readonly data = new Map<string, Record<string, HostAnswer>>();
  answers(user: string) {
    return this.data.get(user) ?? {};
  }
  async record(user: string, origin: string, answer: HostAnswer) {
    this.data.set(user, { ...this.answers(user), [origin]: answer });
  }
  async forget(user: string, origin: string) {
    const mine = { ...this.answers(user) };
    delete mine[origin];
    this.data.set(user, mine);
  }
}

class FakeIdentity implements IdentitySource {
  session?: IdentitySession;
  constructor(subject: string) {
    this.signInAs(subject);
  }
  signInAs(subject: string) {
    this.session = {
      issuer: 'https://idp.example.com',
      subject,
      name: subject,
      groups: ['ml-dev'],
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

/** Any request the broker makes fails with this marker: reaching it means the gate let the use through. */
class ReachedNetwork extends Error {}

function setup(opts: { store?: MemoryHostTrustStore; subject?: string; hostTrust?: boolean } = {}) {
  const events: AccessEventInput[] = [];
  const requested: string[] = [];
  const store = opts.store ?? new MemoryHostTrustStore();
  const identity = new FakeIdentity(opts.subject ?? 'alice');
  const http: HttpFactory = (service) => {
    requested.push(service);
    throw new ReachedNetwork(service);
  };
  const gate = new AccessGate({
    identity,
    environments: () => resolveEnvironments(SETTINGS, BUNDLE),
    sink: { record: (e) => void events.push(e) },
    http,
    now: () => Date.parse('2026-12-01T12:00:00Z'),
    hostTrust: opts.hostTrust === false ? undefined : { store, userSettingsHosts: () => originsIn(USER_SETTINGS) },
  });
  return { gate, events, requested, store, identity };
}

const view = (environment: string, extra: Partial<AccessRequest> = {}): AccessRequest => ({ environment, purpose: 'view', ...extra });

describe('access gate: host trust', () => {
  describe('which hosts ask (environment → decision for a user use)', () => {
    const table: [string, string, 'granted' | 'confirm', string[]][] = [
      ['a host from User settings', 'dev', 'granted', []],
      ['built-in Google endpoints', 'gcp', 'granted', []],
      ['a workspace value naming a host the User settings name', 'mirror', 'granted', []],
      ['a host only databricks.yml names', 'staging', 'confirm', [`${X} databricks.yml (target staging)`]],
      ['a host only workspace settings name', 'ws', 'confirm', ['https://ws.example.com mlspanner.environments.ws.databricks.host']],
      ['an inherited workspace host names the environment that set it', 'wsChild', 'confirm', ['https://ws.example.com mlspanner.environments.ws.databricks.host']],
      ['a workspace override of a Google endpoint', 'gcpProxy', 'confirm', ['https://sts.proxy.example.com mlspanner.environments.gcpProxy.spanner.stsEndpoint']],
      ['a prod-like bundle target asks for the host first', 'prod', 'confirm', ['https://prod.cloud.databricks.com databricks.yml (target prod)']],
    ];
    for (const [name, environment, kind, hosts] of table)
      it(`${name}: ${kind}`, () => {
        const { gate, events } = setup();
        const d = gate.request(view(environment));
        assert.equal(d.kind, kind, d.kind === 'denied' ? d.reason : '');
        assert.deepEqual(d.kind === 'confirm' ? (d.hosts ?? []).map((h) => `${h.origin} ${h.source}`) : [], hosts);
        assert.deepEqual(events, [], 'asking records nothing');
      });
  });

  it('an unknown host from databricks.yml: the question names host, environment and source; no token is sent before the answer', async () => {
    const { gate, events, requested } = setup();
    const d = gate.request(view('staging'));
    assert.equal(d.kind, 'confirm');
    if (d.kind !== 'confirm') return;
    assert.deepEqual(
      d.hosts?.map((h) => [h.origin, h.environment, h.target, h.namedBy, h.state]),
      [[X, 'staging', 'databricks', 'bundle', 'unknown']],
    );
    assert.match(d.why, /https:\/\/x\.cloud\.databricks\.com \(Databricks token; named by databricks\.yml \(target staging\)\)/);
    // A grant obtained any other way (a stale one) still gets nothing at the last check.
    const grant = { environment: 'staging', purpose: 'view' as const, targets: ['databricks'], via: 'user' as const, user: 'https://idp.example.com|alice' };
    await assert.rejects(gate.credential(grant, 'databricks'), (e: UserFacingError) => e.kind === 'denied' && /before you approve that host/.test(e.message) && /Approve it in the editor/.test(e.action ?? ''));
    assert.deepEqual(requested, [], 'nothing was sent');
    assert.deepEqual(events.map((e) => [e.type, e.environment]), [['accessDenied', 'staging']]);
    assert.throws(() => gate.confirm(view('staging'), 'a reason'), /before you approve that host/);
  });

  it('approved: granted, one hostTrusted entry with host, environment, target and source; the credential goes to the broker', async () => {
    const { gate, events, requested } = setup();
    const d = gate.request(view('staging', { action: 'Issue credentials' }));
    assert.ok(d.kind === 'confirm' && d.hosts);
    await gate.answerHosts(view('staging', { action: 'Issue credentials' }), d.hosts, 'trusted');
    const again = gate.request(view('staging'));
    assert.equal(again.kind, 'granted');
    if (again.kind !== 'granted') return;
    await assert.rejects(gate.credential(again.grant, 'databricks'), ReachedNetwork);
    assert.deepEqual(requested, ['Databricks']);
    const [entry] = events;
    assert.deepEqual(
      { type: entry.type, outcome: entry.outcome, environment: entry.environment, target: entry.target, resource: entry.resource, detail: entry.detail, purpose: entry.purpose, via: entry.via },
      { type: 'hostTrusted', outcome: 'success', environment: 'staging', target: 'databricks', resource: X, detail: 'named by databricks.yml (target staging)', purpose: 'view', via: 'user' },
    );
    assert.equal(entry.actor?.subject, 'alice');
    assert.deepEqual(events.slice(1).map((e) => e.type), ['credentialFailed'], 'then only the failed exchange (this test has no network)');
  });

  it('rejected: every use is denied with the reason, Explain Access says why, and explain itself still works', async () => {
    const { gate, events, requested } = setup();
    await gate.answerHosts(view('staging'), [{ origin: X }], 'rejected');
    assert.deepEqual(events.map((e) => [e.type, e.outcome, e.resource]), [['hostRejected', 'denied', X]]);
    for (const purpose of ['view', 'job', 'terminal', 'endpoint', 'refresh'] as const) {
      const d = gate.request({ environment: 'staging', purpose });
      assert.equal(d.kind, 'denied');
      if (d.kind !== 'denied') continue;
      assert.match(d.reason, /not sent to https:\/\/x\.cloud\.databricks\.com: you declined to trust this host \(named by databricks\.yml \(target staging\)\)/);
      assert.deepEqual(d.error.remedies.map((r) => r.command), ['mlspanner.manageTrustedHosts', 'mlspanner.explainAccess']);
    }
    assert.equal(events.filter((e) => e.type === 'accessDenied').length, 5);
    const explain = gate.evaluate({ environment: 'staging', purpose: 'explain' });
    assert.ok(explain.kind === 'granted');
    const page = explainAccess(explain.env, gate['options'].identity.current(), explain.decision, gate.targets);
    assert.match(page, /### Databricks: denied/);
    assert.match(page, /you declined to trust https:\/\/x\.cloud\.databricks\.com \(named by databricks\.yml \(target staging\)\), so no token is sent there/);
    assert.deepEqual(requested, []);
  });

  it('a host not yet approved shows in Explain Access as asking at first use', () => {
    const { gate } = setup();
    const d = gate.evaluate({ environment: 'ws', purpose: 'explain' });
    assert.ok(d.kind === 'granted');
    const page = explainAccess(d.env, gate['options'].identity.current(), d.decision, gate.targets);
    assert.match(page, /### Databricks: granted/);
    assert.match(page, /the first use asks you to trust https:\/\/ws\.example\.com \(named by the setting mlspanner\.environments\.ws\.databricks\.host, which is not in your User settings\)/);
  });

  it('agents: an unapproved host is refused with a message to approve it in the editor, and an agent cannot approve it', async () => {
    const { gate, events } = setup();
    const req = view('staging', { purpose: 'query', via: 'agent', tool: 'mlspanner_listJobs' });
    const d = gate.request(req);
    assert.equal(d.kind, 'denied');
    if (d.kind === 'denied') {
      assert.match(d.reason, /No token of "staging" goes to https:\/\/x\.cloud\.databricks\.com \(named by databricks\.yml \(target staging\)\) until the user approves that host, and only the user can, in the editor/);
      assert.match(d.error.action ?? '', /Approve it in the editor/);
    }
    await assert.rejects(gate.answerHosts(req, [{ origin: X }], 'trusted'), /Only the user can approve a host/);
    assert.deepEqual(events.map((e) => [e.type, e.via, e.tool]), [['accessDenied', 'agent', 'mlspanner_listJobs']]);
    // Once the user approves it, the agent's call goes through like any other.
    await gate.answerHosts(view('staging'), [{ origin: X }], 'trusted');
    assert.equal(gate.request(req).kind, 'granted');
  });

  it('agents: a tool call for an unapproved host answers with what the user must do, and sends nothing', async () => {
    const { gate, events, requested } = setup();
    const envs = () => Object.values(resolveEnvironments(SETTINGS, BUNDLE).environments);
    const service = new AgentToolService({
      gate,
      environments: envs,
      session: () => gate['options'].identity.current(),
      settings: () => ({ environments: [], tools: [], maxRows: 50, maxBytes: 8000 }),
      sink: { record: (e: AccessEventInput) => void events.push(e) },
      askReason: async () => assert.fail('no reason is asked for a host'),
      runQuery: async () => assert.fail('no query'),
      databricks: () => assert.fail('no Databricks client'),
    } as never);
    const answer = await service.invoke('mlspanner_listJobs', { environment: 'staging' });
    assert.equal(answer.outcome, 'denied');
    assert.match(answer.text, /only the user can, in the editor: ask them to use "staging" once yourself/);
    assert.deepEqual(requested, []);
    assert.ok(events.some((e) => e.type === 'accessDenied' && e.via === 'agent'));
    assert.ok(!events.some((e) => e.type === 'hostTrusted'));
  });

  it('agents: hosts from User settings need nothing', () => {
    const { gate } = setup();
    assert.equal(gate.request(view('dev', { purpose: 'job', via: 'agent', tool: 'mlspanner_listJobs' })).kind, 'granted');
  });

  it('per user: one user approving a host does not approve it for another', async () => {
    const store = new MemoryHostTrustStore();
    const a = setup({ store, subject: 'alice' });
    await a.gate.answerHosts(view('staging'), [{ origin: X }], 'trusted');
    assert.equal(a.gate.request(view('staging')).kind, 'granted');
    a.identity.signInAs('bob');
    assert.equal(a.gate.request(view('staging')).kind, 'confirm');
    a.identity.signInAs('alice');
    assert.equal(a.gate.request(view('staging')).kind, 'granted');
  });

  it('persisted: a new gate (a reload) over the same store remembers the answers', async () => {
    const store = new MemoryHostTrustStore();
    const first = setup({ store });
    await first.gate.answerHosts(view('staging'), [{ origin: X }], 'trusted');
    await first.gate.answerHosts(view('ws'), [{ origin: 'https://ws.example.com' }], 'rejected');
    first.gate.dispose();
    const second = setup({ store });
    assert.equal(second.gate.request(view('staging')).kind, 'granted');
    assert.equal(second.gate.request(view('ws')).kind, 'denied');
    assert.deepEqual(second.events.map((e) => e.type), ['accessDenied']);
    // Forgetting an answer asks again.
    await second.gate.forgetHost('https://ws.example.com');
    assert.equal(second.gate.request(view('ws')).kind, 'confirm');
  });

  it('a prod-like environment: the host first, then the usual confirmation with a reason', async () => {
    const { gate, events } = setup();
    const d = gate.request(view('prod', { purpose: 'job' }));
    assert.ok(d.kind === 'confirm' && d.hosts?.length === 1);
    await gate.answerHosts(view('prod', { purpose: 'job' }), d.hosts, 'trusted');
    const next = gate.request(view('prod', { purpose: 'job' }));
    assert.equal(next.kind, 'confirm');
    assert.equal(next.kind === 'confirm' ? next.hosts : 'x', undefined);
    const grant = gate.confirm(view('prod', { purpose: 'job' }), 'INC-7 backfill');
    assert.equal(grant.reason, 'INC-7 backfill');
    assert.deepEqual(events.map((e) => e.type), ['hostTrusted', 'accessConfirmed']);
  });

  it('only the hosts the request needs: a declined Google endpoint does not block the Databricks token', async () => {
    const { gate } = setup();
    await gate.answerHosts({ environment: 'gcpProxy', purpose: 'query' }, [{ origin: 'https://sts.proxy.example.com' }], 'rejected');
    assert.equal(gate.request({ environment: 'gcpProxy', purpose: 'query', targets: ['google'] }).kind, 'denied');
    assert.equal(gate.request({ environment: 'dev', purpose: 'job', targets: ['databricks'] }).kind, 'granted');
  });

  it('answers only for hosts the environment really uses', async () => {
    const { gate, store, events } = setup();
    await assert.rejects(gate.answerHosts(view('staging'), [{ origin: 'https://elsewhere.example.com' }], 'trusted'), /sends no token to https:\/\/elsewhere\.example\.com/);
    assert.equal(store.data.size, 0);
    assert.deepEqual(events, []);
  });

  it('background renewal of a credential refuses a host that is no longer approved, with a recorded denial', async () => {
    const { gate, events } = setup();
    const reauthorize = (gate as unknown as { reauthorize(e: string, t: string): unknown }).reauthorize.bind(gate);
    assert.throws(() => reauthorize('staging', 'databricks'), /before you approve that host/);
    assert.deepEqual(events.map((e) => [e.type, e.purpose]), [['accessDenied', 'refresh']]);
    assert.doesNotThrow(() => reauthorize('dev', 'databricks'));
  });

  it('the doctor lists every host with its state', async () => {
    const { gate } = setup();
    await gate.answerHosts(view('staging'), [{ origin: X }], 'trusted');
    await gate.answerHosts(view('ws'), [{ origin: 'https://ws.example.com' }], 'rejected');
    const lines = hostTrustChecks(gate.hostReport()).map((c) => `${c.status} ${c.message}`);
    const find = (origin: string) => lines.find((l) => l.includes(` ${origin}:`)) ?? '';
    assert.equal(find('https://dev.example.com'), 'ok https://dev.example.com: trusted (named in your User settings), for dev/databricks, mirror/databricks.');
    assert.match(find(X), /^ok .*trusted \(you approved it on 2026-12-01\), for staging\/databricks; named by databricks\.yml \(target staging\)/);
    assert.match(find('https://ws.example.com'), /^warn .*not trusted \(you declined it on 2026-12-01\), for ws\/databricks, wsChild\/databricks/);
    assert.match(find('https://prod.cloud.databricks.com'), /^warn .*not approved yet/);
    assert.match(find('https://sts.googleapis.com'), /^ok .*trusted \(built-in endpoint\)/);
  });

  it('signed out, the doctor lists no hosts and says to sign in', () => {
    const { gate, identity } = setup();
    identity.session = undefined;
    assert.deepEqual(gate.hostReport(), []);
    assert.deepEqual(hostTrustChecks([]).map((c) => c.status), ['skip']);
  });

  it('without the host trust option the gate checks no host (tests and tools that do not wire it)', () => {
    const { gate } = setup({ hostTrust: false });
    assert.equal(gate.request(view('staging')).kind, 'granted');
    assert.deepEqual(gate.hostReport(), []);
  });
});

describe('host trust: origins named by a settings value', () => {
  it('collects http(s) origins at any depth, not other strings', () => {
    const found = originsIn({ a: { databricks: { host: 'https://A.example.com/' }, spanner: { stsEndpoint: 'http://127.0.0.1:9/v1', project: 'p' } }, b: ['https://b.example.com:8443/x'], c: 'arn:aws:iam::1:role/x' });
    assert.deepEqual([...found].sort(), ['http://127.0.0.1:9', 'https://a.example.com', 'https://b.example.com:8443']);
    assert.deepEqual([...originsIn(undefined)], []);
  });
});
