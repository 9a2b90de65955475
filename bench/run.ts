/**
 * Polling benchmark: the same sandbox runs watched with the adaptive PollSchedule and with fixed
 * 3-second polling. Measures, per run, the runs/get requests sent and the end-detection delay
 * (detection time minus the run's end_time as the workspace reports it). Simulated time runs
 * SCALE times faster than the wall clock, for the workspace and the runner alike.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DatabricksClient, type DatabricksJobsApi } from '../src/core/databricks/DatabricksClient';
import { JobRunner, MemoryRunStore } from '../src/core/databricks/JobRunner';
import { AdaptivePollSchedule, FixedPollSchedule, type PollingSchedule } from '../src/core/databricks/PollSchedule';
import { startDatabricksWorkspace, type DemoJobSpec } from '../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer } from '../test/integration/databricksTestIssuer';

const SCALE = 20;
const t0 = Date.now();
const now = () => t0 + (Date.now() - t0) * SCALE;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms / SCALE));

/** Total simulated durations (s): queue 1 s, pending ~25 %, terminating 1 s, the rest running. */
const TOTALS = [4, 7, 12, 18, 25, 33, 40, 90, 300];
const jobs: DemoJobSpec[] = TOTALS.map((total) => {
  const pendingMs = Math.round(total * 250);
  return {
    name: `bench-${total}s`,
    output: `done in ${total}s`,
    durations: { queuedMs: 1000, pendingMs, runningMs: total * 1000 - 2000 - pendingMs, terminatingMs: 1000 },
  };
});

interface Row {
  job: string;
  requests: number;
  delayMs: number;
}

/** Counts runs/get calls of one runner. */
function counting(client: DatabricksClient) {
  const counter = { getRun: 0 };
  const api: DatabricksJobsApi = new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'getRun') return (runId: number) => (counter.getRun++, target.getRun(runId));
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { api, counter };
}

async function main() {
  const issuer = await startTestIssuer();
  const ws = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'bench', trust: issuer.trust, quiet: true, jobs, now });
  const federate = async () => {
    const res = await fetch(`${ws.url}/oidc/v1/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await issuer.sign(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'all-apis',
      }),
    });
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const token = await federate();
  const lister = new DatabricksClient(ws.url, async () => token);
  const ids = new Map((await lister.listAllJobs()).map((j) => [j.settings?.name ?? '', j.job_id ?? 0]));

  async function measure(schedule: () => PollingSchedule): Promise<Row[]> {
    return Promise.all(
      jobs.map(async (job) => {
        const { api, counter } = counting(new DatabricksClient(ws.url, async () => token, { http: { sleep } }));
        const runner = new JobRunner({ environment: 'bench', client: api, store: new MemoryRunStore(), sink: { record: () => undefined }, sleep, now, schedule });
        let detectedAt = 0;
        const result = await runner.runJob(
          { jobId: ids.get(job.name) ?? 0, jobName: job.name },
          {
            onProgress: (p) => {
              if (p.state.life_cycle_state === 'TERMINATED') detectedAt = now();
            },
          },
        );
        if (result.outcome !== 'succeeded') throw new Error(`${job.name} ended ${result.text}`);
        return { job: job.name, requests: counter.getRun, delayMs: detectedAt - (result.run.end_time ?? detectedAt) };
      }),
    );
  }

  const started = Date.now();
  const adaptive = await measure(() => new AdaptivePollSchedule());
  const fixed = await measure(() => new FixedPollSchedule(3000));
  await ws.close();
  await issuer.close();

  const sum = (rows: Row[], k: 'requests' | 'delayMs') => rows.reduce((a, r) => a + r[k], 0);
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const lines = [
    `Polling benchmark: ${jobs.length} runs, ${TOTALS.join(', ')} s simulated (clock x${SCALE}); runs/get requests and end-detection delay.`,
    '',
    '| run | adaptive requests | fixed 3 s requests | adaptive delay (s) | fixed 3 s delay (s) |',
    '|---|---:|---:|---:|---:|',
    ...jobs.map((j, i) => `| ${j.name} | ${adaptive[i].requests} | ${fixed[i].requests} | ${s(adaptive[i].delayMs)} | ${s(fixed[i].delayMs)} |`),
    `| **total** | **${sum(adaptive, 'requests')}** | **${sum(fixed, 'requests')}** | **${s(sum(adaptive, 'delayMs'))}** | **${s(sum(fixed, 'delayMs'))}** |`,
    `| **mean delay** | | | **${s(sum(adaptive, 'delayMs') / jobs.length)}** | **${s(sum(fixed, 'delayMs') / jobs.length)}** |`,
    '',
    `Ratios adaptive / fixed: requests ${(sum(adaptive, 'requests') / sum(fixed, 'requests')).toFixed(2)}, ` +
      `end-detection delay ${(sum(adaptive, 'delayMs') / Math.max(1, sum(fixed, 'delayMs'))).toFixed(2)}.`,
    `Wall time ${((Date.now() - started) / 1000).toFixed(1)} s. Timer jitter of a few ms is magnified x${SCALE} in simulated delays.`,
  ];
  const text = lines.join('\n');
  console.log(text);
  writeFileSync(path.join(__dirname, 'results.md'), `# Polling benchmark\n\n${text}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
