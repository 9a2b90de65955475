// Acceptance: a new user's path, from the walkthrough, with no dead end. Sign in as alice from the
// walkthrough; sign out; "Sign in as a different user…" reaches the provider's login page even
// though the provider still has alice's session, and bob signs in; staging is denied for bob and
// the denial's Explain Access button explains it; a wrong issuer typed into the Settings editor
// gives an error with Open Settings, and putting it back signs in again without a reload; the
// access-log view filters the denials. Screenshots 70–79.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import { type SandboxedVsCode, type VsCodeSession, completeIdpLogin, recordFailure, stepsInOrder, webviewText, startWithSandbox, waitFor } from './harness';


describe('a new user, from the walkthrough (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox();
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-new-user');
  });
  after(async function () {
    await env?.close();
  });

  const userSettings = () => path.join(vs.userDataDir, 'User', 'settings.json');
  const walkthrough = () => vs.page.locator('.gettingStartedContainer');
  /** A button of the walkthrough's open step, by its text. */
  const stepButton = (text: string): Locator => walkthrough().locator('.getting-started-step.expanded').locator('a, button', { hasText: text }).first();
  const step = (title: string): Locator => walkthrough().locator('.getting-started-step', { hasText: title }).first();

  /** The issuer's text box in the Settings editor (opened on `mlspanner.idp`). */
  async function issuerInput(): Promise<Locator> {
    const item = vs.page.locator('.settings-editor .setting-item', { has: vs.page.locator('.setting-item-label, .setting-item-title', { hasText: /Issuer/ }) }).first();
    await item.waitFor({ state: 'visible', timeout: 30_000 });
    const input = item.locator('input').first();
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    return input;
  }
  async function openIdpSettings(): Promise<void> {
    await vs.runCommand('Preferences: Open User Settings');
    const tab = vs.page.locator('.tabs-container .tab', { hasText: /^\s*Settings\s*$/ }).first();
    await tab.waitFor({ state: 'visible', timeout: 30_000 });
    await tab.click();
    const editor = vs.page.locator('.settings-editor').first();
    await editor.waitFor({ state: 'visible', timeout: 30_000 });
    // The search box is a small editor of its own; Ctrl+F in the Settings editor focuses it.
    await editor.locator('.settings-header').click({ position: { x: 200, y: 20 } }).catch(() => undefined);
    await vs.page.keyboard.press('Control+F');
    await vs.page.keyboard.press('Control+A');
    await vs.page.keyboard.type('mlspanner.idp.issuer');
  }
  async function setIssuer(value: string): Promise<void> {
    const input = await issuerInput();
    await input.click();
    await input.fill(value);
    await input.press('Tab');
  }

  it('the walkthrough signs alice in', async function () {
    await vs.runCommand('Welcome: Open Walkthrough...');
    await vs.pickQuickPickItem(/Get started with ML Spanner Access/);
    await walkthrough().waitFor({ state: 'visible', timeout: 30_000 });
    await step('Sign in').click();
    await stepButton('Sign In').waitFor({ state: 'visible', timeout: 15_000 });
    await vs.screenshot('70-walkthrough');
    const idp = await vs.waitForExternalPage(() => stepButton('Sign In').click());
    await completeIdpLogin(idp, 'alice', 'demo');
    await idp.close();
    await vs.page.bringToFront();
    await vs.openSidebar('ML Spanner');
    await vs.waitForTreeItem('Environments', /^Alice Example$/);
    await vs.screenshot('71-alice-signed-in');
  });

  it('after sign-out, "Sign in as a different user…" asks the provider for a login, and bob signs in', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.waitForWelcomeButton('Sign in as a different user…', { viewName: 'Environments' });
    const idp = await vs.waitForExternalPage(() => vs.clickWelcomeButton('Sign in as a different user…', 'Environments'));
    // The provider still has alice's session: without prompt=login it would sign alice in at once.
    await idp.locator('input[name="username"]').waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('72-different-user-login', idp);
    await completeIdpLogin(idp, 'bob', 'demo');
    await idp.close();
    await vs.page.bringToFront();
    await vs.waitForTreeItem('Environments', /^Bob Example$/);
    const rows = await vs.treeRows('Environments');
    assert.ok(!rows.some((r) => r.label === 'Alice Example'), JSON.stringify(rows));
    const staging = rows.find((r) => r.label === 'staging');
    assert.match(staging?.description ?? '', /denied.*ml-staging/, JSON.stringify(rows));
    // The Runs view does not offer Run Job in Staging to someone who may not use staging.
    await vs.waitForWelcomeButton('Run Job…', { viewName: 'Runs' });
    assert.ok(!(await vs.view('Runs').locator('.welcome-view-content .monaco-button', { hasText: 'Run Job in Staging' }).isVisible()));
    await vs.screenshot('73-bob-staging-denied');
  });

  it('a denial in staging offers Explain Access, and it explains', async function () {
    await vs.runCommand('View: Close All Editors');
    await vs.runCommand('ML Spanner: Run Job in Staging…');
    const toast = await vs.waitForNotification(/staging/);
    const text = (await toast.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /ml-staging/, text);
    await vs.screenshot('74-denied-toast');
    await vs.clickNotificationButton(/staging/, 'Explain Access');
    const explained = await waitFor('the Explain Access report for staging', async () => webviewText(vs.page, /ml-staging/), 30_000).catch(async (e) => {
      for (const f of vs.page.frames()) console.log('FRAME', f.url().slice(0, 150), JSON.stringify((await f.locator('body').innerText({ timeout: 1000 }).catch((x) => String(x))).slice(0, 300)));
      throw e;
    });
    assert.match(explained, /staging/);
    assert.match(explained, /ml-staging/);
    await vs.screenshot('75-explain-access');
  });

  it('a wrong issuer typed into the Settings editor gives an error with Open Settings; putting it back signs in again, without a reload', async function () {
    const issuer = env!.sandbox.issuer;
    const wrong = issuer.replace(/:(\d+)$/, ':1');
    await openIdpSettings();
    await setIssuer(wrong);
    await waitFor('the Settings editor to write the wrong issuer', async () => fs.readFileSync(userSettings(), 'utf8').includes(JSON.stringify(wrong)), 30_000);
    // A changed provider ends the session: the sidebar offers Sign In.
    await vs.openSidebar('ML Spanner');
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments', timeoutMs: 30_000 });
    await vs.clickWelcomeButton('Sign In', 'Environments');
    const toast = await vs.waitForNotification(/127\.0\.0\.2:1\b|unreachable|could not reach|refused/i, 60_000);
    const text = (await toast.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /Open Settings/, text);
    // Let the failed attempt's progress notification close and the error settle before the picture.
    await vs.page.locator('.notification-toast', { hasText: 'signing in' }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    await vs.page.waitForTimeout(500);
    await vs.screenshot('76-wrong-issuer');
    await vs.clickNotificationButton(/127\.0\.0\.2:1\b|unreachable|could not reach|refused/i, 'Open Settings');
    await setIssuer(issuer);
    await waitFor('the Settings editor to write the issuer back', async () => fs.readFileSync(userSettings(), 'utf8').includes(JSON.stringify(issuer)), 30_000);
    await vs.openSidebar('ML Spanner');
    // Back at the provider of the stored session: the session resumes by itself (its refresh
    // token was bound to this provider and kept); a user who signed out would click Sign In.
    const resumed = await vs.waitForTreeItem('Environments', /^Bob Example$/, 20_000).then(() => true, () => false);
    if (!resumed) {
      const idp = await vs.waitForExternalPage(() => vs.clickWelcomeButton('Sign In', 'Environments'));
      const form = idp.locator('input[name="username"]');
      if (await form.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) await completeIdpLogin(idp, 'bob', 'demo');
      await idp.close().catch(() => undefined);
      await vs.page.bringToFront();
      await vs.waitForTreeItem('Environments', /^Bob Example$/, 60_000);
    }
    await vs.page.locator('.notification-toast .codicon-notifications-clear, .notification-toast .codicon-close').first().click().catch(() => undefined);
    await vs.screenshot('77-signed-in-again');
  });

  it('the access-log view filters the denials, newest first, with the verify state on top', async function () {
    await vs.runCommand('ML Spanner: Show Access Log');
    await vs.pickQuickPickItem(/Denials/);
    const text = await waitFor('the access-log view of denials', async () => webviewText(vs.page, /accessDenied|denied/i), 30_000);
    assert.match(text, /intact|verified|chain/i, 'the verify state is shown');
    assert.match(text, /bob/i);
    assert.match(text, /staging/);
    assert.doesNotMatch(text, /credentialIssued/, 'only denials');
    await vs.screenshot('78-access-log-denials');
  });
});
