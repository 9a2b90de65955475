import { strict as assert } from 'node:assert';
import { AccessGate } from '../../src/core/access/AccessGate';
import { AGENT_TOOLS, AgentToolService, agentVerdict, shapeTable, spannerParams, validateToolInput, type AgentSettings, type AgentToolName } from '../../src/core/agents/agentTools';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';
import { looksLikeToken } from '../../src/core/redact';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';
const SETTINGS = {
  dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' }, spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD } },
  staging: { extends: 'dev', requiredGroups: ['ml-staging'] },
  prod: { extends: 'dev', requiredGroups: ['ml-prod'] },
};
const DEFAULTS: AgentSettings = { environments: [], tools: [], maxRows: 50, maxBytes: 16_384 };

describe('agent tools', () => {
  describe('agents policy table: tool × environment kind × setting', () => {
    const dev = { name: 'dev', confirm: false };
    const prod = { name: 'prod', confirm: true };
    const cases: [AgentToolName, { name: string; confirm: boolean }, Partial<AgentSettings>, string][] = [
      ['mlspanner_runQuery', dev, {}, 'allowed'],
      ['mlspanner_listJobs', dev, {}, 'allowed'],
      ['mlspanner_getRun', dev, {}, 'allowed'],
      ['mlspanner_runJob', dev, {}, 'confirm'],
      ['mlspanner_cancelRun', dev, {}, 'confirm'],
      ['mlspanner_runQuery', prod, {}, 'denied'],
      ['mlspanner_explainAccess', prod, {}, 'denied'],
      ['mlspanner_runQuery', prod, { environments: ['prod'] }, 'confirm'],
      ['mlspanner_getRun', prod, { environments: ['prod'] }, 'confirm'],
      ['mlspanner_runQuery', dev, { environments: ['staging'] }, 'denied'],
      ['mlspanner_runQuery', dev, { tools: ['mlspanner_listJobs'] }, 'denied'],
      ['mlspanner_listJobs', dev, { tools: ['mlspanner_listJobs'] }, 'allowed'],
    ];
    for (const [tool, env, s, expected] of cases)
      it(`${tool} in ${env.name} with ${JSON.stringify(s)} → ${expected}`, () => {
        const v = agentVerdict(tool, env, { ...DEFAULTS, ...s });
        assert.equal(v.kind, expected);
        if (v.kind === 'denied') assert.match(v.reason, /mlspanner\.agents\.(environments|tools)/, 'a denial says which setting to change');
        if (v.kind === 'confirm') assert.equal(v.reasonRequired, env.confirm);
      });
  });

  it('validates every tool input and keeps writes out', () => {
    assert.throws(() => validateToolInput('mlspanner_runQuery', { environment: 'dev' }), /"sql" is required/);
    assert.throws(() => validateToolInput('mlspanner_runQuery', { environment: 'dev', sql: 'DELETE FROM t WHERE true' }), /read-only|SELECT/i);
    assert.throws(() => validateToolInput('mlspanner_runQuery', { environment: 'dev', sql: 'SELECT 1', params: { 'a-b': 1 } }), /not valid/);
    assert.throws(() => validateToolInput('mlspanner_runQuery', { environment: 'dev', sql: 'SELECT 1', params: { a: { nested: 1 } } }), /string, number, boolean or null/);
    assert.throws(() => validateToolInput('mlspanner_runJob', { environment: 'dev', jobId: -1 }), /non-negative whole number/);
    assert.throws(() => validateToolInput('mlspanner_runJob', { environment: 'dev', jobId: 1, parameters: { a: 1 } }), /must be a string/);
    assert.throws(() => validateToolInput('mlspanner_getRun', { environment: 'dev' }), /"runId" is required/);
    assert.throws(() => validateToolInput('mlspanner_explainAccess', {}), /"environment" is required/);
    assert.throws(() => validateToolInput('mlspanner_listJobs', 'dev'), /must be an object/);
    assert.deepEqual(validateToolInput('mlspanner_listEnvironments', {}), { environment: undefined });
    assert.deepEqual(validateToolInput('mlspanner_runQuery', { environment: 'dev', sql: 'SELECT @c', params: { c: 'DE', n: 3, x: 1.5, b: true } }).params, { c: 'DE', n: 3, x: 1.5, b: true });
  });

  it('binds parameters with their types, never into the SQL text', () => {
    assert.deepEqual(spannerParams({ c: 'DE', n: 3, x: 1.5, b: true, z: null }), {
      params: { c: 'DE', n: '3', x: 1.5, b: true, z: null },
      paramTypes: { c: { code: 'STRING' }, n: { code: 'INT64' }, x: { code: 'FLOAT64' }, b: { code: 'BOOL' }, z: { code: 'STRING' } },
    });
  });

  it('shapes results within the row and byte caps and states the truncation; no token survives', () => {
    const rows = Array.from({ length: 100 }, (_, i) => [i, `name ${i}`, i === 3 ? 'dapi0123456789abcdef0123456789abcdef' : 'x|y']);
    const t = shapeTable(['id', 'name', 'v'], rows, 10, 100_000);
    assert.equal(t.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---')).length, 11, 'header and 10 rows');
    assert.match(t, /Showing 10 of 100 rows/);
    assert.match(t, /x\\\|y/);
    assert.equal(looksLikeToken(t), false);
    const small = shapeTable(['id'], rows.map((r) => [r[0]]), 1000, 200);
    assert.ok(Buffer.byteLength(small) < 400);
    assert.match(small, /Showing \d+ of 100 rows/);
    assert.match(shapeTable(['a'], [[1]], 10, 1000), /1 row\.$/);
  });

  it('package.json declares every tool with a description and an input schema matching what the tool reads', () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { contributes: { languageModelTools: { name: string; modelDescription: string; inputSchema: { required?: string[]; properties: Record<string, unknown> } }[] } };
    const declared = pkg.contributes.languageModelTools;
    assert.deepEqual(declared.map((t) => t.name).sort(), [...AGENT_TOOLS].sort());
    for (const t of declared) {
      assert.ok(t.modelDescription.length > 80, `${t.name}: a precise modelDescription`);
      for (const key of t.inputSchema.required ?? []) assert.ok(key in t.inputSchema.properties, `${t.name}: ${key}`);
      if (t.name !== 'mlspanner_listEnvironments') assert.ok(t.inputSchema.required?.includes('environment'), t.name);
    }
  });

  describe('service', () => {
    const session: IdentitySession = {
      issuer: 'https://idp.example.com',
      subject: 'bob',
      name: 'Bob',
      groups: ['ml-dev'],
      claims: {},
      idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IiLCJleHAiOjF9.c2lnbmF0dXJlc2lnbmF0dXJl',
      idTokenExpiresAt: Date.now() + 3600_000,
      accessToken: 'opaque-access-token-value',
      accessTokenExpiresAt: Date.now() + 3600_000,
      scopes: [],
    };
    function setup(groups: string[], settings: Partial<AgentSettings> = {}, reason?: string) {
      const events: AccessEventInput[] = [];
      const s = { ...session, groups };
      const resolution = resolveEnvironments(SETTINGS);
      const gate = new AccessGate({ identity: { current: () => s, fresh: async () => s }, environments: () => resolution, sink: { record: (e) => void events.push(e) }, http: () => assert.fail('no exchange in these tests') });
      const calls: string[] = [];
      const service = new AgentToolService({
        gate,
        environments: () => Object.values(resolution.environments),
        session: () => s,
        settings: () => ({ ...DEFAULTS, ...settings }),
        sink: { record: (e) => void events.push(e) },
        askReason: async (env, tool) => {
          calls.push(`reason:${env}:${tool}`);
          return reason;
        },
        runQuery: async (req) => {
          calls.push(`query:${req.environment}:${req.sql}:${JSON.stringify(req.params)}`);
          return { columns: ['customer_id', 'churn_probability'], rows: [['c1', 0.9], ['c2', 0.1]] };
        },
        databricks: (grant) => ({
          listAllJobs: async () => [{ job_id: 7, settings: { name: 'train-churn-model', parameters: [{ name: 'epochs', default: '3' }] } }],
          runNow: async (r) => (calls.push(`runNow:${grant.environment}:${r.job_id}:${grant.reason ?? ''}`), { run_id: 99 }),
          getRun: async (id) => ({ run_id: id, run_name: 'train', state: { life_cycle_state: 'RUNNING' } }) as never,
          getRunOutput: async () => ({}) as never,
          cancelRun: async (id) => void calls.push(`cancel:${id}`),
        }),
      });
      return { service, events, calls };
    }

    it('bob → staging: denied, explained to the model, logged as an agent call', async () => {
      const { service, events, calls } = setup(['ml-dev']);
      const a = await service.invoke('mlspanner_runQuery', { environment: 'staging', sql: 'SELECT 1' });
      assert.equal(a.outcome, 'denied');
      assert.match(a.text, /requires one of groups ml-staging/);
      assert.match(a.text, /Explain Access/);
      assert.deepEqual(calls, []);
      assert.deepEqual(
        events.map((e) => [e.type, e.via, e.tool, e.environment, e.outcome]),
        [
          ['accessDenied', 'agent', 'mlspanner_runQuery', 'staging', 'denied'],
          ['agentToolInvoked', 'agent', 'mlspanner_runQuery', 'staging', 'denied'],
        ],
      );
    });

    it('agents → prod: closed by default, whatever the user may do', async () => {
      const { service, calls } = setup(['ml-dev', 'ml-prod']);
      const a = await service.invoke('mlspanner_listJobs', { environment: 'prod' });
      assert.equal(a.outcome, 'denied');
      assert.match(a.text, /closed to agents by default/);
      assert.deepEqual(calls, []);
    });

    it('prod listed for agents: the user gives a reason, which is logged; no reason, no call', async () => {
      const yes = setup(['ml-prod'], { environments: ['prod'] }, 'INC-9 agent reruns training');
      const a = await yes.service.invoke('mlspanner_runJob', { environment: 'prod', jobId: 7 });
      assert.equal(a.outcome, 'success');
      assert.deepEqual(yes.calls, ['reason:prod:mlspanner_runJob', 'runNow:prod:7:INC-9 agent reruns training']);
      const confirmed = yes.events.find((e) => e.type === 'accessConfirmed')!;
      assert.deepEqual([confirmed.via, confirmed.tool, confirmed.reason, confirmed.purpose], ['agent', 'mlspanner_runJob', 'INC-9 agent reruns training', 'job']);
      const no = setup(['ml-prod'], { environments: ['prod'] }, undefined);
      const b = await no.service.invoke('mlspanner_runJob', { environment: 'prod', jobId: 7 });
      assert.equal(b.outcome, 'cancelled');
      assert.ok(!no.calls.some((c) => c.startsWith('runNow')));
    });

    it('runs a query with bound parameters and returns a capped table; lists, starts and reads runs', async () => {
      const { service, calls, events } = setup(['ml-dev']);
      const q = await service.invoke('mlspanner_runQuery', { environment: 'dev', sql: 'SELECT * FROM ML.PREDICT(MODEL m, TABLE t) WHERE country = @c', params: { c: 'DE' } });
      assert.equal(q.outcome, 'success');
      assert.match(q.text, /\| customer_id \| churn_probability \|/);
      assert.equal(calls[0], 'query:dev:SELECT * FROM ML.PREDICT(MODEL m, TABLE t) WHERE country = @c:{"c":"DE"}');
      assert.match((await service.invoke('mlspanner_listJobs', { environment: 'dev' })).text, /\| 7 \| train-churn-model \| epochs=3 \|/);
      assert.match((await service.invoke('mlspanner_runJob', { environment: 'dev', jobId: 7 })).text, /run 99/);
      assert.match((await service.invoke('mlspanner_getRun', { environment: 'dev', runId: 99 })).text, /Run 99 \(train\) in dev: Running/);
      assert.ok(events.filter((e) => e.type === 'agentToolInvoked').every((e) => e.via === 'agent'));
      assert.ok(events.some((e) => e.type === 'jobStarted' && e.via === 'agent' && e.tool === 'mlspanner_runJob'));
    });

    it('prepares an invocation message naming what happens where, and asks approval for work that starts or stops', () => {
      const { service } = setup(['ml-dev']);
      assert.deepEqual(service.prepare('mlspanner_runQuery', { environment: 'dev', sql: 'SELECT 1' }), { message: 'Running a read-only ML Spanner query in dev' });
      const p = service.prepare('mlspanner_cancelRun', { environment: 'dev', runId: 5 });
      assert.equal(p.message, 'Cancelling Databricks run 5 in dev');
      assert.match(p.confirm!.message, /starts or stops work/);
    });

    it('never returns a token, whatever the tool or the error', async () => {
      const { service } = setup(['ml-dev', 'ml-staging']);
      const answers = [];
      for (const tool of AGENT_TOOLS) answers.push(await service.invoke(tool, { environment: 'dev', sql: 'SELECT 1', jobId: 7, runId: 1 }));
      answers.push(await service.invoke('mlspanner_explainAccess', { environment: 'staging' }));
      for (const a of answers) {
        assert.equal(looksLikeToken(a.text), false, a.text);
        assert.ok(!a.text.includes(session.accessToken));
      }
    });
  });
});
