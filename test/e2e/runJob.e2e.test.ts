// Acceptance: "Run Job in Staging…" runs a Databricks job with a fresh federated token, shows
// live progress, ends in the Runs view; a user without the staging group is denied, with why.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../../sandbox/index';
import { completeIdpLogin, freePort, repoRoot, startVsCode, waitFor, type VsCodeSession } from './harness';

const VSIX = process.env.MLSPANNER_VSIX ?? path.join(repoRoot, 'dist', 'mlspanner.vsix');

describe('Run Job in Staging (packaged extension in VS Code 1.100)', function () {
  this.bail(true);
  let sandbox: Sandbox | undefined;
  let vs: VsCodeSession;

  async function signInAs(username: string): Promise<void> {
    await vs.openSidebar('ML Spanner');
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
    const idp = await vs.waitForExternalPage(() => vs.clickWelcomeButton('Sign In', 'Environments'));
    await completeIdpLogin(idp, username, 'demo');
    await waitFor('the callback page', async () => (/signed in/i.test(await idp.locator('body').innerText()) ? true : undefined), 15_000);
    await idp.close();
    await vs.page.bringToFront();
    await vs.waitForTreeItem('Environments', new RegExp(`^${username[0].toUpperCase()}${username.slice(1)} Example$`));
  }

  before(async function () {
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run \`npm run package\` first (npm run test:e2e does)`);
    sandbox = await startSandbox({
      idpPort: await freePort('127.0.0.2'),
      ports: { google: await freePort(), aws: await freePort(), databricksDev: await freePort(), databricksStaging: await freePort(), databricksProd: await freePort() },
      quiet: true,
    });
    vs = await startVsCode({
      vsix: VSIX,
      settings: { 'mlspanner.idp.issuer': sandbox.issuer, 'mlspanner.idp.clientId': sandbox.clientId, 'mlspanner.environments': sandbox.environments },
      trustedDomains: [new URL(sandbox.issuer).origin],
    });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !vs) return;
    const name = `failed-run-${this.currentTest.title.replace(/\W+/g, '-')}`;
    for (const [i, page] of vs.context.pages().entries()) await vs.screenshot(i === 0 ? name : `${name}-tab${i}`, page).catch(() => undefined);
    console.log(`\n--- "ML Spanner" output channel\n${vs.outputChannel()}`);
  });

  after(async function () {
    await vs?.close();
    await sandbox?.close();
  });

  it('alice runs train-churn-model in staging and sees live progress', async function () {
    await signInAs('alice');
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
    await vs.waitForTreeItem('Runs', /train-churn-model/);
    const row = (await vs.treeRows('Runs')).find((r) => r.label.includes('train-churn-model'));
    assert.ok(row, 'run row');
    assert.match(row.description, /staging · Succeeded/);
    await vs.screenshot('08-run-succeeded');
  });

  it('bob cannot run jobs in staging and is told why', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    // A new browser profile for bob: the IdP's own session cookie belongs to alice.
    await vs.context.clearCookies();
    await signInAs('bob');
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    const toast = await vs.waitForNotification(/cannot run jobs in staging/, 20_000);
    assert.match(await toast.innerText(), /ml-staging/);
    // Let the toast finish sliding in before the picture.
    await toast.hover();
    await vs.screenshot('09-bob-denied');
  });
});
