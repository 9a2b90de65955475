import * as assert from 'node:assert/strict';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import { DatabricksClient } from '../../src/core/databricks/DatabricksClient';
import { JobRunner, MemoryRunStore, type RunProgress } from '../../src/core/databricks/JobRunner';
import { UserFacingError } from '../../src/core/errors';
import { startDatabricksWorkspace, type DatabricksWorkspaceHandle } from '../../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer, type TestIssuer } from '../../sandbox/TestIssuer';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/**
 * Runs against the workspace emulator over real loopback HTTP. Run time is virtual: the
 * workspace's clock is `clock.now`, and every sleep (polling and Retry-After) advances it.
 */
describe('Databricks integration (workspace emulator over HTTP)', function () {
  this.timeout(20_000);
  let issuer: TestIssuer;
  let ws: DatabricksWorkspaceHandle;
  const clock = { t: Date.now(), now: () => clock.t };
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.t += ms;
    await new Promise((r) => setImmediate(r));
  };

  before(async () => {
    issuer = await startTestIssuer();
    // Exact durations (no jitter): the progress assertions follow one known timeline.
    ws = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'staging', trust: issuer.trust, quiet: true, now: clock.now, jitter: 0 });
  });
  after(async () => {
    await ws?.close();
    await issuer?.close();
  });
  beforeEach(() => {
    sleeps.length = 0;
    ws.knobs.setTokenLifetime(undefined);
    ws.knobs.resetStats();
  });

  async function exchange(subjectToken: string, extra: Record<string, string> = {}) {
    const res = await fetch(`${ws.url}/oidc/v1/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE, scope: 'all-apis', ...extra }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** A token source as the credential broker provides one: federation, cached until expiry (no skew, to exercise 401s). */
  function tokenSource(claims: Parameters<TestIssuer['sign']>[0] = {}) {
    let cached: { token: string; expiresAt: number } | undefined;
    const stats = { exchanges: 0, forced: 0 };
    const get = async (force?: boolean) => {
      if (force) stats.forced++;
      if (!force && cached && clock.now() < cached.expiresAt) return cached.token;
      const { status, body } = await exchange(await issuer.sign(claims));
      assert.equal(status, 200, JSON.stringify(body));
      stats.exchanges++;
      cached = { token: body.access_token as string, expiresAt: clock.now() + (body.expires_in as number) * 1000 };
      return cached.token;
    };
    return { get, stats };
  }

  function runnerFor(getToken: (force?: boolean) => Promise<string>, extra: { store?: MemoryRunStore; onAuthRequired?: () => Promise<void> } = {}) {
    const client = new DatabricksClient(ws.url, getToken, { http: { sleep } });
    const events: AccessEventInput[] = [];
    const store = extra.store ?? new MemoryRunStore();
    const runner = new JobRunner({
      environment: 'staging',
      client,
      store,
      sink: { record: (e) => void events.push(e) },
      sleep,
      now: clock.now,
      onAuthRequired: extra.onAuthRequired,
    });
    return { client, runner, events, store };
  }

  describe('token federation (RFC 8693)', () => {
    it('exchanges an RS256 or ES256 IdP JWT for an opaque bearer token', async () => {
      for (const alg of ['RS256', 'ES256'] as const) {
        const { status, body } = await exchange(await issuer.sign({ alg }));
        assert.equal(status, 200);
        assert.equal(body.token_type, 'Bearer');
        assert.equal(body.scope, 'all-apis');
        assert.match(String(body.access_token), /^dose[0-9a-f]{64}$/);
        assert.ok((body.expires_in as number) > 3500 && (body.expires_in as number) <= 3600);
      }
    });

    it('follows the subject token lifetime when it is shorter than an hour', async () => {
      const { body } = await exchange(await issuer.sign({ expiresInSeconds: 600 }));
      assert.ok((body.expires_in as number) <= 600 && (body.expires_in as number) > 590);
    });

    it('refuses bad subject tokens and requests with OAuth errors', async () => {
      const cases: [Promise<{ status: number; body: Record<string, unknown> }>, string][] = [
        [exchange(await issuer.signWithForeignKey()), 'invalid_grant'],
        [exchange(await issuer.sign({ aud: 'someone-else' })), 'invalid_grant'],
        [exchange(await issuer.sign({ expiresInSeconds: -60 })), 'invalid_grant'],
        [exchange('not-a-jwt'), 'invalid_grant'],
        [exchange(await issuer.sign(), { scope: 'admin' }), 'invalid_scope'],
        [exchange(await issuer.sign(), { grant_type: 'client_credentials' }), 'unsupported_grant_type'],
        [exchange(await issuer.sign(), { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 'invalid_request'],
        [exchange(await issuer.sign(), { client_id: 'unknown-sp' }), 'invalid_grant'],
      ];
      for (const [pending, error] of cases) {
        const { status, body } = await pending;
        assert.equal(status, 400);
        assert.equal(body.error, error);
        assert.ok(typeof body.error_description === 'string' && body.error_description.length > 10);
      }
    });

    it('applies the service-principal policy for client_id', async () => {
      ws.knobs.setServicePrincipalPolicy({ 'sp-ml-ci': ['ada'] });
      const ok = await exchange(await issuer.sign({ sub: 'ada' }), { client_id: 'sp-ml-ci' });
      assert.equal(ok.status, 200);
      const me = await fetch(`${ws.url}/api/2.0/preview/scim/v2/Me`, { headers: { authorization: `Bearer ${ok.body.access_token}` } });
      assert.equal(((await me.json()) as { userName: string }).userName, 'sp-ml-ci');
      const denied = await exchange(await issuer.sign({ sub: 'bob' }), { client_id: 'sp-ml-ci' });
      assert.equal(denied.body.error, 'invalid_grant');
      ws.knobs.setServicePrincipalPolicy({});
    });

    it('REST refuses missing, unknown and nearly expired tokens with 401 UNAUTHENTICATED', async () => {
      const none = await fetch(`${ws.url}/api/2.2/jobs/list`);
      assert.equal(none.status, 401);
      assert.equal(((await none.json()) as { error_code: string }).error_code, 'UNAUTHENTICATED');
      ws.knobs.setTokenLifetime(45);
      const { body } = await exchange(await issuer.sign());
      const auth = { authorization: `Bearer ${body.access_token}` };
      assert.equal((await fetch(`${ws.url}/api/2.2/jobs/list`, { headers: auth })).status, 200);
      clock.t += 16_000; // 29 s left: inside the last 30 s the service refuses the token
      assert.equal((await fetch(`${ws.url}/api/2.2/jobs/list`, { headers: auth })).status, 401);
    });
  });

  it('lists jobs across pages and gets one', async () => {
    const { client } = runnerFor(tokenSource().get);
    const jobs = await client.listAllJobs({ pageSize: 2 });
    assert.deepEqual(
      jobs.map((j) => j.settings?.name),
      ['train-churn-model', 'nightly-features', 'score-leads', 'evaluate-ranker', 'backfill-embeddings'],
    );
    assert.equal(ws.knobs.stats().requests['GET /api/2.2/jobs/list'], 3);
    const [byName] = await client.listAllJobs({ name: 'score-leads' });
    const job = await client.getJob(byName.job_id!);
    assert.equal(job.settings?.tasks?.[0].task_key, 'main');
  });

  it('runs a job with run-now to completion, with output and access events', async () => {
    const { client, runner, events } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'train-churn-model' });
    const progress: RunProgress[] = [];
    const result = await runner.runJob({ jobId: job.job_id!, jobName: 'train-churn-model', parameters: { snapshot: '2024-06-01' } }, { onProgress: (p) => void progress.push(p) });
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.outputs[0].result, '{"model":"churn","version":7,"auc":0.912}');
    // Adaptive polling may not see the short PENDING and TERMINATING phases; what it sees comes
    // in the run's order, from the start to the end.
    const seen = progress.map((p) => p.state.life_cycle_state as string);
    const order = ['QUEUED', 'PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED'];
    assert.equal(seen[0], 'QUEUED');
    assert.equal(seen.at(-1), 'TERMINATED');
    assert.ok(seen.includes('RUNNING'), JSON.stringify(seen));
    assert.deepEqual([...seen].sort((a, b) => order.indexOf(a) - order.indexOf(b)), seen, 'states in the run\'s order');
    assert.match(result.record.runPageUrl ?? '', new RegExp(`^${ws.url}/jobs/${job.job_id}/runs/${result.record.runId}\\?o=\\d+$`));
    const run = await client.getRun(result.record.runId);
    assert.deepEqual(run.job_parameters?.find((p) => p.name === 'snapshot'), { name: 'snapshot', default: 'latest', value: '2024-06-01' });
    assert.ok((run.end_time ?? 0) > (run.start_time ?? 0));
    assert.deepEqual(
      events.map((e) => e.type),
      ['jobRequested', 'jobStarted', 'jobFinished'],
    );
    assert.match(String(events[1].tokenFingerprint), /^sha256:[0-9a-f]{12}$/);
  });

  it('lists the completed runs of a job with runs/list, newest first, and the runner uses them as history', async () => {
    const { client, runner } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'score-leads' });
    const first = await runner.runJob({ jobId: job.job_id! });
    const listed = await client.listRuns({ job_id: job.job_id!, completed_only: true, limit: 10 });
    assert.ok(listed.runs?.length);
    assert.equal(listed.runs?.[0].run_id, first.record.runId);
    const starts = (listed.runs ?? []).map((r) => r.start_time ?? 0);
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a));
    for (const r of listed.runs ?? []) {
      assert.equal(r.job_id, job.job_id);
      assert.equal(r.state?.life_cycle_state, 'TERMINATED');
      assert.equal(r.run_duration, (r.end_time ?? 0) - (r.start_time ?? 0));
      assert.equal(r.tasks, undefined, 'tasks only with expand_tasks');
    }
    ws.knobs.resetStats();
    const second = await runner.runJob({ jobId: job.job_id! });
    assert.equal(second.outcome, 'succeeded');
    assert.equal(ws.knobs.stats().requests['GET /api/2.2/jobs/runs/list'], 1);
    const page = await client.listRuns({ job_id: job.job_id!, limit: 1 });
    assert.equal(page.runs?.length, 1);
    assert.equal(page.has_more, true);
    assert.ok(page.next_page_token);
    await assert.rejects(client.listRuns({ active_only: true, completed_only: true }), /INVALID_PARAMETER_VALUE/);
  });

  it('varies run durations by a seeded ±15 %, the same for the same seed', async () => {
    const jobs = [{ name: 'nightly', output: 'ok', durations: { queuedMs: 1000, pendingMs: 20_000, runningMs: 60_000, terminatingMs: 2000 }, pastRuns: 8 }];
    const durations = async (seed: number) => {
      const other = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'jitter', trust: issuer.trust, quiet: true, now: clock.now, jobs, seed });
      try {
        const res = await fetch(`${other.url}/oidc/v1/token`, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: await issuer.sign(), subject_token_type: JWT_TYPE, scope: 'all-apis' }),
        });
        const token = ((await res.json()) as { access_token: string }).access_token;
        const c = new DatabricksClient(other.url, async () => token);
        const [job] = await c.listAllJobs();
        const page = await c.listRuns({ job_id: job.job_id!, completed_only: true, limit: 25 });
        return (page.runs ?? []).map((r) => r.run_duration ?? 0);
      } finally {
        await other.close();
      }
    };
    const a = await durations(1);
    assert.equal(a.length, 8);
    assert.deepEqual(await durations(1), a);
    assert.notDeepEqual(await durations(2), a);
    for (const d of a) assert.ok(d >= 83_000 * 0.85 && d <= 83_000 * 1.15, `${d} ms within ±15 % of 83 s`);
    assert.ok(new Set(a).size > 1, 'runs of one job differ');
  });

  it('a repeated idempotency token returns the same run', async () => {
    const { client } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'score-leads' });
    const a = await client.runNow({ job_id: job.job_id!, idempotency_token: 'same-click' });
    const b = await client.runNow({ job_id: job.job_id!, idempotency_token: 'same-click' });
    assert.equal(a.run_id, b.run_id);
  });

  it('reports a failing job with its error', async () => {
    const { client, runner } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'evaluate-ranker' });
    const result = await runner.runJob({ jobId: job.job_id! });
    assert.equal(result.outcome, 'failed');
    assert.match(result.outputs[0].error ?? '', /NDCG@10/);
    assert.ok(result.outputs[0].errorTrace);
  });

  it('refuses a job the user may not run with PERMISSION_DENIED', async () => {
    const { client, runner, events } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'backfill-embeddings' });
    await assert.rejects(runner.runJob({ jobId: job.job_id!, jobName: 'backfill-embeddings' }), (e: unknown) => e instanceof UserFacingError && e.kind === 'denied' && /PERMISSION_DENIED/.test(e.message));
    assert.equal(events.at(-1)?.type, 'jobDenied');
    const admin = runnerFor(tokenSource({ groups: ['ml-admins'] }).get);
    assert.equal((await admin.runner.runJob({ jobId: job.job_id! })).outcome, 'succeeded');
  });

  it('submits a local notebook to completion through the per-user scratch path', async () => {
    const { runner } = runnerFor(tokenSource({ email: 'ada@example.com' }).get);
    const source = '# Databricks notebook source\nx = 41 + 1\ndbutils.notebook.exit("answer=42")\n';
    const result = await runner.runNotebook({ fileName: '/home/ada/explore.py', content: Buffer.from(source) });
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.outputs[0].result, 'answer=42');
    const stored = ws.knobs.files().get('/Users/ada@example.com/.mlspanner/explore');
    assert.equal(stored?.objectType, 'NOTEBOOK');
    assert.equal(stored?.content?.toString('utf8'), source);
    // Running it again overwrites the scratch copy.
    assert.equal((await runner.runNotebook({ fileName: 'explore.py', content: Buffer.from(source) })).outcome, 'succeeded');
  });

  it('imports .ipynb as JUPYTER and rejects what the Workspace API rejects', async () => {
    const { runner, client } = runnerFor(tokenSource().get);
    const nb = JSON.stringify({ cells: [{ cell_type: 'code', source: ['raise ValueError("bad input")'] }], metadata: {}, nbformat: 4, nbformat_minor: 5 });
    const result = await runner.runNotebook({ fileName: 'check.ipynb', content: Buffer.from(nb) });
    assert.equal(result.outcome, 'failed');
    assert.match(result.outputs[0].error ?? '', /ValueError: bad input/);
    const path = '/Users/ada@example.com/.mlspanner/check';
    await assert.rejects(client.importNotebook({ path, format: 'JUPYTER', content: Buffer.from(nb).toString('base64') }), /RESOURCE_ALREADY_EXISTS/);
    await assert.rejects(client.importNotebook({ path: '/Users/ada@example.com/nowhere/x', format: 'SOURCE', language: 'PYTHON', content: '' }), /RESOURCE_DOES_NOT_EXIST/);
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x61).toString('base64');
    await assert.rejects(client.importNotebook({ path: `${path}-big`, format: 'SOURCE', language: 'PYTHON', content: big }), /MAX_NOTEBOOK_SIZE_EXCEEDED/);
  });

  it('cancels a running job: runs/cancel, then TERMINATED with CANCELED', async () => {
    const { client, runner, events } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'nightly-features' });
    const controller = new AbortController();
    const result = await runner.runJob(
      { jobId: job.job_id! },
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.state.life_cycle_state === 'RUNNING') controller.abort();
        },
      },
    );
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.run.state?.result_state, 'CANCELED');
    assert.equal(result.run.status?.termination_details?.code, 'USER_CANCELED');
    assert.equal(ws.knobs.stats().requests['POST /api/2.2/jobs/runs/cancel'], 1);
    assert.ok(events.some((e) => e.type === 'jobCancelled'));
  });

  it('honours Retry-After on 429 and 503 and still completes', async () => {
    const { client, runner } = runnerFor(tokenSource().get);
    const [job] = await client.listAllJobs({ name: 'score-leads' });
    ws.knobs.fail429(2, 3);
    ws.knobs.fail503(1, 2);
    const result = await runner.runJob({ jobId: job.job_id! });
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(sleeps.slice(0, 3), [3000, 3000, 2000]);
    // The POST was retried with the same idempotency token, and only one run was created.
    const tokens = ws.knobs.stats().idempotencyTokens;
    assert.equal(tokens.length, 1);
  });

  it('survives a token that expires mid-run: 401, forced refresh, same run', async () => {
    // 35 s tokens are refused after 5 s (last 30 s); the run takes 20 s of virtual time.
    ws.knobs.setTokenLifetime(35);
    const source = tokenSource();
    const { client, runner } = runnerFor(source.get);
    const [job] = await client.listAllJobs({ name: 'nightly-features' });
    const result = await runner.runJob({ jobId: job.job_id! });
    assert.equal(result.outcome, 'succeeded');
    assert.ok(source.stats.forced >= 1, 'a 401 forced a fresh token');
    assert.ok(source.stats.exchanges >= 2);
    assert.equal(ws.knobs.stats().requests['POST /api/2.2/jobs/run-now'], 1);
  });

  it('pauses for sign-in when the IdP session is gone, then resumes the run', async () => {
    const source = tokenSource();
    let signedIn = true;
    let prompts = 0;
    const getToken = async (force?: boolean) => {
      if (!signedIn) throw new UserFacingError('auth', 'Your sign-in expired.', 'Sign in again.');
      return source.get(force);
    };
    const { client, runner } = runnerFor(getToken, {
      onAuthRequired: async () => {
        prompts++;
        clock.t += 120_000; // the user takes two minutes to sign in
        signedIn = true;
      },
    });
    const [job] = await client.listAllJobs({ name: 'train-churn-model' });
    const result = await runner.runJob(
      { jobId: job.job_id! },
      {
        onProgress: (p) => {
          // The session ends once the run is under way (the first state after QUEUED).
          if (p.state.life_cycle_state !== 'QUEUED' && prompts === 0 && signedIn) {
            signedIn = false;
            ws.knobs.expireAllTokens();
          }
        },
      },
    );
    assert.equal(prompts, 1);
    assert.equal(result.outcome, 'succeeded');
  });

  it('resumes a run after a reload from the stored record', async () => {
    const store = new MemoryRunStore();
    const first = runnerFor(tokenSource().get, { store });
    const [job] = await first.client.listAllJobs({ name: 'nightly-features' });
    await assert.rejects(
      first.runner.runJob(
        { jobId: job.job_id! },
        {
          onProgress: (p) => {
            if (p.state.life_cycle_state === 'RUNNING') throw new Error('window reloaded');
          },
        },
      ),
      /window reloaded/,
    );
    // A new window: new client, new token, same store.
    const second = runnerFor(tokenSource().get, { store });
    const [pending] = second.runner.unfinished();
    assert.equal(pending.lastState?.life_cycle_state, 'RUNNING');
    const result = await second.runner.resume(pending);
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.record.runId, pending.runId);
    assert.deepEqual(second.runner.unfinished(), []);
  });
});
