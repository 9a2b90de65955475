// Acceptance: two windows (browser tabs on one code-server) share one session through VS Code's
// SecretStorage. With a provider that rotates refresh tokens and issues short-lived tokens, both
// stay signed in across several refreshes; signing out in one signs out the other.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, signInFromSidebar, startWithSandbox, waitFor } from './harness';

/** The ML Spanner sidebar of another tab, and whether it shows the signed-in account. */
async function openSidebar(page: Page): Promise<void> {
  const item = page.locator('.part.activitybar li.action-item').filter({ has: page.locator('a.action-label[aria-label^="ML Spanner"]') }).first();
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  if (!(await page.locator('.pane-header[aria-label^="Environments "]').isVisible().catch(() => false))) await item.click();
}
const accountRow = (page: Page) => page.locator('.monaco-list-row', { hasText: 'Alice Example' }).first();
const signInButton = (page: Page) => page.locator('.welcome-view-content .monaco-button').filter({ hasText: /^\s*Sign In\s*$/ }).first();

describe('two windows, one session (packaged extension in VS Code 1.100)', function () {
  this.bail(true);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;
  let second: Page;

  before(async function () {
    // Tokens live 75 s and every refresh rotates the refresh token (the sandbox's default).
    env = await startWithSandbox({ sandbox: { accessTokenTtlSeconds: 75, idTokenTtlSeconds: 75 } });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-windows');
    if (this.currentTest?.state === 'failed' && second) await vs.screenshot('failed-windows-second-tab', second).catch(() => undefined);
  });
  after(async function () {
    await env?.close();
  });

  const logFile = () => path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
  const events = () => (fs.existsSync(logFile()) ? fs.readFileSync(logFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; outcome: string }) : []);

  it('a sign-in in one window shows in the other', async function () {
    second = await vs.context.newPage();
    await second.goto(vs.page.url());
    await second.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await openSidebar(second);
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    await signInFromSidebar(vs, 'alice');
    // The user comes back to the other window.
    await second.bringToFront();
    await second.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
    await accountRow(second).waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('30-second-window-signed-in', second);
  });

  it('both stay signed in across at least three refresh-token rotations', async function () {
    this.timeout(300_000);
    await waitFor('three session refreshes', async () => (events().filter((e) => e.type === 'sessionRefreshed' && e.outcome === 'success').length >= 3 ? true : undefined), 240_000);
    const all = events();
    assert.deepEqual(all.filter((e) => e.type === 'sessionRefreshFailed' || e.type === 'signOut'), [], 'no failed refresh, no sign-out');
    assert.ok(await accountRow(vs.page).isVisible(), 'first window still signed in');
    assert.ok(await accountRow(second).isVisible(), 'second window still signed in');
    assert.ok(verifyLogText(fs.readFileSync(logFile(), 'utf8')).ok, 'two windows, one chain');
  });

  it('a sign-out in one window signs out the other', async function () {
    await vs.page.bringToFront();
    await vs.runCommand('ML Spanner: Sign Out');
    await second.bringToFront();
    await second.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok(!(await accountRow(second).isVisible()));
    await vs.screenshot('31-second-window-signed-out', second);
  });
});
