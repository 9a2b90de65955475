// Acceptance: sign-in by device code (RFC 8628), as in a remote or web window whose browser
// cannot reach this machine. The code shows in the sidebar with Copy Code / Open Sign-In Page /
// Cancel as rows of the view; it is typed in a separate browser (another browser context: another device, as far as
// the provider can tell); approval signs in, a refusal and Cancel end cleanly, and nothing that
// shows the code outlives its attempt.
import * as assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, startWithSandbox, waitFor } from './harness';

describe('sign-in by device code (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;
  let phone: BrowserContext;
  let phonePage: Page | undefined;

  before(async function () {
    env = await startWithSandbox({ settings: { 'mlspanner.idp.flow': 'deviceCode' } });
    vs = env.vs;
    phone = await vs.browser.newContext({ viewport: { width: 420, height: 800 } });
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-device-code');
    if (this.currentTest?.state === 'failed' && phonePage) await vs.screenshot('failed-device-code-phone', phonePage).catch(() => undefined);
  });
  after(async function () {
    await phone?.close().catch(() => undefined);
    await env?.close();
  });

  const codeToasts = () => vs.page.locator('.notification-toast').filter({ hasText: /enter the code/ });

  /** Clicks Sign In and returns the code and the page to type it at, as the sidebar and the progress notification show them. */
  async function startDeviceSignIn(): Promise<{ code: string; verificationUri: string }> {
    await vs.openSidebar('ML Spanner');
    await vs.clickWelcomeButton('Sign In', 'Environments');
    // The view shows the code and its actions as rows (a welcome view cannot show a value).
    const code = await waitFor('the code in the Environments view', async () => (await vs.treeRows('Environments')).find((r) => /your sign-in code/.test(r.description))?.label, 30_000);
    const labels = await vs.treeItems('Environments');
    for (const action of ['Open Sign-In Page', 'Copy Code', 'Cancel Sign-In']) assert.ok(labels.includes(action), `${action} in ${labels.join(', ')}`);
    const toast = await vs.waitForNotification(/enter the code/);
    const text = (await toast.innerText()).replace(/\s+/g, ' ');
    assert.ok(text.includes(code), `the notification shows the same code: ${text}`);
    const verificationUri = /at (http\S+?)(?=[\s(])/.exec(text)?.[1];
    assert.ok(verificationUri, text);
    return { code, verificationUri };
  }

  /** On the other device: opens the provider's page, types the code, signs in if asked, and answers. */
  async function onOtherDevice(verificationUri: string, code: string, answer: 'Continue' | 'Cancel'): Promise<void> {
    phonePage = await phone.newPage();
    await phonePage.goto(verificationUri);
    const input = phonePage.locator('input[name="user_code"]');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill(code);
    await phonePage.getByRole('button', { name: 'Continue' }).click();
    // oidc-provider asks to confirm the device first, then for a login when there is no session.
    const page = phonePage;
    const username = page.locator('input[name="username"]');
    const confirm = page.locator('button[form="op.deviceConfirmForm"]', { hasText: answer });
    let answered = false;
    await waitFor(
      'the provider to finish the device sign-in',
      async () => {
        if (!answered && (await confirm.isVisible())) {
          await vs.screenshot(answer === 'Continue' ? '81-device-code-other-device' : '83-device-code-refused-other-device', page);
          await confirm.click();
          answered = true;
          return undefined;
        }
        if (await username.isVisible()) {
          await username.fill('bob');
          await page.locator('input[name="password"]').fill('demo');
          await page.getByRole('button', { name: 'Sign in' }).click();
          return undefined;
        }
        // Approved: "Signed in"; refused: the provider's own page for an aborted interaction.
        const title = await page.title();
        return answered && !(await confirm.isVisible()) ? title || 'done' : undefined;
      },
      60_000,
      500,
    );
    await phonePage.waitForLoadState('domcontentloaded');
  }

  it('shows the code in the sidebar with Copy Code and Cancel; approving it on another device signs in', async function () {
    const { code, verificationUri } = await startDeviceSignIn();
    await vs.screenshot('80-device-code-sidebar');
    await onOtherDevice(verificationUri, code, 'Continue');
    await vs.page.bringToFront();
    await vs.waitForTreeItem('Environments', /^Bob Example$/, 30_000);
    await codeToasts().first().waitFor({ state: 'hidden', timeout: 10_000 });
    assert.match(vs.outputChannel(), /device code/i, 'the log says which flow was chosen');
    await phonePage?.close();
  });

  it('a refusal on the other device ends the sign-in with what happened, and no code is left on screen', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
    const { code, verificationUri } = await startDeviceSignIn();
    await onOtherDevice(verificationUri, code, 'Cancel');
    await vs.page.bringToFront();
    const toast = await vs.waitForNotification(/declined|denied|refused/i, 30_000);
    const text = (await toast.innerText()).replace(/\s+/g, ' ');
    assert.doesNotMatch(text, /administrator/, `the user's own refusal is not blamed on policy: ${text}`);
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
    await codeToasts().first().waitFor({ state: 'hidden', timeout: 10_000 });
    assert.ok(!(await vs.view('Environments').innerText()).includes(code), 'the dead code is gone from the view');
    await vs.screenshot('82-device-code-refused');
    await phonePage?.close();
  });

  it('Cancel in the sidebar ends the attempt and takes the code away', async function () {
    await vs.page.locator('.notification-toast .codicon-notifications-clear, .notification-toast .codicon-close').first().click().catch(() => undefined);
    const { code } = await startDeviceSignIn();
    await vs.treeItem('Environments', 'Cancel Sign-In').click();
    await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments', timeoutMs: 10_000 });
    await codeToasts().first().waitFor({ state: 'hidden', timeout: 10_000 });
    assert.ok(!(await vs.view('Environments').innerText()).includes(code));
    await vs.screenshot('84-device-code-cancelled');
  });
});
