// Acceptance: the packaged extension in real VS Code signs in against the sandbox IdP from the
// sidebar, shows who is signed in and a ticking expiry countdown, and signs out again.
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Sandbox } from '../../sandbox/index';
import { type SandboxedVsCode, type VsCodeSession, completeIdpLogin, recordFailure, stepsInOrder, startWithSandbox, waitFor } from './harness';

const COUNTDOWN = /\d+:\d\d/;

/** "staging 14:59" or "1:02:03" → seconds left. */
function secondsLeft(text: string): number {
  const match = /(?:(\d+):)?(\d+):(\d\d)\s*$/.exec(text);
  assert.ok(match, `no countdown in "${text}"`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

describe('sign-in from the ML Spanner sidebar (packaged extension in VS Code 1.100)', function () {
  // Each step builds on the previous one; after a failure the rest would only add noise.
  stepsInOrder(this);

  let env: SandboxedVsCode | undefined;
  let sandbox: Sandbox | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox();
    sandbox = env.sandbox;
    vs = env.vs;
  });

  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed');
  });

  after(async function () {
    await env?.close();
  });

  it('shows the welcome view with a Sign In button', async function () {
    await vs.openSidebar('ML Spanner');
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
    await vs.screenshot('01-welcome');
  });

  let idpPage: Page;

  it('opens the IdP login page in the browser', async function () {
    idpPage = await vs.waitForExternalPage(() => vs.clickWelcomeButton('Sign In', 'Environments'));
    assert.equal(new URL(idpPage.url()).origin, new URL(sandbox!.issuer).origin);
    await idpPage.locator('input[name="username"]').waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('02-idp-login', idpPage);
  });

  it('signs in as alice and lands on the loopback callback page', async function () {
    await completeIdpLogin(idpPage, 'alice', 'demo');
    const body = await waitFor('the callback page to report success', async () => {
      const text = (await idpPage.locator('body').innerText()).trim();
      return /signed in/i.test(text) ? text : undefined;
    }, 15_000);
    assert.match(body, /signed in/i);
    await vs.screenshot('03-idp-callback', idpPage);
  });

  it('shows the signed-in user in the Environments view', async function () {
    await vs.page.bringToFront();
    await vs.waitForTreeItem('Environments', /Alice Example/);
    const rows = await vs.treeRows('Environments');
    assert.ok(
      rows.some((r) => [r.label, r.description, r.ariaLabel].some((t) => t.includes('alice@example.com'))),
      `alice@example.com not in ${JSON.stringify(rows)}`,
    );
  });

  it('counts down to expiry in the status bar', async function () {
    const first = await vs.waitForStatusBar('mlspanner.expiry', COUNTDOWN);
    // The countdown ticks every second; within a few seconds the text must change and go down.
    const next = await waitFor('the countdown to tick', async () => {
      const text = await vs.readStatusBar('mlspanner.expiry');
      return text !== first ? text : undefined;
    }, 5_000);
    assert.match(next, COUNTDOWN);
    assert.ok(secondsLeft(next) < secondsLeft(first), `countdown went from "${first}" to "${next}"`);
    await vs.screenshot('04-signed-in');
  });

  it('lists dev and staging with their credentials, and prod as denied for alice', async function () {
    await vs.waitForTreeItem('Environments', /^prod$/);
    const rows = await vs.treeRows('Environments');
    const row = (name: string) => rows.find((r) => r.label === name);
    assert.ok(row('dev') && row('staging'), `dev and staging not listed: ${JSON.stringify(rows)}`);
    assert.match(row('prod')!.description, /denied.*ml-prod/, 'prod is denied and says which group is missing');
    assert.doesNotMatch(row('staging')!.description, /denied/);

    await vs.expandTreeItem('Environments', /^staging$/);
    for (const label of ['Databricks token', 'Google token (ML Spanner)', 'AWS session']) {
      await waitFor(`${label} of staging to be issued`, async () => {
        const r = (await vs.treeRows('Environments')).find((x) => x.label === label);
        return r && /left/.test(r.description) ? r : undefined;
      }, 20_000);
    }
    const creds = (await vs.treeRows('Environments')).filter((r) => / token|session$/.test(r.label));
    assert.ok(creds.some((r) => /federation/.test(r.description)), `Databricks source shown: ${JSON.stringify(creds)}`);
    assert.ok(creds.some((r) => /impersonation/.test(r.description)), `Google source shown: ${JSON.stringify(creds)}`);
    assert.ok(creds.some((r) => /AssumeRoleWithWebIdentity/.test(r.description)), `AWS source shown: ${JSON.stringify(creds)}`);
    await vs.screenshot('05-environments');
  });

  it('counts down the nearest credential expiry and names its environment', async function () {
    const text = await vs.waitForStatusBar('mlspanner.expiry', /staging \d+:\d\d/, 15_000);
    assert.ok(secondsLeft(text) <= 3600);
  });

  it('signs out from the command palette and shows Sign In again', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
    await vs.screenshot('06-signed-out');
  });
});
