import * as assert from 'node:assert/strict';
import { startDatabricksWorkspace, type DatabricksWorkspaceHandle } from '../../sandbox/databricks/DatabricksWorkspace';
import { escapeHtml, parseRunPagePath } from '../../sandbox/databricks/RunPage';
import { DATABRICKS_HOST_DEFAULT, startSandbox } from '../../sandbox/index';
import { startTestIssuer, type TestIssuer } from '../../sandbox/TestIssuer';

/**
 * The run page behind `run_page_url`: Databricks links a run as `{host}/jobs/{job}/runs/{run}?o=…`
 * and "Open Run Page" opens that link in the browser, so the emulator must serve it, on an
 * address code-server passes through unchanged (it rewrites 127.0.0.1 and localhost links onto
 * its port proxy, dropping path and query).
 */
const HOSTILE_NAME = '<script>alert("name")</script> & co';
const HOSTILE_ERROR = '<img src=x onerror=alert(1)> failed';

describe('Databricks emulator run page (run_page_url)', function () {
  this.timeout(20_000);
  let issuer: TestIssuer;
  let ws: DatabricksWorkspaceHandle;
  let token = '';
  const clock = { t: Date.parse('2026-03-02T09:00:00Z') };

  async function api(method: 'GET' | 'POST', route: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${ws.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(res.status, 200, `${method} ${route}`);
    return (await res.json()) as Record<string, unknown>;
  }

  async function jobId(name: string): Promise<number> {
    const list = await api('GET', `/api/2.2/jobs/list?name=${encodeURIComponent(name)}`);
    return (list.jobs as { job_id: number }[])[0].job_id;
  }

  async function startRun(name: string, params?: Record<string, string>): Promise<{ jobId: number; runId: number; run: Record<string, unknown> }> {
    const id = await jobId(name);
    const started = await api('POST', '/api/2.2/jobs/run-now', { job_id: id, ...(params ? { job_parameters: params } : {}) });
    const runId = started.run_id as number;
    return { jobId: id, runId, run: await api('GET', `/api/2.2/jobs/runs/get?run_id=${runId}`) };
  }

  async function page(url: string): Promise<{ status: number; type: string; csp: string; html: string }> {
    const res = await fetch(url);
    return { status: res.status, type: res.headers.get('content-type') ?? '', csp: res.headers.get('content-security-policy') ?? '', html: await res.text() };
  }

  before(async () => {
    issuer = await startTestIssuer();
    ws = await startDatabricksWorkspace({
      host: DATABRICKS_HOST_DEFAULT,
      port: 0,
      name: 'staging',
      trust: issuer.trust,
      quiet: true,
      now: () => clock.t,
      jitter: 0,
      jobs: [
        { name: 'train-churn-model', output: '{"model":"churn","auc":0.912}', parameters: [{ name: 'snapshot', default: 'latest' }] },
        { name: HOSTILE_NAME, result: 'FAILED', error: HOSTILE_ERROR },
      ],
    });
    const res = await fetch(`${ws.url}/oidc/v1/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await issuer.sign(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'all-apis',
      }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await ws?.close();
    await issuer?.close();
  });

  it('run_page_url is a path the workspace serves, as Databricks links runs: /jobs/{job}/runs/{run}?o={workspace}', async () => {
    const { jobId: id, runId, run } = await startRun('train-churn-model');
    assert.match(String(run.run_page_url), new RegExp(`^${ws.url}/jobs/${id}/runs/${runId}\\?o=\\d+$`));
    const taskRun = (run.tasks as { run_id: number; run_page_url: string }[])[0];
    assert.match(taskRun.run_page_url, new RegExp(`^${ws.url}/jobs/${id}/runs/${taskRun.run_id}\\?o=\\d+$`));
    assert.equal(new URL(String(run.run_page_url)).hash, '', 'no fragment: a browser never sends it to the server');
    assert.deepEqual(parseRunPagePath(`/jobs/${id}/runs/${runId}`), { jobId: id, runId });
    assert.deepEqual(parseRunPagePath(`/jobs/runs/${runId}`), { runId });
    assert.equal(parseRunPagePath('/jobs/x/runs/1'), undefined);
  });

  it('shows an active run: job, state, parameters, task and start time, refreshing itself', async () => {
    const { runId, run } = await startRun('train-churn-model', { snapshot: '2026-03-01' });
    clock.t += 2000; // QUEUED 1 s, then PENDING
    const p = await page(String(run.run_page_url));
    assert.equal(p.status, 200);
    assert.match(p.type, /^text\/html/);
    assert.match(p.csp, /default-src 'none'/, 'no scripts, frames or fetches from the page');
    assert.match(p.html, /<title>train-churn-model · run \d+ · PENDING<\/title>/);
    assert.match(p.html, /<span class="badge active" id="state">PENDING<\/span>/);
    assert.match(p.html, new RegExp(`Job run ${runId}`));
    assert.match(p.html, /<th>snapshot<\/th><td><code>2026-03-01<\/code><\/td>/);
    assert.match(p.html, /<td>[^<]+<\/td><td><code>[^<]*\/[^<]*<\/code><\/td><td><span class="badge active">PENDING<\/span>/, 'the task row');
    assert.match(p.html, /<th>Start time<\/th><td>2026-03-02 09:00:0\d UTC<\/td>/);
    assert.match(p.html, /<th>End time<\/th><td>still running<\/td>/);
    assert.match(p.html, /<meta http-equiv="refresh" content="2">/);
    assert.match(p.html, /The output appears when the run has finished/);
  });

  it('shows a finished run with its end time and the notebook output, HTML-escaped, and stops refreshing', async () => {
    const { run } = await startRun('train-churn-model');
    const started = clock.t;
    clock.t += 60_000;
    const p = await page(String(run.run_page_url));
    assert.match(p.html, /<span class="badge ok" id="state">SUCCESS<\/span>/);
    assert.match(p.html, /<pre>\{&quot;model&quot;:&quot;churn&quot;,&quot;auc&quot;:0.912\}<\/pre>/);
    const end = new Date(started + 1000 + 3000 + 8000 + 2000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    assert.ok(p.html.includes(`<th>End time</th><td>${end}</td>`), `end time ${end}`);
    assert.match(p.html, /<th>Duration<\/th><td>14s<\/td>/);
    assert.doesNotMatch(p.html, /http-equiv="refresh"/);
    // The task run's link shows the same run.
    const taskUrl = (run.tasks as { run_page_url: string }[])[0].run_page_url;
    assert.match((await page(taskUrl)).html, /<span class="badge ok" id="state">SUCCESS<\/span>/);
  });

  it('escapes everything that comes from the run: a job name and an error made of HTML stay text', async () => {
    const { run } = await startRun(HOSTILE_NAME);
    clock.t += 60_000;
    const p = await page(String(run.run_page_url));
    assert.equal(p.status, 200);
    assert.ok(p.html.includes(escapeHtml(HOSTILE_NAME)), 'the name, escaped');
    assert.ok(p.html.includes(`<pre class="err">${escapeHtml(HOSTILE_ERROR)}</pre>`), 'the error, escaped');
    assert.doesNotMatch(p.html, /<script|<img/i);
    assert.match(p.html, /<span class="badge bad" id="state">FAILED<\/span>/);
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('answers an unknown run, or a run under another job, with 404', async () => {
    const { jobId: id, runId } = await startRun('train-churn-model');
    for (const path of ['/jobs/runs/999', `/jobs/${id + 1}/runs/${runId}`, '/jobs/1/runs/x', '/jobs/']) {
      const p = await page(`${ws.url}${path}`);
      assert.equal(p.status, 404, path);
      assert.match(p.type, /^text\/html/, path);
    }
    assert.ok((await page(`${ws.url}/jobs/runs/${runId}`)).status === 200, 'a job run also answers at /jobs/runs/{run}');
  });

  it('the sandbox serves the workspaces on an address code-server does not rewrite', async () => {
    const sandbox = await startSandbox({ quiet: true });
    try {
      for (const [env, origin] of Object.entries(sandbox.databricks)) {
        const host = new URL(origin).hostname;
        assert.equal(host, DATABRICKS_HOST_DEFAULT, env);
        assert.ok(!['127.0.0.1', 'localhost', '[::1]'].includes(host), `${env} is not on an address code-server proxies`);
        assert.equal((sandbox.environments[env] as { databricks: { host: string } }).databricks.host, origin, `${env} setting`);
        const res = await fetch(`${origin}/jobs/runs/1`);
        assert.equal(res.status, 404, `${env} answers run pages`);
        assert.match(await res.text(), /does not exist in workspace/);
      }
    } finally {
      await sandbox.close();
    }
  });
});
