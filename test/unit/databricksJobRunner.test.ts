import * as assert from 'node:assert/strict';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { DatabricksJobsApi } from '../../src/core/databricks/DatabricksClient';
import { JobRunner, MemoryRunStore, notebookImportSpec, type PollScheduleContext, type RunProgress } from '../../src/core/databricks/JobRunner';
import { FixedPollSchedule } from '../../src/core/databricks/PollSchedule';
import type { ImportRequest, ListRunsRequest, Run, RunNowRequest, RunState, SubmitRunRequest } from '../../src/core/databricks/types';
import type { Credential } from '../../src/core/credentials/Credential';
import { DatabricksClient } from '../../src/core/databricks/DatabricksClient';
import { UserFacingError } from '../../src/core/errors';
import { credentialTokenSource } from '../../src/core/http/AuthorizedClient';
import { ServiceError } from '../../src/core/http/HttpClient';
import { scriptedServer } from './fakes/scriptedServer';

/** A virtual clock: sleeping advances it instantly. */
function virtualTime() {
  let t = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleeps,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

/** A fake Jobs API whose run follows a timeline on the virtual clock. */
class FakeJobs implements DatabricksJobsApi {
  readonly host = 'https://dbc-test.cloud.databricks.com';
  lastTokenFingerprint: string | undefined = 'sha256:0123456789ab';
  calls: string[] = [];
  runNowRequests: RunNowRequest[] = [];
  submitted: SubmitRunRequest[] = [];
  imported: ImportRequest[] = [];
  startedAt = 0;
  cancelledAt: number | undefined;
  result: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  /** Errors thrown by the next getRun calls, in order. */
  getRunErrors: unknown[] = [];
  timeline = [
    { until: 2000, state: 'QUEUED' },
    { until: 5000, state: 'PENDING' },
    { until: 30000, state: 'RUNNING' },
    { until: 31000, state: 'TERMINATING' },
  ];

  constructor(private readonly now: () => number) {}

  state(): RunState {
    const elapsed = this.now() - this.startedAt;
    if (this.cancelledAt !== undefined)
      return this.now() - this.cancelledAt < 1000 ? { life_cycle_state: 'TERMINATING' } : { life_cycle_state: 'TERMINATED', result_state: 'CANCELED' };
    const step = this.timeline.find((s) => elapsed < s.until);
    if (step) return { life_cycle_state: step.state as RunState['life_cycle_state'] };
    return { life_cycle_state: 'TERMINATED', result_state: this.result, state_message: this.result === 'FAILED' ? 'Workload failed' : '' };
  }
  async runNow(request: RunNowRequest) {
    this.calls.push('runNow');
    this.runNowRequests.push(request);
    this.startedAt = this.now();
    return { run_id: 42, number_in_job: 42 };
  }
  async submitRun(request: SubmitRunRequest) {
    this.calls.push('submitRun');
    this.submitted.push(request);
    this.startedAt = this.now();
    return { run_id: 43 };
  }
  async getRun(runId: number): Promise<Run> {
    this.calls.push('getRun');
    const err = this.getRunErrors.shift();
    if (err) throw err;
    return { run_id: runId, run_page_url: `${this.host}/#job/1/run/${runId}`, state: this.state(), tasks: [{ task_key: 'main', run_id: runId + 1000 }] };
  }
  async getRunOutput(taskRunId: number) {
    this.calls.push(`getRunOutput:${taskRunId}`);
    return this.result === 'SUCCESS' ? { notebook_output: { result: 'auc=0.91', truncated: false } } : { error: 'AssertionError: gate', error_trace: 'trace' };
  }
  async cancelRun() {
    this.calls.push('cancelRun');
    this.cancelledAt = this.now();
  }
  async importNotebook(request: ImportRequest) {
    this.calls.push('import');
    this.imported.push(request);
  }
  async mkdirs(path: string) {
    this.calls.push(`mkdirs:${path}`);
  }
  async me() {
    this.calls.push('me');
    return { userName: 'ada@example.com' };
  }
}

/** Each run-now starts a new run id (the fake otherwise reuses 42), so the store keeps earlier runs. */
function distinctRunIds(client: FakeJobs) {
  let next = 100;
  const runNow = client.runNow.bind(client);
  client.runNow = async (request) => ({ ...(await runNow(request)), run_id: next++ });
}

function setup() {
  const time = virtualTime();
  const client = new FakeJobs(time.now);
  const events: AccessEventInput[] = [];
  const store = new MemoryRunStore();
  const progress: RunProgress[] = [];
  let authPrompts = 0;
  const runner = new JobRunner({
    environment: 'staging',
    client,
    store,
    sink: { record: (e) => void events.push(e) },
    sleep: time.sleep,
    now: time.now,
    onAuthRequired: async () => {
      authPrompts++;
    },
  });
  return { time, client, events, store, progress, runner, authPrompts: () => authPrompts, onProgress: (p: RunProgress) => void progress.push(p) };
}

describe('JobRunner', () => {
  it('runs a job to success with progress per state change, output, events and a finished record', async () => {
    const s = setup();
    const result = await s.runner.runJob({ jobId: 7, jobName: 'train-churn-model', parameters: { snapshot: 'v3' } }, { onProgress: s.onProgress, reason: 'retrain' });
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.text, 'Succeeded');
    assert.deepEqual(result.outputs, [{ taskKey: 'main', runId: 1042, result: 'auc=0.91', truncated: false, error: undefined, errorTrace: undefined }]);
    // The 3 s PENDING and 1 s TERMINATING phases fall between polls (no more than fixed 3 s polling sends), so they are not seen.
    assert.deepEqual(
      s.progress.map((p) => p.state.life_cycle_state),
      ['QUEUED', 'RUNNING', 'TERMINATED'],
    );
    assert.deepEqual(
      s.progress.map((p) => p.icon),
      ['clock', 'sync~spin', 'pass'],
    );
    assert.equal(s.client.runNowRequests[0].job_parameters?.snapshot, 'v3');
    assert.ok(s.client.runNowRequests[0].idempotency_token);
    assert.deepEqual(
      s.events.map((e) => [e.type, e.outcome]),
      [
        ['jobRequested', 'success'],
        ['jobStarted', 'success'],
        ['jobFinished', 'success'],
      ],
    );
    const started = s.events[1];
    assert.equal(started.runId, 42);
    assert.equal(started.jobId, 7);
    assert.equal(started.environment, 'staging');
    assert.equal(started.tokenFingerprint, 'sha256:0123456789ab');
    assert.equal(s.events[2].resultState, 'SUCCESS');
    assert.equal(s.events[0].reason, 'retrain');
    const [record] = s.store.load();
    assert.equal(record.runId, 42);
    assert.equal(record.finishedAt, s.time.now());
    assert.equal(record.runPageUrl, 'https://dbc-test.cloud.databricks.com/#job/1/run/42');
    assert.deepEqual(s.runner.unfinished(), []);
  });

  it('polls adaptively: never more often than fixed 3 s polling, backing off during the long RUNNING phase', async () => {
    const s = setup();
    await s.runner.runJob({ jobId: 7 });
    // The run takes 31 s: fixed 3 s polling sends 12 runs/get (0, 3, ..., 33 s).
    const polls = s.client.calls.filter((c) => c === 'getRun').length;
    assert.ok(polls <= 12, `expected at most 12 polls, got ${polls}`);
    assert.ok(Math.max(...s.time.sleeps) <= 10_000);
    // The first poll after the start waits for the request budget, which counts a history lookup (runs/list) and the first poll.
    assert.equal(s.time.sleeps[0], 6000);
  });

  it('feeds the schedule the durations of earlier successful runs of the same job, from the store and runs/list', async () => {
    const s = setup();
    distinctRunIds(s.client);
    const contexts: PollScheduleContext[] = [];
    const listed: ListRunsRequest[] = [];
    const day = 86_400_000;
    const t = s.time.now();
    Object.assign(s.client, {
      listRuns: async (request: ListRunsRequest) => {
        listed.push(request);
        return {
          runs: [
            { run_id: 9, job_id: 7, start_time: t - day, end_time: t - day + 40_000, state: { life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' } },
            { run_id: 8, job_id: 7, start_time: t - 2 * day, end_time: t - 2 * day + 5000, state: { life_cycle_state: 'TERMINATED', result_state: 'FAILED' } },
            { run_id: 6, job_id: 7, start_time: t - 3 * day, end_time: t - 3 * day + 36_000, state: { life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' } },
          ],
        };
      },
    });
    const runner = new JobRunner({
      environment: 'staging',
      client: s.client,
      store: s.store,
      sink: { record: () => undefined },
      sleep: s.time.sleep,
      now: s.time.now,
      schedule: (context) => (contexts.push(context), new FixedPollSchedule(1000)),
    });
    await runner.runJob({ jobId: 7 });
    // Earlier successful runs only (the 5 s failure says nothing about how long a success takes).
    assert.deepEqual(contexts[0].previousDurationsMs, [40_000, 36_000]);
    assert.deepEqual(listed, [{ job_id: 7, completed_only: true, limit: 10 }]);
    // The run just finished is in the store now and counts for the next one, newest first.
    const first = s.store.load()[0];
    await runner.runJob({ jobId: 7 });
    assert.deepEqual(contexts[1].previousDurationsMs, [(first.finishedAt ?? 0) - first.startedAt, 40_000, 36_000]);
    // Another job's runs and notebook runs do not count.
    await runner.runNotebook({ fileName: 'explore.py', content: Buffer.from('# Databricks notebook source\n') });
    assert.deepEqual(contexts[2].previousDurationsMs, []);
  });

  it('with history of the same job, polls sparsely until the end is due and still sees it within 3 s', async () => {
    const s = setup();
    distinctRunIds(s.client);
    // A five-minute run, so there is room between the start and the end window.
    s.client.timeline = [
      { until: 2000, state: 'QUEUED' },
      { until: 5000, state: 'PENDING' },
      { until: 300_000, state: 'RUNNING' },
      { until: 302_000, state: 'TERMINATING' },
    ];
    await s.runner.runJob({ jobId: 7 });
    const firstPolls = s.client.calls.filter((c) => c === 'getRun').length;
    s.client.calls = [];
    let detectedAt = 0;
    const result = await s.runner.runJob(
      { jobId: 7 },
      {
        onProgress: (p) => {
          if (p.state.life_cycle_state === 'TERMINATED') detectedAt = s.time.now();
        },
      },
    );
    const secondPolls = s.client.calls.filter((c) => c === 'getRun').length;
    assert.ok(secondPolls < firstPolls / 2, `${secondPolls} polls with history, ${firstPolls} without`);
    assert.ok(detectedAt - (result.record.startedAt + 302_000) <= 3000, `seen ${detectedAt - result.record.startedAt} ms after the start`);
  });

  it('a failing runs/list only costs the history: the run is watched as usual', async () => {
    const s = setup();
    Object.assign(s.client, {
      listRuns: async () => {
        throw new ServiceError('Databricks', 503, 'TEMPORARILY_UNAVAILABLE', 'busy');
      },
    });
    assert.equal((await s.runner.runJob({ jobId: 7 })).outcome, 'succeeded');
  });

  it('useRunHistory: false skips runs/list', async () => {
    const s = setup();
    let listed = 0;
    Object.assign(s.client, { listRuns: async () => (listed++, { runs: [] }) });
    const runner = new JobRunner({ environment: 'staging', client: s.client, store: s.store, sink: { record: () => undefined }, sleep: s.time.sleep, now: s.time.now, useRunHistory: false });
    await runner.runJob({ jobId: 7 });
    assert.equal(listed, 0);
  });

  it('reports a failed run with its error output and a failure event', async () => {
    const s = setup();
    s.client.result = 'FAILED';
    const result = await s.runner.runJob({ jobId: 7, jobName: 'evaluate-ranker' });
    assert.equal(result.outcome, 'failed');
    assert.equal(result.text, 'Failed: Workload failed');
    assert.equal(result.outputs[0].error, 'AssertionError: gate');
    const finished = s.events.find((e) => e.type === 'jobFinished');
    assert.equal(finished?.outcome, 'failure');
    assert.equal(finished?.resultState, 'FAILED');
  });

  it('cancels on abort: runs/cancel once, jobCancelled event, resolves when CANCELED', async () => {
    const s = setup();
    const controller = new AbortController();
    const result = await s.runner.runJob(
      { jobId: 7 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.state.life_cycle_state === 'RUNNING') controller.abort();
        },
      },
    );
    assert.equal(result.outcome, 'cancelled');
    assert.equal(s.client.calls.filter((c) => c === 'cancelRun').length, 1);
    const types = s.events.map((e) => e.type);
    assert.deepEqual(types, ['jobRequested', 'jobStarted', 'jobCancelled', 'jobFinished']);
    assert.equal(s.events[3].outcome, 'cancelled');
    assert.equal(s.events[3].resultState, 'CANCELED');
  });

  it('does not start a run when already aborted', async () => {
    const s = setup();
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(s.runner.runJob({ jobId: 7 }, { signal: controller.signal }), (e: unknown) => e instanceof UserFacingError && e.kind === 'cancelled');
    assert.deepEqual(s.client.calls, []);
  });

  it('pauses polling for sign-in when the token source needs it, then resumes the same run', async () => {
    const s = setup();
    s.client.getRunErrors = [undefined, new UserFacingError('auth', 'Your IdP session expired.', 'Sign in again.'), new UserFacingError('auth', 'still expired')];
    const result = await s.runner.runJob({ jobId: 7 });
    assert.equal(result.outcome, 'succeeded');
    assert.equal(s.authPrompts(), 2);
    assert.equal(s.client.calls.filter((c) => c === 'runNow').length, 1, 'the run is never re-triggered');
  });

  it('a 403 on run-now is a denial with a jobDenied event, not a sign-in prompt', async () => {
    const s = setup();
    s.client.runNow = async () => {
      throw new ServiceError('Databricks', 403, 'PERMISSION_DENIED', 'Databricks refused /api/2.2/jobs/run-now: PERMISSION_DENIED: no Manage Run', 'Ask an admin.');
    };
    await assert.rejects(s.runner.runJob({ jobId: 9, jobName: 'backfill-embeddings' }), (e: unknown) => {
      assert.ok(e instanceof UserFacingError);
      assert.equal(e.kind, 'denied');
      assert.match(e.display, /staging.*backfill-embeddings.*PERMISSION_DENIED.*Ask an admin/);
      return true;
    });
    assert.equal(s.authPrompts(), 0);
    assert.deepEqual(
      s.events.map((e) => [e.type, e.outcome]),
      [
        ['jobRequested', 'success'],
        ['jobDenied', 'denied'],
      ],
    );
  });

  it('tolerates transient polling failures, but gives up after too many and keeps the record', async () => {
    const s = setup();
    const outage = () => new ServiceError('Databricks', 503, 'TEMPORARILY_UNAVAILABLE', 'busy');
    s.client.getRunErrors = [outage(), outage()];
    assert.equal((await s.runner.runJob({ jobId: 7 })).outcome, 'succeeded');

    const t = setup();
    t.client.getRunErrors = Array.from({ length: 10 }, outage);
    await assert.rejects(t.runner.runJob({ jobId: 7, jobName: 'nightly' }), /Lost track of nightly \(run 42\) in staging/);
    assert.deepEqual(
      t.runner.unfinished().map((r) => r.runId),
      [42],
    );
  });

  it('keeps watching while the token cannot be renewed (network): backs off, says so, never gives up or asks to sign in', async () => {
    const s = setup();
    const idpDown = () => new UserFacingError('network', 'Cannot reach the identity provider at https://idp.example.com (ECONNRESET).');
    s.client.getRunErrors = [undefined, ...Array.from({ length: 12 }, idpDown)];
    const result = await s.runner.runJob({ jobId: 7, jobName: 'nightly' }, { onProgress: s.onProgress });
    assert.equal(result.outcome, 'succeeded');
    assert.equal(s.authPrompts(), 0);
    const reconnecting = s.progress.filter((p) => /reconnecting: Cannot reach the identity provider/.test(p.text));
    assert.equal(reconnecting.length, 1, 'said once per outage');
    assert.equal(reconnecting[0].state.life_cycle_state, 'QUEUED', 'with the last known state');
    assert.ok(Math.max(...s.time.sleeps) <= 60_000, `backs off up to 60 s, got ${Math.max(...s.time.sleeps)}`);
    assert.ok(s.time.sleeps.filter((ms) => ms >= 30_000).length >= 3, 'backs off rather than polling hot');
  });

  it('keeps watching through a long network outage (Databricks unreachable)', async () => {
    const s = setup();
    const down = () => new ServiceError('Databricks', undefined, 'ECONNREFUSED', 'Databricks is unreachable at https://dbc-test.cloud.databricks.com (ECONNREFUSED: connection refused).', undefined, 'network');
    s.client.getRunErrors = Array.from({ length: 30 }, down);
    const result = await s.runner.runJob({ jobId: 7 });
    assert.equal(result.outcome, 'succeeded');
    assert.ok(Math.max(...s.time.sleeps) <= 60_000);
    assert.equal(s.client.calls.filter((c) => c === 'runNow').length, 1);
  });

  it('still stops for what is not passing: an unknown run is not retried forever', async () => {
    const s = setup();
    s.client.getRunErrors = [new ServiceError('Databricks', 400, 'INVALID_PARAMETER_VALUE', 'Run 42 does not exist.')];
    await assert.rejects(s.runner.runJob({ jobId: 7, jobName: 'nightly' }), /Lost track of nightly \(run 42\).*does not exist/);
    assert.equal(s.client.calls.filter((c) => c === 'getRun').length, 1);
  });

  it('a cancel that cannot reach Databricks says the run may still be running', async () => {
    const s = setup();
    const controller = new AbortController();
    s.client.cancelRun = async () => {
      throw new ServiceError('Databricks', undefined, 'ECONNREFUSED', 'Databricks is unreachable at https://dbc-test.cloud.databricks.com (ECONNREFUSED: connection refused).', undefined, 'network');
    };
    await assert.rejects(
      s.runner.runJob({ jobId: 7, jobName: 'nightly' }, { signal: controller.signal, onProgress: (p) => p.state.life_cycle_state === 'RUNNING' && controller.abort() }),
      (e: unknown) => e instanceof UserFacingError && e.kind === 'network' && /^Could not cancel nightly \(run 42\) in staging: Databricks is unreachable/.test(e.message) && /may still be running/.test(e.display),
    );
    assert.deepEqual(
      s.runner.unfinished().map((r) => r.runId),
      [42],
    );
  });

  it('never keeps a run page link that is not on the workspace origin', async () => {
    const s = setup();
    const getRun = s.client.getRun.bind(s.client);
    s.client.getRun = async (id) => ({ ...(await getRun(id)), run_page_url: 'javascript:alert(1)' });
    const result = await s.runner.runJob({ jobId: 7 });
    assert.equal(result.record.runPageUrl, undefined);
    assert.equal(s.store.load()[0].runPageUrl, undefined);
  });

  it('regression: a failing token refresh with a still-valid token in hand does not abandon the run', async () => {
    const running = { status: 200, body: { run_id: 9, state: { life_cycle_state: 'RUNNING' } } };
    const srv = await scriptedServer([
      { status: 200, body: { run_id: 9 } },
      running,
      running,
      running,
      running,
      { status: 200, body: { run_id: 9, state: { life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' } } },
    ]);
    try {
      const credential = { target: 'databricks', accessToken: 'dose-in-hand', expiresAt: Date.now() + 10 * 60_000 } as Credential;
      // The broker renews early (refresh margin); the identity provider is down for three tries.
      const outcomes: Array<Credential | Error> = [credential, ...Array.from({ length: 3 }, () => new UserFacingError('network', 'Cannot reach the identity provider (ECONNREFUSED).'))];
      let asked = 0;
      const tokens = credentialTokenSource(
        async () => {
          asked++;
          const next = outcomes.shift() ?? credential;
          if (next instanceof Error) throw next;
          return next;
        },
        { identity: () => 'https://idp|ada' },
      );
      const time = virtualTime();
      const runner = new JobRunner({
        environment: 'staging',
        client: new DatabricksClient(srv.url, tokens, { http: { retry: { maxRetries: 0 } } }),
        store: new MemoryRunStore(),
        sink: { record: () => undefined },
        sleep: time.sleep,
        now: time.now,
        useRunHistory: false,
        schedule: () => new FixedPollSchedule(1000),
        onAuthRequired: async () => assert.fail('no sign-in is needed while the token is valid'),
      });
      const result = await runner.runJob({ jobId: 3, jobName: 'train' });
      assert.equal(result.outcome, 'succeeded');
      assert.ok(asked >= 4);
      assert.ok(srv.seen.every((r) => r.auth === 'Bearer dose-in-hand'));
      assert.equal(srv.seen.filter((r) => r.path.startsWith('/api/2.2/jobs/runs/get')).length, 5);
      // The token in hand kept polling on schedule: no poll failed, so nothing backed off.
      assert.deepEqual([...new Set(time.sleeps)], [1000]);
    } finally {
      await srv.close();
    }
  });

  it('resumes a stored run after a reload without triggering it again', async () => {
    const s = setup();
    const controller = new AbortController();
    // First window: stop watching (throwing from progress simulates the window closing).
    await assert.rejects(
      s.runner.runJob(
        { jobId: 7, jobName: 'train' },
        {
          onProgress: (p) => {
            if (p.state.life_cycle_state === 'RUNNING') throw new Error('window closed');
          },
          signal: controller.signal,
        },
      ),
      /window closed/,
    );
    const [pending] = s.runner.unfinished();
    assert.equal(pending.runId, 42);
    assert.equal(pending.lastState?.life_cycle_state, 'RUNNING');

    // Second window: a new runner over the same store.
    const again = new JobRunner({ environment: 'staging', client: s.client, store: s.store, sink: { record: (e) => void s.events.push(e) }, sleep: s.time.sleep, now: s.time.now });
    const result = await again.resume(pending);
    assert.equal(result.outcome, 'succeeded');
    assert.equal(s.client.calls.filter((c) => c === 'runNow').length, 1);
    assert.deepEqual(again.unfinished(), []);
    assert.throws(() => again.resume({ ...pending, environment: 'prod' }), /belongs to prod/);
  });

  it('runs a notebook: imports to the per-user scratch path and submits a notebook task', async () => {
    const s = setup();
    const content = Buffer.from('# Databricks notebook source\nprint(1)\n');
    const result = await s.runner.runNotebook({ fileName: '/home/ada/project/explore.py', content, parameters: { day: '1' } });
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(s.client.calls.slice(0, 4), ['me', 'mkdirs:/Users/ada@example.com/.mlspanner', 'import', 'submitRun']);
    assert.deepEqual(s.client.imported[0], {
      path: '/Users/ada@example.com/.mlspanner/explore',
      format: 'SOURCE',
      language: 'PYTHON',
      content: content.toString('base64'),
      overwrite: true,
    });
    const task = s.client.submitted[0].tasks[0];
    assert.deepEqual(task.notebook_task, { notebook_path: '/Users/ada@example.com/.mlspanner/explore', source: 'WORKSPACE', base_parameters: { day: '1' } });
    assert.ok(s.client.submitted[0].idempotency_token);
    assert.equal(s.events[0].target, 'notebook:explore.py');
  });

  it('refuses notebooks over 10 MB before uploading', async () => {
    const s = setup();
    await assert.rejects(s.runner.runNotebook({ fileName: 'big.ipynb', content: new Uint8Array(10 * 1024 * 1024 + 1) }), /at most 10 MB/);
    assert.deepEqual(s.client.calls, []);
  });

  it('chooses the import format from the file type', () => {
    assert.deepEqual(notebookImportSpec('a/b/Train Model.ipynb'), { format: 'JUPYTER', workspaceName: 'Train Model' });
    assert.deepEqual(notebookImportSpec('etl.py'), { format: 'SOURCE', language: 'PYTHON', workspaceName: 'etl' });
    assert.deepEqual(notebookImportSpec('q.sql'), { format: 'SOURCE', language: 'SQL', workspaceName: 'q' });
    assert.throws(() => notebookImportSpec('notes.txt'), /unsupported file type/);
  });
});
