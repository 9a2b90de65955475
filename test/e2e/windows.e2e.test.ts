// Acceptance: two windows (browser tabs on one code-server) share one session through VS Code's
// SecretStorage: a sign-in or sign-out in one is the other's. (Staying signed in across refresh
// token rotations is proven against the sandbox IdP in test/integration/auth.test.ts and with
// two session managers on one store in test/unit/auth/sessionWindows.test.ts.)
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { verifyLogText } from '../../src/core/audit/AccessLog';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, signInFromSidebar, startWithSandbox } from './harness';

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
    env = await startWithSandbox();
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

  it('a sign-in in one window is the other window\'s session too', async function () {
    second = await vs.context.newPage();
    await second.goto(vs.page.url());
    await second.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await openSidebar(second);
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    await signInFromSidebar(vs, 'alice');
    // code-server's browser-side SecretStorage does not tell other tabs about a write (VS Code
    // desktop does, and the extension follows it); a tab that (re)loads reads the shared store.
    await second.bringToFront();
    await second.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
    const followed = await accountRow(second).waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false);
    if (!followed) {
      await second.reload();
      await second.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await openSidebar(second);
    }
    await accountRow(second).waitFor({ state: 'visible', timeout: 30_000 });
    await vs.screenshot('30-second-window-signed-in', second);
  });

  it('a sign-out in one window is the other window\'s sign-out too', async function () {
    await vs.page.bringToFront();
    await vs.runCommand('ML Spanner: Sign Out');
    await second.bringToFront();
    await second.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
    const followed = await signInButton(second).waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false);
    if (!followed) {
      await second.reload();
      await second.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await openSidebar(second);
    }
    await signInButton(second).waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok(!(await accountRow(second).isVisible()));
    await vs.screenshot('31-second-window-signed-out', second);
    assert.ok(verifyLogText(fs.readFileSync(logFile(), 'utf8')).ok, 'two windows, one chain');
  });
});
