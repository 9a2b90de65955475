// Acceptance: "Run Job in Staging…" runs a Databricks job with a fresh federated token, shows
// live progress, ends in the Runs view; a user without the staging group is denied, with why.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexOfToken } from '../../src/core/redact';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, signInFromSidebar, startWithSandbox, waitFor } from './harness';


describe('Run Job in Staging (packaged extension in VS Code 1.100)', function () {
  this.bail(true);
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
    const toast = await vs.waitForNotification(/cannot run jobs in staging/, 20_000);
    assert.match(await toast.innerText(), /ml-staging/);
    // Let the toast finish sliding in before the picture.
    await toast.hover();
    await vs.screenshot('09-bob-denied');
  });

  it('carol runs a job in prod only after confirming with a reason, which the access log keeps', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.context.clearCookies();
    await signInFromSidebar(vs, 'carol');
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job…');
    await vs.pickQuickPickItem(/\bprod\s*$/);
    await vs.pickQuickPickItem('nightly-features');
    await vs.fillInputBox('');
    await vs.clickNotificationButton(/Run nightly-features in prod\?/, 'Continue');
    await vs.fillInputBox('INC-4711 backfill after outage');
    await vs.waitForNotification(/nightly-features in prod: Succeeded/, 60_000);
    const runs = await waitFor('carol\'s run in the Runs view', async () => {
      const rows = await vs.treeRows('Runs');
      return rows.some((r) => r.label.includes('nightly-features')) ? rows : undefined;
    }, 10_000);
    assert.ok(!runs.some((r) => r.label.includes('train-churn-model')), `alice's run is not carol's: ${JSON.stringify(runs)}`);
    await vs.screenshot('10-carol-prod-succeeded');
    const logFile = path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
    const events = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; environment?: string; reason?: string; actor?: { name?: string } });
    const started = events.find((e) => e.type === 'jobStarted' && e.environment === 'prod');
    assert.equal(started?.reason, 'INC-4711 backfill after outage');
    assert.equal(started?.actor?.name, 'Carol Example');
    assert.ok(verifyLogText(fs.readFileSync(logFile, 'utf8')).ok);
  });
});
