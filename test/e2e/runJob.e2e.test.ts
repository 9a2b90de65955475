// Acceptance: "Run Job in Staging…" runs a Databricks job with a fresh federated token, shows
// live progress, ends in the Runs view; a user without the staging group is denied, with why.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexOfToken } from '../../src/core/redact';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, signInFromSidebar, startWithSandbox, waitFor } from './harness';


describe('Run Job in Staging (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox();
    vs = env.vs;
  });

  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-run');
  });

  after(async function () {
    await env?.close();
  });

  it('alice runs train-churn-model in staging and sees live progress', async function () {
    await signInFromSidebar(vs, 'alice');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    await vs.pickQuickPickItem('train-churn-model');
    await vs.fillInputBox('snapshot=latest, max_depth=6');
    const progress = await vs.waitForNotification(/train-churn-model in staging/, 20_000);
    await waitFor('a live life-cycle state in the progress', async () => {
      const t = await progress.innerText().catch(() => '');
      return /Pending|Running/.test(t) ? t : undefined;
    }, 20_000);
    await progress.hover();
    await vs.screenshot('07-run-progress');
  });

  it('the run succeeds and is listed in the Runs view', async function () {
    await vs.waitForNotification(/train-churn-model in staging: Succeeded/, 60_000);
    // The view re-renders a moment after the notification; wait for the final state.
    const row = await waitFor('the run to show as succeeded in the Runs view', async () => {
      const r = (await vs.treeRows('Runs')).find((x) => x.label.includes('train-churn-model'));
      return r && /staging · Succeeded/.test(r.description) ? r : undefined;
    }, 10_000);
    assert.match(row.description, /staging · Succeeded/);
    await vs.screenshot('08-run-succeeded');
  });

  it('leaves nothing token-shaped in logs, settings, state or the access log, which verifies', async function () {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && fs.statSync(p).size < 20 * 1024 * 1024) files.push(p);
      }
    };
    walk(vs.userDataDir);
    walk(vs.folder);
    const leaks = files.flatMap((f) => {
      const text = fs.readFileSync(f).toString('latin1');
      const at = indexOfToken(text);
      if (at < 0) return [];
      return [`${path.relative(vs.userDataDir, f)}: …${text.slice(Math.max(0, at - 60), at + 24)}…`];
    });
    assert.deepEqual(leaks, [], 'token-shaped text found');
    const logFile = files.find((f) => f.endsWith(path.join('mlspanner.mlspanner', 'access-log.jsonl')));
    assert.ok(logFile, `access log not found among ${files.length} files`);
    const text = fs.readFileSync(logFile, 'utf8');
    assert.ok(verifyLogText(text).ok);
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; tokenFingerprint?: string; environment?: string });
    const started = events.find((e) => e.type === 'jobStarted');
    assert.ok(started && started.environment === 'staging' && /^sha256:[0-9a-f]{12}$/.test(started.tokenFingerprint ?? ''), JSON.stringify(started));
    for (const t of ['signIn', 'credentialIssued', 'jobRequested', 'jobFinished']) assert.ok(events.some((e) => e.type === t), `${t} logged`);
  });

  it('bob cannot run jobs in staging and is told why', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    // A new browser profile for bob: the IdP's own session cookie belongs to alice.
    await vs.context.clearCookies();
    await signInFromSidebar(vs, 'bob');
    // alice's run is hers: bob's Runs view does not list it.
    await waitFor('the Runs view to follow the signed-in user', async () => ((await vs.treeRows('Runs')).some((r) => r.label.includes('train-churn-model')) ? undefined : true), 10_000);
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    const toast = await vs.waitForNotification(/Access to Databricks token in "staging" denied/, 20_000);
    assert.match(await toast.innerText(), /ml-staging/);
    // The denial offers the action it names.
    assert.ok(await toast.locator('.monaco-button', { hasText: 'Explain Access' }).isVisible());
    // Let the toast finish sliding in before the picture.
    await toast.hover();
    await vs.screenshot('09-bob-denied');
  });

  const logFile = () => path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
  type LoggedEvent = { type: string; environment?: string; target?: string; purpose?: string; reason?: string; actor?: { name?: string } };
  const loggedEvents = (): LoggedEvent[] => fs.readFileSync(logFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LoggedEvent);

  it('carol opens prod in the tree: nothing is issued until she confirms with a reason', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.context.clearCookies();
    await signInFromSidebar(vs, 'carol');
    await vs.expandTreeItem('Environments', /^prod$/);
    const rows = await waitFor('prod\'s credentials', async () => {
      const r = (await vs.treeRows('Environments')).filter((x) => / token|session/.test(x.label));
      return r.length === 3 ? r : undefined;
    }, 15_000);
    for (const r of rows) assert.match(r.description, /not issued — Issue…/, JSON.stringify(r));
    await vs.screenshot('10-carol-prod-not-issued');
    // Give a (wrong) eager exchange time to happen before checking that none did.
    await vs.page.waitForTimeout(1500);
    assert.ok(!loggedEvents().some((e) => e.type === 'credentialIssued' && e.environment === 'prod'), 'no prod credential before the confirmation');
    await vs.treeItem('Environments', /^Databricks token/).click();
    await vs.clickNotificationButton(/Issue Databricks token in prod\?/, 'Continue');
    await vs.fillInputBox('CHG-2001 check prod access');
    await waitFor('the prod Databricks token in the tree', async () => {
      const r = (await vs.treeRows('Environments')).find((x) => x.label === 'Databricks token');
      return r && /min left/.test(r.description) ? r : undefined;
    }, 30_000);
    await vs.screenshot('11-carol-prod-issued');
    const events = loggedEvents();
    const confirmed = events.find((e) => e.type === 'accessConfirmed' && e.environment === 'prod');
    assert.deepEqual([confirmed?.purpose, confirmed?.reason, confirmed?.target], ['view', 'CHG-2001 check prod access', 'databricks']);
    assert.deepEqual(events.filter((e) => e.type === 'credentialIssued' && e.environment === 'prod').map((e) => e.target), ['databricks']);
  });

  it('carol runs a job in prod only after confirming with a reason, which the access log keeps', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job…');
    await vs.pickQuickPickItem(/\bprod\s*$/);
    // Listing prod's jobs already uses a prod token: the confirmation and the reason come first.
    await vs.clickNotificationButton(/Run a job in prod\?/, 'Continue');
    await vs.fillInputBox('INC-4711 "code=abc123" backfill after outage');
    await vs.pickQuickPickItem('nightly-features');
    await vs.fillInputBox('');
    await vs.waitForNotification(/nightly-features in prod: Succeeded/, 60_000);
    const runs = await waitFor('carol\'s run in the Runs view', async () => {
      const rows = await vs.treeRows('Runs');
      return rows.some((r) => r.label.includes('nightly-features')) ? rows : undefined;
    }, 10_000);
    assert.ok(!runs.some((r) => r.label.includes('train-churn-model')), `alice's run is not carol's: ${JSON.stringify(runs)}`);
    await vs.screenshot('10-carol-prod-succeeded');
    const events = loggedEvents();
    const started = events.find((e) => e.type === 'jobStarted' && e.environment === 'prod');
    assert.equal(started?.reason, 'INC-4711 "code=abc123" backfill after outage');
    const confirmed = events.find((e) => e.type === 'accessConfirmed' && e.environment === 'prod' && e.purpose === 'job');
    assert.equal(confirmed?.reason, 'INC-4711 "code=abc123" backfill after outage');
    assert.equal(started?.actor?.name, 'Carol Example');
    assert.ok(verifyLogText(fs.readFileSync(logFile(), 'utf8')).ok);
  });

  it('Open Terminal and Run Query in prod ask the same way, and each confirmation is in the verified log', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Open Terminal with Credentials…');
    await vs.pickQuickPickItem(/\bprod\s*$/);
    await vs.clickNotificationButton(/Open a terminal with credentials in prod\?/, 'Continue');
    await vs.fillInputBox('INC-77 inspect a failed backfill');
    await vs.page.locator('.terminal-tab, .tabs-list .monaco-list-row, .single-terminal-tab', { hasText: 'ML Spanner: prod' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('12-carol-prod-terminal');

    await vs.runCommand('ML Spanner: Run ML Spanner Query…');
    await vs.fillInputBox('SELECT customer_id FROM customers LIMIT 1');
    await vs.pickQuickPickItem(/\bprod\s*$/);
    await vs.clickNotificationButton(/Run this query in prod\?/, 'Continue');
    await vs.fillInputBox('INC-78 verify one row');
    await vs.page.locator('.tab', { hasText: 'prod features query.md' }).waitFor({ state: 'visible', timeout: 30_000 });

    // bob's denial of staging, earlier, is in the log too.
    const text = fs.readFileSync(logFile(), 'utf8');
    const events = loggedEvents();
    const byPurpose = Object.fromEntries(events.filter((e) => e.type === 'accessConfirmed' && e.environment === 'prod').map((e) => [e.purpose, e.reason]));
    assert.deepEqual(byPurpose, { view: 'CHG-2001 check prod access', job: 'INC-4711 "code=abc123" backfill after outage', terminal: 'INC-77 inspect a failed backfill', query: 'INC-78 verify one row' });
    assert.ok(events.some((e) => e.type === 'terminalOpened' && e.environment === 'prod'));
    assert.ok(events.some((e) => e.type === 'queryExecuted' && e.environment === 'prod'));
    assert.ok(events.some((e) => e.type === 'accessDenied' && e.environment === 'staging' && e.purpose === 'job' && e.actor?.name === 'Bob Example'), 'bob\'s denial is logged');
    assert.ok(verifyLogText(text).ok);
  });
});
