/**
 * Run polling, JobRunner's default schedule against fixed 3-second polling.
 *
 * Mix: the same sandbox runs (Databricks emulator over loopback HTTP, federation token, JobRunner
 * end to end) watched with each schedule; the emulator's clock and the runner's run SCALE times
 * faster than the wall clock. Each schedule gets a fresh workspace with the same seed, so both
 * watch runs of identical durations; both passes run at the same time, under the same load. Requests = runs/get + runs/list (the history lookup).
 *
 * Sweep: run lengths from 5 s to 2 h through the same schedules on a simulated clock (no HTTP):
 * the same phase shapes and jitter, first runs and recurring ones (with 5 earlier runs).
 */
import { DatabricksDiscovery, exchangeDatabricksToken } from '../../src/core/credentials/exchangeDatabricksToken';
import { DatabricksClient, type DatabricksJobsApi } from '../../src/core/databricks/DatabricksClient';
import { JobRunner, MemoryRunStore, type JobRunnerOptions } from '../../src/core/databricks/JobRunner';
import { FixedPollSchedule, RunPollSchedule, type PollingSchedule } from '../../src/core/databricks/PollSchedule';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { seededRandom, startDatabricksWorkspace, type DemoJobSpec } from '../../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer } from '../../sandbox/TestIssuer';
import { ratio, type Row } from '../lib/table';

/** ×10: a few ms of timer or loopback latency (more on a busy machine) are magnified ten times in the delays. */
export const SCALE = 10;
const SEED = 20_240_601;
const JITTER = 0.15;
/** Total nominal durations (s) of the mix; each phase then varies by ±JITTER per run. */
export const MIX_TOTALS = [20, 45, 90, 180, 300];
/** Run lengths of the sweep (s). */
export const SWEEP_TOTALS = [5, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600, 7200];
const PER_DURATION = 6;
const PAST_RUNS = 5;
const QUEUED_MS = 1000;
const TERMINATING_MS = 2000;
const PENDING_SHARE = 0.25;
const AUDIENCE = 'mlspanner-bench';

type Scenario = 'first' | 'recurring';

/** QUEUED 1 s, PENDING a quarter, TERMINATING 2 s, RUNNING the rest. */
export function phasesOf(totalS: number) {
  const pendingMs = Math.round(totalS * 1000 * PENDING_SHARE);
  return { queuedMs: QUEUED_MS, pendingMs, runningMs: totalS * 1000 - QUEUED_MS - pendingMs - TERMINATING_MS, terminatingMs: TERMINATING_MS };
}

interface BenchJob {
  spec: DemoJobSpec;
  total: number;
  scenario: Scenario;
}

interface Measured {
  job: BenchJob;
  requests: number;
  delayMs: number;
  durationMs: number;
}

const mixJobs: BenchJob[] = MIX_TOTALS.flatMap((total) =>
  (['first', 'recurring'] as const).flatMap((scenario) =>
    Array.from({ length: PER_DURATION }, (_, i) => ({
      total,
      scenario,
      spec: { name: `${scenario}-${total}s-${i + 1}`, output: 'ok', durations: phasesOf(total), pastRuns: scenario === 'recurring' ? PAST_RUNS : 0 },
    })),
  ),
);

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

async function measureMix(runnerOptions: Pick<JobRunnerOptions, 'schedule' | 'useRunHistory'>): Promise<Measured[]> {
  const t0 = Date.now();
  const now = () => t0 + (Date.now() - t0) * SCALE;
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      setTimeout(resolve, ms / SCALE);
    });
  const issuer = await startTestIssuer();
  const ws = await startDatabricksWorkspace({
    host: '127.0.0.1',
    port: 0,
    name: 'bench',
    trust: { issuer: issuer.issuer, audiences: [AUDIENCE], subjectClaim: 'sub' },
    quiet: true,
    jobs: mixJobs.map((j) => j.spec),
    now,
    jitter: JITTER,
    seed: SEED,
  });
  try {
    // The same federation exchange the extension makes (RFC 8693 at the discovered endpoint).
    const http = (service: string) => createHttpClient({ service });
    const issued = await exchangeDatabricksToken(http, new DatabricksDiscovery(http), { environment: 'bench', host: ws.url, scopes: ['all-apis'], subjectToken: await issuer.sign({ aud: AUDIENCE }), now: Date.now() });
    if (issued.kind !== 'bearer') throw new Error('expected a Databricks bearer token');
    const token = issued.accessToken;
    const lister = new DatabricksClient(ws.url, async () => token);
    const ids = new Map((await lister.listAllJobs()).map((j) => [j.settings?.name ?? '', j.job_id ?? 0]));
    return await Promise.all(
      mixJobs.map(async (job) => {
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
    await issuer.close();
  }
}

const sum = (rows: readonly { requests: number; delayMs: number }[], k: 'requests' | 'delayMs') => rows.reduce((a, r) => a + r[k], 0);
const sec = (msValue: number) => `${(msValue / 1000).toFixed(2)} s`;

function compare(area: string, label: string, a: readonly { requests: number; delayMs: number }[], x: readonly { requests: number; delayMs: number }[]): Row {
  const ra = sum(a, 'requests');
  const rx = sum(x, 'requests');
  const da = sum(a, 'delayMs') / a.length;
  const dx = sum(x, 'delayMs') / x.length;
  return {
    area,
    measure: `${label}: requests; mean end-detection delay`,
    value: `${ra}; ${sec(da)}`,
    baseline: `${rx}; ${sec(dx)}`,
    baselineIs: 'fixed 3 s polling',
    ratio: `${ratio(ra, rx)} req, ${da - dx >= 0 ? '+' : ''}${((da - dx) / 1000).toFixed(2)} s`,
  };
}

export async function pollingMixRows(): Promise<Row[]> {
  const started = Date.now();
  const [adaptive, fixed] = await Promise.all([measureMix({}), measureMix({ schedule: () => new FixedPollSchedule(3000), useRunHistory: false })]);
  adaptive.forEach((a, i) => {
    if (a.durationMs !== fixed[i].durationMs) throw new Error(`${a.job.spec.name}: the two passes ran different durations (${a.durationMs} vs ${fixed[i].durationMs} ms)`);
  });
  const pick = (rows: Measured[], f: (j: BenchJob) => boolean) => rows.filter((r) => f(r.job));
  const rows: Row[] = [];
  const area = 'polling mix (sandbox)';
  for (const scenario of ['first', 'recurring'] as const) {
    for (const total of MIX_TOTALS) {
      const f = (j: BenchJob) => j.scenario === scenario && j.total === total;
      rows.push(compare(area, `${scenario} ${total} s (n=${PER_DURATION})`, pick(adaptive, f), pick(fixed, f)));
    }
    const f = (j: BenchJob) => j.scenario === scenario;
    rows.push(compare(area, `**${scenario === 'first' ? 'first runs (no history)' : 'recurring (with history)'}, n=${pick(adaptive, f).length}**`, pick(adaptive, f), pick(fixed, f)));
  }
  rows.push(compare(area, `**all ${adaptive.length} runs** (clock ×${SCALE}, ${((Date.now() - started) / 1000).toFixed(0)} s wall)`, adaptive, fixed));
  return rows;
}

/** One run on a simulated clock: requests (polls, plus `prior`) and end-detection delay. */
function simulate(schedule: PollingSchedule, phases: ReturnType<typeof phasesOf>, prior: number) {
  const ends: [number, string][] = [];
  let t = 0;
  for (const [ms, state] of [
    [phases.queuedMs, 'QUEUED'],
    [phases.pendingMs, 'PENDING'],
    [phases.runningMs, 'RUNNING'],
    [phases.terminatingMs, 'TERMINATING'],
  ] as const)
    ends.push([(t += ms), state]);
  const end = t;
  let now = 0;
  let requests = prior;
  for (;;) {
    requests++;
    const phase = ends.find(([until]) => now < until);
    if (!phase) return { requests, delayMs: now - end, durationMs: end };
    now += schedule.next(`${phase[1]}/`, { now, startTime: 0 });
  }
}

/** The sweep, plus the mix's lengths on the simulated clock (noise-free: no load, no latency). */
export function pollingSweepRows(runsPerLength = 20): Row[] {
  const rows: Row[] = [];
  const mix = { a: [] as { requests: number; delayMs: number }[], x: [] as { requests: number; delayMs: number }[] };
  for (const scenario of ['first', 'recurring'] as const)
    for (const total of MIX_TOTALS) {
      const r = simulateLength(total, scenario, runsPerLength * 2);
      mix.a.push(...r.a);
      mix.x.push(...r.x);
    }
  rows.push(compare('polling model', `**the mix's lengths (${MIX_TOTALS.join(', ')} s), first and recurring, n=${mix.a.length}**, simulated clock`, mix.a, mix.x));
  for (const scenario of ['first', 'recurring'] as const) {
    for (const total of SWEEP_TOTALS) {
      const { a, x } = simulateLength(total, scenario, runsPerLength);
      const label = total >= 3600 ? `${total / 3600} h` : total >= 60 ? `${total / 60} min` : `${total} s`;
      rows.push(compare(`polling sweep (${scenario === 'first' ? 'first runs' : 'recurring'})`, `${label} (n=${runsPerLength})`, a, x));
    }
  }
  return rows;
}

function simulateLength(total: number, scenario: Scenario, runs: number) {
  {
    {
      const rnd = seededRandom((SEED ^ total ^ (scenario === 'first' ? 0 : 0x5bd1e995)) >>> 0);
      const jitter = (ms: number) => Math.round(ms * (1 + JITTER * (2 * rnd() - 1)));
      const jittered = () => {
        const p = phasesOf(total);
        return { queuedMs: jitter(p.queuedMs), pendingMs: jitter(p.pendingMs), runningMs: jitter(p.runningMs), terminatingMs: jitter(p.terminatingMs) };
      };
      const a: { requests: number; delayMs: number }[] = [];
      const x: { requests: number; delayMs: number }[] = [];
      for (let i = 0; i < runs; i++) {
        const history =
          scenario === 'recurring'
            ? Array.from({ length: PAST_RUNS }, () => {
                const p = jittered();
                return p.queuedMs + p.pendingMs + p.runningMs + p.terminatingMs;
              })
            : [];
        const run = jittered();
        // JobRunner looks up the job's earlier runs (runs/list) before its first poll: one request.
        a.push(simulate(new RunPollSchedule({ previousDurationsMs: history }), run, 1));
        x.push(simulate(new FixedPollSchedule(3000), run, 0));
      }
      return { a, x };
    }
  }
}
