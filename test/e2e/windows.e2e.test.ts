// Acceptance: two windows (two browser tabs on one code-server) keep one session through VS
// Code's SecretStorage while the provider rotates the refresh token on every use and issues
// tokens that live 75 s, so each window refreshes every ~30 s on its own schedule. A sign-in and a
// sign-out in one window show in the other without a reload.
//
// code-server keeps a per-tab copy of the browser-side secret store; VS Code desktop shares one
// store between windows. `sharedSecretStorage` (see the harness) gives the tabs one store, as
// desktop windows have; the extension is the packaged .vsix, unchanged.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, signInFromSidebar, startWithSandbox, waitFor } from './harness';

async function openSidebar(page: Page): Promise<void> {
  const item = page.locator('.part.activitybar li.action-item').filter({ has: page.locator('a.action-label[aria-label^="ML Spanner"]') }).first();
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  if (!(await page.locator('.pane-header[aria-label^="Environments "]').isVisible().catch(() => false))) await item.click();
}
const accountRow = (page: Page) => page.locator('.pane', { has: page.locator('.pane-header[aria-label^="Environments "]') }).locator('.monaco-list-row', { hasText: 'Alice Example' }).first();
const signInButton = (page: Page) => page.locator('.welcome-view-content .monaco-button').filter({ hasText: /^\s*Sign In\s*$/ }).first();

/**
 * Comes back to a tab the way a user does: brings it to the front, clicks into the editor area
 * and opens the ML Spanner sidebar afresh (headless Chromium reports every page as focused, so
 * a window focus change alone may never reach VS Code).
 */
async function focus(page: Page): Promise<void> {
  await page.bringToFront();
  await page.locator('.part.editor').click({ position: { x: 400, y: 300 } });
  const explorer = page.locator('.part.activitybar li.action-item').filter({ has: page.locator('a.action-label[aria-label^="Explorer"]') }).first();
  await explorer.click();
  await page.locator('.pane-header[aria-label^="Environments "]').waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
  await openSidebar(page);
}

interface LogEntry {
  type: string;
  outcome?: string;
}

describe('two windows, one session, rotating refresh tokens (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;
  let second: Page;

  before(async function () {
    env = await startWithSandbox({ sandbox: { accessTokenTtlSeconds: 75, idTokenTtlSeconds: 75 }, sharedSecretStorage: true });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-windows');
  });
  after(async function () {
    await env?.close();
  });

  const logFile = () => path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
  const entries = (): LogEntry[] =>
    fs.existsSync(logFile())
      ? fs
          .readFileSync(logFile(), 'utf8')
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as LogEntry)
      : [];

  it('a sign-in in one window is the other window\'s session, without a reload', async function () {
    second = await vs.context.newPage();
    await second.goto(vs.page.url());
    await second.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await second.locator('.part.statusbar').waitFor({ timeout: 30_000 });
    await openSidebar(second);
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    await signInFromSidebar(vs, 'alice');
    await focus(second);
    await accountRow(second).waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('30-second-window-signed-in', second);
  });

  it('both windows stay signed in while the provider rotates the refresh token at least 3 times', async function () {
    this.timeout(300_000);
    // Each refresh is one use of the refresh token, and the provider rotates it on every use: a
    // window that sent a token the other had already used would get invalid_grant (and the
    // provider would revoke the grant), which shows as sessionRefreshFailed and a signed-out tab.
    await waitFor('three session refreshes in the access log', async () => entries().filter((e) => e.type === 'sessionRefreshed').length >= 3, 240_000, 1000);
    const log = entries();
    assert.deepEqual(log.filter((e) => e.type === 'sessionRefreshFailed'), [], 'no refresh was refused');
    assert.ok(!log.some((e) => e.type === 'signOut'), 'nobody was signed out');
    for (const page of [vs.page, second]) {
      await focus(page);
      await accountRow(page).waitFor({ state: 'visible', timeout: 20_000 });
      assert.ok(!(await signInButton(page).isVisible()), 'no Sign In offered in a signed-in window');
    }
    await vs.screenshot('31-first-window-after-rotations', vs.page);
    await vs.screenshot('32-second-window-after-rotations', second);
  });

  it('a sign-out in one window is the other window\'s sign-out too, without a reload', async function () {
    await focus(vs.page);
    await vs.runCommand('ML Spanner: Sign Out');
    await signInButton(vs.page).waitFor({ state: 'visible', timeout: 30_000 });
    await focus(second);
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok(!(await accountRow(second).isVisible()));
    await vs.screenshot('33-second-window-signed-out', second);
    const text = fs.readFileSync(logFile(), 'utf8');
    assert.ok(verifyLogText(text).ok, 'two windows, one verified chain');
  });
});
