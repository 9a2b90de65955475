/**
 * Polling benchmark: the same sandbox runs watched with JobRunner's default schedule (state-aware
 * backoff, plus the expected end from earlier runs when the job has some) and with fixed 3-second
 * polling. Measures, per run, the polling requests sent (runs/get, and runs/list for history) and
 * the end-detection delay (detection time minus the run's end_time as the workspace reports it).
 *
 * Each schedule gets a fresh workspace with the same seed, so both watch runs of identical
 * durations. Simulated time runs SCALE times faster than the wall clock, for the workspace and
 * the runner alike.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DatabricksDiscovery, exchangeDatabricksToken } from '../src/core/credentials/exchangeDatabricksToken';
import { DatabricksClient, type DatabricksJobsApi } from '../src/core/databricks/DatabricksClient';
import { createHttpClient } from '../src/core/http/HttpClient';
import { JobRunner, MemoryRunStore, type JobRunnerOptions } from '../src/core/databricks/JobRunner';
import {
  DEFAULT_FAR_CAP_MS,
  DEFAULT_STATE_CAPS_MS,
  DEFAULT_TERMINATING_FAST_POLLS,
  DEFAULT_TERMINATING_MS,
  DEFAULT_WINDOW_INTERVAL_MS,
  FixedPollSchedule,
} from '../src/core/databricks/PollSchedule';
import { startDatabricksWorkspace, type DemoJobSpec } from '../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer, type TestIssuer } from '../test/integration/databricksTestIssuer';

const SCALE = 20;
const SEED = 20_240_601;
const JITTER = 0.15;
/** Total nominal durations (s); each phase then varies by ±JITTER per run. */
const TOTALS = [20, 45, 90, 180, 300];
/** Runs per duration and scenario. */
const PER_DURATION = 6;
/** Earlier completed runs of each recurring job (one a day, as a scheduled job). */
const PAST_RUNS = 5;
const QUEUED_MS = 1000;
const TERMINATING_MS = 2000;
const PENDING_SHARE = 0.25;

type Scenario = 'first' | 'recurring';
interface BenchJob {
  spec: DemoJobSpec;
  total: number;
  scenario: Scenario;
}

const benchJobs: BenchJob[] = TOTALS.flatMap((total) =>
  (['first', 'recurring'] as const).flatMap((scenario) =>
    Array.from({ length: PER_DURATION }, (_, i) => {
      const pendingMs = Math.round(total * 1000 * PENDING_SHARE);
      return {
        total,
        scenario,
        spec: {
          name: `${scenario}-${total}s-${i + 1}`,
          output: 'ok',
          durations: { queuedMs: QUEUED_MS, pendingMs, runningMs: total * 1000 - QUEUED_MS - pendingMs - TERMINATING_MS, terminatingMs: TERMINATING_MS },
          pastRuns: scenario === 'recurring' ? PAST_RUNS : 0,
        },
      };
    }),
  ),
);

interface Row {
  job: BenchJob;
  requests: number;
  delayMs: number;
  durationMs: number;
}

/** Counts the polling requests (runs/get and runs/list) of one runner. */
function counting(client: DatabricksClient) {
  const counter = { requests: 0 };
  const api: DatabricksJobsApi = new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'getRun' || prop === 'listRuns') return (...a: unknown[]) => (counter.requests++, fn(...a));
      return fn;
    },
  });
  return { api, counter };
}

const t0 = Date.now();
const now = () => t0 + (Date.now() - t0) * SCALE;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    setTimeout(resolve, ms / SCALE);
  });

async function measure(issuer: TestIssuer, runnerOptions: Pick<JobRunnerOptions, 'schedule' | 'useRunHistory'>): Promise<Row[]> {
  const ws = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'bench', trust: issuer.trust, quiet: true, jobs: benchJobs.map((j) => j.spec), now, jitter: JITTER, seed: SEED });
  try {
    // The same federation exchange the extension makes (RFC 8693 at the discovered endpoint).
    const http = (service: string) => createHttpClient({ service });
    const issued = await exchangeDatabricksToken(http, new DatabricksDiscovery(http), { environment: 'bench', host: ws.url, scopes: ['all-apis'], subjectToken: await issuer.sign(), now: Date.now() });
    if (issued.kind !== 'bearer') throw new Error('expected a Databricks bearer token');
    const token = issued.accessToken;
    const lister = new DatabricksClient(ws.url, async () => token);
    const ids = new Map((await lister.listAllJobs()).map((j) => [j.settings?.name ?? '', j.job_id ?? 0]));
    return await Promise.all(
      benchJobs.map(async (job) => {
        const { api, counter } = counting(new DatabricksClient(ws.url, async () => token, { http: { sleep } }));
        const runner = new JobRunner({ environment: 'bench', client: api, store: new MemoryRunStore(), sink: { record: () => undefined }, sleep, now, ...runnerOptions });
        let detectedAt = 0;
        const result = await runner.runJob(
          { jobId: ids.get(job.spec.name) ?? 0, jobName: job.spec.name },
          {
            onProgress: (p) => {
              if (p.state.life_cycle_state === 'TERMINATED') detectedAt = now();
            },
          },
        );
        if (result.outcome !== 'succeeded') throw new Error(`${job.spec.name} ended ${result.text}`);
        const end = result.run.end_time ?? detectedAt;
        return { job, requests: counter.requests, delayMs: detectedAt - end, durationMs: end - (result.run.start_time ?? end) };
      }),
    );
  } finally {
    await ws.close();
  }
}

async function main() {
  const issuer = await startTestIssuer();
  const started = Date.now();
  let adaptive: Row[];
  let fixed: Row[];
  try {
    adaptive = await measure(issuer, {});
    fixed = await measure(issuer, { schedule: () => new FixedPollSchedule(3000), useRunHistory: false });
  } finally {
    await issuer.close();
  }
  adaptive.forEach((a, i) => {
    if (a.durationMs !== fixed[i].durationMs) throw new Error(`${a.job.spec.name}: the two passes ran different durations (${a.durationMs} vs ${fixed[i].durationMs} ms)`);
  });

  const s = (ms: number) => (ms / 1000).toFixed(2);
  const sum = (rows: Row[], k: 'requests' | 'delayMs') => rows.reduce((acc, r) => acc + r[k], 0);
  const pick = (rows: Row[], f: (j: BenchJob) => boolean) => rows.filter((r) => f(r.job));
  const line = (label: string, f: (j: BenchJob) => boolean, bold = false) => {
    const a = pick(adaptive, f);
    const x = pick(fixed, f);
    const b = (v: string) => (bold ? `**${v}**` : v);
    const durations = a.map((r) => r.durationMs / 1000);
    const range = `${Math.min(...durations).toFixed(0)}–${Math.max(...durations).toFixed(0)}`;
    return (
      `| ${b(label)} | ${a.length} | ${range} | ${b(String(sum(a, 'requests')))} | ${b(String(sum(x, 'requests')))} | ${b((sum(a, 'requests') / sum(x, 'requests')).toFixed(2))} ` +
      `| ${b(s(sum(a, 'delayMs') / a.length))} | ${b(s(sum(x, 'delayMs') / x.length))} | ${s(Math.max(...a.map((r) => r.delayMs)))} | ${s(Math.max(...x.map((r) => r.delayMs)))} |`
    );
  };
  const caps = Object.entries(DEFAULT_STATE_CAPS_MS)
    .filter(([k]) => k !== 'TERMINATING')
    .map(([k, v]) => `${k} ${v / 1000} s`)
    .join(', ');
  const lines = [
    `Setup: ${benchJobs.length} runs watched concurrently per schedule, ${PER_DURATION} per nominal duration (${TOTALS.join(', ')} s) and scenario. ` +
      `Phases: QUEUED ${QUEUED_MS / 1000} s, PENDING ${PENDING_SHARE * 100} % of the total, TERMINATING ${TERMINATING_MS / 1000} s, RUNNING the rest; ` +
      `each phase of each run varies uniformly by ±${JITTER * 100} % (seeded PRNG, seed ${SEED}, one sequence per job). ` +
      `"first" runs have no earlier runs; "recurring" jobs have ${PAST_RUNS} earlier completed runs, listed with runs/list. Clock x${SCALE}.`,
    '',
    `Adaptive = JobRunner default: 30 % of the run's age, caps ${caps}; TERMINATING every ${DEFAULT_TERMINATING_MS / 1000} s ` +
      `(${DEFAULT_TERMINATING_FAST_POLLS} polls, then backoff); with history, up to ${DEFAULT_FAR_CAP_MS / 1000} s before the ` +
      `expected-end window and every ${DEFAULT_WINDOW_INTERVAL_MS / 1000} s inside it; never more requests than fixed 3 s polling. Requests = runs/get + runs/list (one per recurring run). Fixed = runs/get every 3 s.`,
    '',
    '| runs | n | actual durations (s) | adaptive requests | fixed 3 s requests | request ratio | adaptive mean delay (s) | fixed 3 s mean delay (s) | adaptive max delay (s) | fixed 3 s max delay (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...(['first', 'recurring'] as const).flatMap((scenario) => [
      ...TOTALS.map((total) => line(`${scenario} ${total} s`, (j) => j.scenario === scenario && j.total === total)),
      line(`${scenario === 'first' ? 'first runs (no history)' : 'recurring (history)'}`, (j) => j.scenario === scenario, true),
    ]),
    line('all runs', () => true, true),
    '',
    `Ratios adaptive / fixed: requests ${(sum(adaptive, 'requests') / sum(fixed, 'requests')).toFixed(2)} ` +
      `(${Math.round((1 - sum(adaptive, 'requests') / sum(fixed, 'requests')) * 100)} % fewer), ` +
      `mean end-detection delay ${(sum(adaptive, 'delayMs') / Math.max(1, sum(fixed, 'delayMs'))).toFixed(2)}.`,
    `Wall time ${((Date.now() - started) / 1000).toFixed(1)} s. Durations are reproducible; timer and loopback latency of a few ms are magnified x${SCALE} in the delays.`,
  ];
  const text = lines.join('\n');
  console.log(text);
  writeFileSync(path.join(__dirname, 'results.md'), `# Polling benchmark\n\n${text}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
