// Acceptance: the access policy is reviewable in the editor. Show Access Matrix renders who gets
// which credential where; Test Access Policy marks a failing expectation on its line in the
// Problems view; a settings edit that widens access is logged as policyChanged and announced
// once, with Review and Revert Setting.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, startWithSandbox, waitFor } from './harness';

/** The second case fails: ml-staging does not reach prod. `prod: granted` is line 10. */
const ACCESS_TESTS = `version: 1

cases:
  - name: ml-dev reaches dev only
    groups: [ml-dev]
    expect: { dev: granted, staging: denied, prod: denied }
  - name: ml-staging may use prod
    groups: [ml-staging]
    expect:
      prod: granted
`;
const FAILING_LINE = 10;

interface LoggedEvent {
  type: string;
  outcome?: string;
  detail?: string;
  source?: string;
  widened?: number;
  narrowed?: number;
}

describe('policy review (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox({
      workspaceFiles: { '.mlspanner/access-tests.yaml': ACCESS_TESTS, '.vscode/settings.json': JSON.stringify({ 'editor.tabSize': 2 }, null, 2) },
    });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-policy-review');
  });
  after(async function () {
    await env?.close();
  });

  const workspaceSettingsFile = () => path.join(vs.folder, '.vscode', 'settings.json');
  const readWorkspaceSettings = () => JSON.parse(fs.readFileSync(workspaceSettingsFile(), 'utf8')) as Record<string, unknown>;
  const logFile = () => path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl');
  const loggedEvents = (): LoggedEvent[] =>
    fs.existsSync(logFile()) ? fs.readFileSync(logFile(), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoggedEvent) : [];
  const policyChanges = () => loggedEvents().filter((e) => e.type === 'policyChanged');

  /**
   * The first command of a fresh window: the extension's contributions reach the command palette
   * a while after the workbench shows (longer on a busy machine), so retry until they have.
   */
  async function runFirstCommand(title: string): Promise<void> {
    await waitFor(`"${title}" in the command palette`, async () => {
      try {
        await vs.runCommand(title);
        return true;
      } catch {
        await vs.page.keyboard.press('Escape');
        return false;
      }
    }, 90_000, 1000);
  }

  /** The Markdown preview (a webview: an iframe holding the active frame). */
  const preview = () => vs.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');

  /** Texts of a Markdown table's row: the table under `heading`, the row whose first cell is `first`. */
  async function tableRow(heading: string, first: string): Promise<string[]> {
    const table = preview().locator(`xpath=//h2[normalize-space()="${heading}"]/following-sibling::table[1]`);
    const row = table.locator('tbody tr').filter({ has: preview().locator('td:first-child', { hasText: new RegExp(`^\\s*${first}\\s*$`) }) });
    await row.first().waitFor({ state: 'visible', timeout: 20_000 });
    return (await row.first().locator('td').allInnerTexts()).map((t) => t.trim());
  }

  it('Show Access Matrix renders every group × environment × credential with the decision and TTL cap', async function () {
    await runFirstCommand('ML Spanner: Show Access Matrix…');
    await vs.pickQuickPickItem(/Every group in the policy/);
    const summary = preview().locator('xpath=//h2[normalize-space()="Summary"]/following-sibling::table[1]');
    await summary.waitFor({ state: 'visible', timeout: 30_000 });
    assert.deepEqual((await summary.locator('thead th').allInnerTexts()).map((t) => t.trim()), ['Who', 'dev', 'staging', 'prod']);
    // Summary: who × environment.
    assert.deepEqual(await tableRow('Summary', 'ml-dev'), ['ml-dev', 'granted', 'denied', 'denied']);
    assert.deepEqual(await tableRow('Summary', 'ml-prod'), ['ml-prod', 'denied', 'denied', 'confirm']);
    assert.deepEqual(await tableRow('Summary', 'any signed-in user'), ['any signed-in user', 'denied', 'denied', 'denied']);
    // Per group: environment × credential with the TTL cap, and why.
    const prodForProd = await tableRow('ml-prod', 'prod');
    assert.deepEqual(prodForProd.slice(0, 4), ['prod', 'confirm · 1 h', 'confirm · 1 h', 'confirm · 1 h']);
    assert.match(prodForProd[4], /you are in ml-prod/);
    const prodForDev = await tableRow('ml-dev', 'prod');
    assert.deepEqual(prodForDev.slice(0, 4), ['prod', 'denied', 'denied', 'denied']);
    assert.match(prodForDev[4], /requires one of groups ml-prod; you have ml-dev/);
    assert.deepEqual((await tableRow('ml-staging', 'staging')).slice(0, 4), ['staging', 'granted · 1 h', 'granted · 1 h', 'granted · 1 h']);
    // The identity mappings name who each credential acts as.
    await preview().locator('td', { hasText: 'ml-prod@ml-sandbox.iam.gserviceaccount.com' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    const toast = await vs.waitForNotification(/Access matrix: 3 environments × 4 group sets/);
    assert.ok(await toast.locator('.monaco-button', { hasText: 'Export as CSV…' }).isVisible());
    await toast.hover();
    await vs.screenshot('50-access-matrix');
  });

  it('Test Access Policy marks the failing expectation on its line in the Problems view', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('View: Close All Editors');
    await vs.runCommand('ML Spanner: Test Access Policy');
    const toast = await vs.waitForNotification(/Access policy tests: 1 of 2 failed/);
    assert.match(await toast.innerText(), /access-tests\.yaml/);
    await vs.clickNotificationButton(/Access policy tests: 1 of 2 failed/, 'Show Problems');
    const problems = vs.page.locator('.markers-panel .monaco-list-row');
    const failing = problems.filter({ hasText: 'prod Databricks: expected granted, got denied' }).first();
    await failing.waitFor({ state: 'visible', timeout: 20_000 });
    const text = await failing.innerText();
    assert.match(text, /ml-staging may use prod: prod Databricks: expected granted, got denied \(requires one of groups ml-prod; you have ml-staging\)/);
    assert.match(text, new RegExp(`\\[Ln ${FAILING_LINE}, Col \\d+\\]`), text);
    // One diagnostic per credential the environment configures, all on that line; nothing on the passing case.
    const all = await problems.allInnerTexts();
    const diagnostics = all.filter((t) => /expected /.test(t));
    assert.equal(diagnostics.length, 3, all.join('\n'));
    for (const d of diagnostics) assert.match(d, new RegExp(`\\[Ln ${FAILING_LINE}, Col \\d+\\]`), d);
    assert.ok(!all.some((t) => /ml-dev reaches dev only/.test(t)), all.join('\n'));
    // Opening the problem shows the line in the test file.
    await failing.click();
    await vs.page.locator('.tab.active', { hasText: 'access-tests.yaml' }).waitFor({ state: 'visible', timeout: 20_000 });
    await vs.page.locator('.editor-group-container.active .squiggly-error').first().waitFor({ state: 'visible', timeout: 10_000 });
    const cursor = await waitFor('the cursor on the failing line', async () => {
      const t = await vs.page.locator('.part.statusbar #status\\.editor\\.selection').innerText({ timeout: 2_000 });
      return new RegExp(`^Ln ${FAILING_LINE},`).test(t) ? t : undefined;
    }, 10_000);
    assert.match(cursor, /selected/, 'the problem\'s range is selected');
    await vs.screenshot('51-policy-test-diagnostic');
  });

  it('a settings edit that lets ml-dev reach prod is logged with its diff and announced once', async function () {
    await vs.runCommand('Notifications: Clear All Notifications');
    await vs.runCommand('View: Close All Editors');
    const before = policyChanges().length;
    // The repository's settings change on disk, as a git pull would bring it: prod also admits
    // ml-dev. VS Code merges the workspace's object into the user's (the sandbox's environments).
    const settings = readWorkspaceSettings();
    settings['mlspanner.environments'] = { prod: { requiredGroups: ['ml-prod', 'ml-dev'] } };
    fs.writeFileSync(workspaceSettingsFile(), JSON.stringify(settings, null, 2));

    const toast = await vs.waitForNotification(/Access widened: ml-dev now reaches prod/, 30_000);
    const message = await toast.locator('.notification-list-item-message').innerText();
    assert.match(message, /^Access widened: ml-dev now reaches prod Databricks, Google \(ML Spanner\), AWS \(after a confirmation\)\.$/);
    for (const button of ['Review', 'Revert Setting']) assert.ok(await toast.locator('.monaco-button', { hasText: button }).isVisible(), button);

    const logged = await waitFor('a policyChanged entry', async () => (policyChanges().length > before ? policyChanges().at(-1) : undefined), 10_000);
    assert.equal(logged.outcome, 'success');
    assert.equal(logged.source, 'settings (Workspace)');
    // One decision per credential prod configures (Databricks, Google, AWS), summed up in one line.
    assert.equal(logged.widened, 3);
    assert.equal(logged.narrowed, 0);
    assert.match(logged.detail ?? '', /^widened: ml-dev now reaches prod Databricks, Google \(ML Spanner\), AWS \(after a confirmation\)$/m);
    // The policy tests run again by themselves: the first case now fails on its line.
    const rerun = vs.page.locator('.markers-panel .monaco-list-row', { hasText: 'ml-dev reaches dev only: prod Databricks: expected denied, got confirm' }).first();
    await rerun.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match(await rerun.innerText(), /\[Ln 6, Col \d+\]/);
    // The empty editor area takes the focus from the Problems row (and its tooltip) for the picture.
    await vs.page.locator('.part.editor .editor-group-watermark, .part.editor .editor-group-container').first().click({ position: { x: 20, y: 20 } });
    await vs.page.locator('.monaco-hover, .workbench-hover', { hasText: 'ml-dev reaches dev only' }).waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    await toast.hover();
    await vs.screenshot('52-widened-access');

    // Once: the same policy, compared again after its quiet period, adds no entry and no toast.
    await vs.page.waitForTimeout(2000);
    assert.equal(policyChanges().length, before + 1, JSON.stringify(policyChanges()));
    assert.equal(await vs.page.locator('.notification-toast', { hasText: 'Access widened' }).count(), 1);
  });

  it('Revert Setting puts the workspace setting back after a confirmation; the narrowing is logged, not announced', async function () {
    const before = policyChanges().length;
    await vs.clickNotificationButton(/Access widened: ml-dev now reaches prod/, 'Revert Setting');
    const dialog = vs.page.locator('.monaco-dialog-box', { hasText: 'Restore mlspanner.environments in Workspace settings' });
    await dialog.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match(await dialog.innerText(), /ml-dev now reaches prod/);
    await vs.clickNotificationButton(/Restore mlspanner\.environments in Workspace settings/, 'Restore');
    // It had no value there before: the setting leaves the file, the rest of the file stays.
    const restored = await waitFor('the workspace settings file without the widening', async () => {
      try {
        const now = readWorkspaceSettings();
        return 'mlspanner.environments' in now ? undefined : now;
      } catch {
        return undefined; // mid-write
      }
    }, 20_000);
    assert.deepEqual(restored, { 'editor.tabSize': 2 });
    const logged = await waitFor('the narrowing in the access log', async () => (policyChanges().length > before ? policyChanges().at(-1) : undefined), 10_000);
    assert.equal(logged.widened, 0);
    assert.equal(logged.narrowed, 3);
    assert.match(logged.detail ?? '', /^narrowed: ml-dev no longer reaches prod/m);
    assert.equal(await vs.page.locator('.notification-toast', { hasText: 'Access widened' }).count(), 0);
    await vs.page.locator('.markers-panel .monaco-list-row', { hasText: 'ml-dev reaches dev only' }).first().waitFor({ state: 'detached', timeout: 20_000 });
  });
});
