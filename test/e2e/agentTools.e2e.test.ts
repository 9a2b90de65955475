// Acceptance: agents reach ML Spanner and Databricks only through the mlspanner_* language model
// tools, as the signed-in user, within policy. A test-only extension (toolProbe/) calls
// vscode.lm.invokeTool as an agent would; VS Code's approval dialog is answered in the browser.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { looksLikeToken } from '../../src/core/redact';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, repoRoot, signInFromSidebar, startWithSandbox, waitFor } from './harness';

interface ProbeResult {
  tools: { name: string; description: string }[];
  results: { name: string; text?: string; error?: string }[];
  done?: boolean;
}

/** Packages the probe with the repository's own vsce. */
function packageProbe(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlspanner-probe-'));
  fs.cpSync(path.join(__dirname, 'toolProbe'), dir, { recursive: true });
  const out = path.join(dir, 'probe.vsix');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', out], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`packaging the tool probe failed: ${r.stdout}\n${r.stderr}`);
  return out;
}

describe('tools for agents (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox({ extraVsix: [packageProbe()] });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-agents');
  });
  after(async function () {
    await env?.close();
  });

  const resultFile = () => path.join(vs.folder, 'probe-result.json');
  async function invoke(requests: { name: string; input: object }[], during?: () => Promise<void>): Promise<ProbeResult> {
    fs.rmSync(resultFile(), { force: true });
    fs.writeFileSync(path.join(vs.folder, 'probe-request.json'), JSON.stringify(requests));
    await vs.runCommand('ML Spanner Probe: Invoke Tools');
    await during?.();
    return waitFor('the probe to finish', async () => {
      if (!fs.existsSync(resultFile())) return undefined;
      const r = JSON.parse(fs.readFileSync(resultFile(), 'utf8')) as ProbeResult;
      return r.done ? r : undefined;
    }, 60_000);
  }
  const accessLog = () => fs.readFileSync(path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl'), 'utf8');

  it('bob: the tools are registered; dev answers, staging is denied with what to ask for', async function () {
    await signInFromSidebar(vs, 'bob');
    const r = await invoke([
      { name: 'mlspanner_listEnvironments', input: {} },
      { name: 'mlspanner_runQuery', input: { environment: 'dev', sql: 'SELECT customer_id, churn_probability FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = @country LIMIT 3', params: { country: 'DE' } } },
      { name: 'mlspanner_runQuery', input: { environment: 'staging', sql: 'SELECT 1' } },
      { name: 'mlspanner_explainAccess', input: { environment: 'staging' } },
    ]);
    assert.deepEqual(r.tools.map((t) => t.name).sort(), ['mlspanner_cancelRun', 'mlspanner_explainAccess', 'mlspanner_getRun', 'mlspanner_listEnvironments', 'mlspanner_listJobs', 'mlspanner_runJob', 'mlspanner_runQuery']);
    const [list, dev, staging, explain] = r.results;
    assert.match(list.text ?? '', /\| dev \| granted \| yes \|/, JSON.stringify(list));
    assert.match(list.text ?? '', /\| prod \| denied \| no \|/);
    assert.match(dev.text ?? '', /\| customer_id \| churn_probability \|/, JSON.stringify(dev));
    assert.match(staging.text ?? '', /^Denied: .*requires one of groups ml-staging/, JSON.stringify(staging));
    assert.match(explain.text ?? '', /Environment access: denied/);
    for (const x of r.results) assert.equal(looksLikeToken(JSON.stringify(x)), false, `no token in ${x.name}`);
  });

  it('carol: starting a job asks the user, through VS Code, and the run starts; prod stays closed to agents', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.context.clearCookies();
    await signInFromSidebar(vs, 'carol');
    const listed = await invoke([{ name: 'mlspanner_listJobs', input: { environment: 'dev' } }]);
    const jobId = Number(/\| (\d+) \| train-churn-model \|/.exec(listed.results[0].text ?? '')?.[1]);
    assert.ok(jobId > 0, JSON.stringify(listed));
    const r = await invoke(
      [
        { name: 'mlspanner_runJob', input: { environment: 'dev', jobId } },
        { name: 'mlspanner_runQuery', input: { environment: 'prod', sql: 'SELECT 1' } },
      ],
      async () => {
        const dialog = vs.page.locator('.monaco-dialog-box');
        await dialog.waitFor({ state: 'visible', timeout: 30_000 });
        assert.match(await dialog.innerText(), /Starting Databricks job \d+ in dev/);
        await vs.screenshot('20-agent-tool-confirmation');
        await dialog.locator('.dialog-buttons a.monaco-button', { hasText: /^(Yes|Continue|Allow)$/ }).first().click();
      },
    );
    const [run, prod] = r.results;
    assert.match(run.text ?? '', /Started job \d+ in dev: run \d+/, JSON.stringify(run));
    assert.match(prod.text ?? '', /closed to agents by default/, JSON.stringify(prod));
    const events = accessLog()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; via?: string; tool?: string; environment?: string; outcome?: string });
    const agentCalls = events.filter((e) => e.type === 'agentToolInvoked');
    assert.ok(agentCalls.every((e) => e.via === 'agent' && e.tool?.startsWith('mlspanner_')));
    assert.ok(agentCalls.some((e) => e.tool === 'mlspanner_runQuery' && e.environment === 'staging' && e.outcome === 'denied'));
    assert.ok(agentCalls.some((e) => e.tool === 'mlspanner_runQuery' && e.environment === 'prod' && e.outcome === 'denied'));
    assert.ok(events.some((e) => e.type === 'jobStarted' && e.via === 'agent' && e.environment === 'dev'));
    assert.ok(verifyLogText(accessLog()).ok);
  });
});
