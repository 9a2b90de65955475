// Acceptance: Run Current Notebook uploads and runs the open notebook; Cancel Run stops a run
// on Databricks; a run in flight survives a window reload and is watched to its end.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, signInFromSidebar, startWithSandbox, waitFor } from './harness';

const NOTEBOOK = `# Databricks notebook source
features = ["events_90d", "sessions_90d", "days_since_last_seen"]

# COMMAND ----------

dbutils.notebook.exit("wrote 3 churn features")
`;

describe('notebooks, cancel and reload (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  /** Accepts the job's default parameters once their input box has replaced the job list. */
  async function acceptParameters(job: string): Promise<void> {
    await vs.page.locator('.quick-input-widget', { hasText: `Parameters for ${job}` }).waitFor({ state: 'visible', timeout: 20_000 });
    await vs.page.keyboard.press('Enter');
  }

  before(async function () {
    env = await startWithSandbox({ workspaceFiles: { 'notebooks/churn_features.py': NOTEBOOK } });
    vs = env.vs;
    await signInFromSidebar(vs, 'carol');
  });

  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-workflow');
  });

  after(async function () {
    await env?.close();
  });

  it('runs the open notebook in dev and shows its output', async function () {
    await vs.page.keyboard.press('Control+P');
    await vs.page.keyboard.type('churn_features.py');
    await vs.pickQuickPickItem('churn_features.py');
    await vs.page.locator('.tab.active', { hasText: 'churn_features.py' }).waitFor({ timeout: 20_000 });
    await vs.runCommand('ML Spanner: Run Current Notebook…');
    await vs.pickQuickPickItem(/\bdev\s*$/);
    await vs.clickNotificationButton(/churn_features\.py in dev: Succeeded/, 'Show Output');
    await vs.page.locator('.view-lines', { hasText: 'wrote 3 churn features' }).waitFor({ state: 'visible', timeout: 20_000 });
    // The clicked notification closes and hands focus back to the editor a moment later; a
    // command palette opened before that would be closed by it.
    await vs.page.locator('.notification-toast', { hasText: 'churn_features.py in dev' }).waitFor({ state: 'hidden', timeout: 10_000 });
    await vs.page.waitForTimeout(500);
    await vs.screenshot('11-notebook-output');
  });

  it('runs an ML.PREDICT query on ML Spanner and shows the result table', async function () {
    await vs.runCommand('ML Spanner: Run ML Spanner Query…');
    await vs.fillInputBox("SELECT customer_id, churn_probability FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = 'DE' LIMIT 5");
    await vs.pickQuickPickItem(/\bdev\s*$/);
    await vs.page.locator('.tab', { hasText: 'dev features query.md' }).waitFor({ state: 'visible', timeout: 30_000 });
    const logFile = path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
    const event = await waitFor('the query in the access log', async () => {
      const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n') : [];
      return lines.map((l) => JSON.parse(l) as { type: string; outcome: string; rows?: number; environment?: string }).find((e) => e.type === 'queryExecuted');
    }, 10_000);
    assert.equal(event.outcome, 'success');
    assert.equal(event.environment, 'dev');
    assert.ok((event.rows ?? 0) > 0, JSON.stringify(event));
    // The Markdown preview is a webview: an iframe holding the active frame with the table.
    const table = vs.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame').locator('table');
    await table.locator('th', { hasText: 'churn_probability' }).waitFor({ state: 'visible', timeout: 20_000 });
    assert.equal(await table.locator('tbody tr').count(), event.rows);
    await vs.screenshot('13-spanner-query');
  });

  it('cancels a running job from the Cancel Run command', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    await vs.pickQuickPickItem('train-churn-model');
    await acceptParameters('train-churn-model');
    await waitFor('the run to be active in the Runs view', async () => {
      const r = (await vs.treeRows('Runs')).find((x) => x.label === 'train-churn-model');
      return r && /Queued|Pending|Running/.test(r.description) ? r : undefined;
    }, 20_000);
    await vs.runCommand('ML Spanner: Cancel Run');
    await vs.pickQuickPickItem('train-churn-model');
    await vs.waitForNotification(/train-churn-model in staging: Cancelled/, 30_000);
  });

  it('keeps watching a run across a window reload and reports its end', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    await vs.pickQuickPickItem('nightly-features');
    await acceptParameters('nightly-features');
    await waitFor('the run to be active in the Runs view', async () => {
      const r = (await vs.treeRows('Runs')).find((x) => x.label === 'nightly-features');
      return r && /Queued|Pending|Running/.test(r.description) ? r : undefined;
    }, 20_000);
    await vs.runCommand('Developer: Reload Window');
    await vs.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // VS Code restores the open sidebar itself; open it only if it did not.
    const restored = await vs.page.locator('.part.sidebar').waitFor({ state: 'visible', timeout: 20_000 }).then(() => true, () => false);
    if (!restored) await vs.openSidebar('ML Spanner');
    // The session comes back from SecretStorage without a browser, then the run is resumed.
    await vs.waitForTreeItem('Environments', /^Carol Example$/, 30_000);
    await vs.waitForNotification(/nightly-features in staging: Succeeded/, 60_000);
    const row = (await vs.treeRows('Runs')).find((x) => x.label === 'nightly-features');
    assert.match(row?.description ?? '', /staging · Succeeded/);
    await vs.screenshot('12-resumed-after-reload');
  });
});
