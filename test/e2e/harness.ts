// Drives the packaged extension in real VS Code: code-server 4.100.3 (VS Code 1.100.3) with the
// workbench in headless Debian Chromium, offline. Recipe: /work/shared/E2E.md.
//
// DOM facts of the 1.100 workbench this relies on (checked against screenshots and DOM dumps):
// - Activity bar entries are `.part.activitybar li.action-item` (aria-expanded="true" when open)
//   holding `a.action-label[aria-label^="<title>"]`; the title may be followed by a keybinding,
//   e.g. "Explorer (Ctrl+Shift+E)". The `li`'s own aria-label is empty.
// - A view's pane is the `.pane` that contains `.pane-header[aria-label^="<name> Section"]`;
//   its welcome content is `.welcome-view-content`, links rendered as `a.monaco-button`.
// - Tree rows are `.monaco-list-row` (aria-level, aria-expanded) with the label in `.label-name`,
//   the description in `.label-description` and the full
//   accessible text in `aria-label`.
// - A status bar item contributed with `createStatusBarItem(id)` is the element with
//   `id="<publisher>.<name>.<id>"`, e.g. `#mlspanner\.mlspanner\.mlspanner\.expiry`; its visible
//   text (codicons removed) is the `.statusbar-item-label` text, the aria-label carries it too.
// - Notifications are `.notification-toast` (visible toasts) with `.notification-list-item-message`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index';
import {
  escapeRegExp,
  findCodeServer,
  freePort,
  installExtension,
  quietSettings,
  readExtensionHostLogs,
  readOutputChannel,
  repoRoot,
  startCodeServer,
  waitFor,
  type CodeServerProcess,
} from '../../scripts/codeServer';

export { escapeRegExp, freePort, repoRoot, waitFor } from '../../scripts/codeServer';
export const CHROMIUM_PATH = process.env.MLSPANNER_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface VsCodeOptions {
  /** User settings, merged over the quiet defaults below. */
  settings: Record<string, unknown>;
  /** Files of the opened workspace folder, relative path → content. */
  workspaceFiles?: Record<string, string>;
  /** The packaged extension to install. */
  vsix: string;
  /** More extensions to install next to it (e.g. a test-only probe). */
  extraVsix?: string[];
  /** Origins opened by the extension without VS Code's "open external website" prompt. */
  trustedDomains?: string[];
  /** Where screenshots and logs go; default `<repo>/test-results`. */
  resultsDir?: string;
  /** Window size of the browser page. */
  viewport?: { width: number; height: number };
  /**
   * Make every tab of this browser share one SecretStorage, as VS Code desktop does for its
   * windows. See `shareSecretStorageAcrossTabs`.
   */
  sharedSecretStorage?: boolean;
}

/**
 * code-server 4.100.3 gives the web workbench a `LocalStorageSecretStorageProvider` that reads
 * `localStorage` once when the tab loads and then serves every `get` from that tab's own copy;
 * each write seals the tab's whole copy back into `localStorage`. Two tabs therefore never see
 * each other's writes (and the last writer wins on reload). VS Code desktop keeps one store for
 * all windows. This patch of the served workbench makes the provider re-read `localStorage` on
 * every call, one call at a time per tab, so two tabs share one store as desktop windows do;
 * nothing of the extension or of VS Code's extension API changes. It fails loudly when the
 * workbench does not contain the expected code (another code-server version).
 */
export const SECRET_PROVIDER_ORIGINAL =
  'async get(i){return(await this.b)[i]}async set(i,e){const t=await this.b;t[i]=e,this.b=Promise.resolve(t),this.g()}async delete(i){const e=await this.b;delete e[i],this.b=Promise.resolve(e),this.g()}';
const SECRET_PROVIDER_SHARED =
  '_x(f){const r=(this._q||Promise.resolve()).then(f,f);this._q=r.catch(()=>{});return r}' +
  'async get(i){return this._x(async()=>{this.b=this.d();return(await this.b)[i]})}' +
  'async set(i,e){return this._x(async()=>{this.b=this.d();const t=await this.b;t[i]=e;this.b=Promise.resolve(t);await this.g()})}' +
  'async delete(i){return this._x(async()=>{this.b=this.d();const e=await this.b;delete e[i];this.b=Promise.resolve(e);await this.g()})}';

async function shareSecretStorageAcrossTabs(context: BrowserContext): Promise<void> {
  await context.route(/\/vs\/code\/browser\/workbench\/workbench\.js(\?.*)?$/, async (route) => {
    const response = await route.fetch();
    const body = await response.text();
    const at = body.indexOf(SECRET_PROVIDER_ORIGINAL);
    if (at < 0 || body.indexOf(SECRET_PROVIDER_ORIGINAL, at + 1) >= 0) {
      throw new Error('sharedSecretStorage: the workbench does not contain the secret storage provider this patch expects (code-server 4.100.3)');
    }
    await route.fulfill({ response, body: body.replace(SECRET_PROVIDER_ORIGINAL, SECRET_PROVIDER_SHARED) });
  });
}

export interface TreeRow {
  label: string;
  description: string;
  ariaLabel: string;
  /** 1 for top-level rows. */
  level: number;
  /** undefined for leaves. */
  expanded?: boolean;
}

export interface VsCodeSession {
  page: Page;
  context: BrowserContext;
  browser: Browser;
  baseUrl: string;
  folder: string;
  userDataDir: string;
  resultsDir: string;
  /** Writes `<resultsDir>/<name>.png` of the workbench (or of `page`), returns its path. */
  screenshot(name: string, page?: Page): Promise<string>;
  /** code-server output plus every extension host log, including the "ML Spanner" channel. */
  logs(): string;
  /** Text of one output channel of the extension host (default "ML Spanner"). */
  outputChannel(name?: string): string;
  /** Clicks the activity bar entry whose aria-label starts with `title`. */
  openSidebar(title?: string): Promise<void>;
  /** The pane of a view, found by its header title (e.g. "Environments"). */
  view(name: string): Locator;
  /** Clicks a button of a welcome view (first visible one with that label, or within `viewName`). */
  clickWelcomeButton(label: string, viewName?: string): Promise<void>;
  /** Waits until a welcome button with that label is visible (or gone, when `visible` is false). */
  waitForWelcomeButton(label: string, opts?: { viewName?: string; visible?: boolean; timeoutMs?: number }): Promise<void>;
  /** Runs a command by its palette title, e.g. "ML Spanner: Sign Out". */
  runCommand(title: string): Promise<void>;
  /** The status bar item contributed under `id`, e.g. "mlspanner.expiry". */
  statusBarItem(id: string, extensionId?: string): Locator;
  /** Its visible text, codicons removed (e.g. "staging 14:59"). */
  readStatusBar(id: string, extensionId?: string): Promise<string>;
  /** Waits for a status bar text that matches `re`, returns it. */
  waitForStatusBar(id: string, re: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for a notification toast containing `text`, returns its locator. */
  waitForNotification(text: string | RegExp, timeoutMs?: number): Promise<Locator>;
  /** Labels of the visible rows of a view's tree, top to bottom. */
  treeItems(viewName: string): Promise<string[]>;
  /** The visible rows of a view's tree with description, accessible text and nesting. */
  treeRows(viewName: string): Promise<TreeRow[]>;
  /** The row of a view's tree whose label matches. */
  treeItem(viewName: string, label: string | RegExp): Locator;
  /** Expands a collapsed tree row (no-op when already expanded or a leaf). */
  expandTreeItem(viewName: string, label: string | RegExp): Promise<void>;
  /** Right-clicks a tree row and chooses a context menu entry by its title. */
  treeItemContextMenu(viewName: string, label: string | RegExp, entry: string): Promise<void>;
  /** Chooses an entry of the open quick pick by its label (waits for the quick pick). */
  pickQuickPickItem(label: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Types into the open input box (quick input without a list) and accepts with Enter. */
  fillInputBox(text: string, timeoutMs?: number): Promise<void>;
  /** Clicks a button of a visible notification toast or modal dialog. */
  clickNotificationButton(toastText: string | RegExp, button: string): Promise<void>;
  /** Waits until the view's tree shows a row whose label matches, returns all labels. */
  waitForTreeItem(viewName: string, label: string | RegExp, timeoutMs?: number): Promise<string[]>;
  /**
   * Runs `trigger` (e.g. a click that makes the extension call `openExternal`) and returns the
   * browser tab that opens, confirming VS Code's "open external website" or "popup blocked"
   * dialog if one shows up.
   */
  waitForExternalPage(trigger: () => Promise<void>, timeoutMs?: number): Promise<Page>;
  /** Stops browser and code-server (whole process group), saves logs, removes temp dirs. */
  close(): Promise<void>;
}

function escapeCss(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, (c) => `\\${c}`);
}

export async function startVsCode(opts: VsCodeOptions): Promise<VsCodeSession> {
  const resultsDir = opts.resultsDir ?? path.join(repoRoot, 'test-results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const codeServer = findCodeServer();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlspanner-e2e-'));
  const userDataDir = path.join(tmp, 'user-data');
  const extensionsDir = path.join(tmp, 'extensions');
  const folder = path.join(tmp, 'workspace');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(folder, { recursive: true });
  for (const [rel, content] of Object.entries(opts.workspaceFiles ?? {})) {
    const file = path.join(folder, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...quietSettings, ...opts.settings }, null, 2),
  );
  const logFile = path.join(resultsDir, 'code-server.log');
  let server: CodeServerProcess | undefined;
  let browser: Browser | undefined;
  let closed = false;

  const logs = (): string => {
    const serverLog = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    return `===== code-server output\n${serverLog}\n${readExtensionHostLogs(userDataDir)}`;
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await browser?.close().catch(() => undefined);
    await server?.stop();
    try {
      fs.writeFileSync(path.join(resultsDir, 'vscode-logs.txt'), logs());
    } catch {
      // Logs are a debugging aid; never mask the test's own outcome.
    }
    if (!process.env.MLSPANNER_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  };

  try {
    installExtension(codeServer, path.resolve(opts.vsix), extensionsDir, userDataDir);
    for (const extra of opts.extraVsix ?? []) installExtension(codeServer, path.resolve(extra), extensionsDir, userDataDir);
    server = await startCodeServer({
      codeServer,
      port: await freePort(),
      userDataDir,
      extensionsDir,
      configFile: path.join(tmp, 'config.yaml'),
      folder,
      logFile,
      trustedDomains: opts.trustedDomains,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1400, height: 900 } });
    if (opts.sharedSecretStorage) await shareSecretStorageAcrossTabs(context);
    const page = await context.newPage();
    await page.goto(`${server.baseUrl}/?folder=${encodeURIComponent(folder)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The status bar is among the last parts to render; once it is there the layout is settled.
    await page.locator('.part.statusbar').waitFor({ timeout: 30_000 });
    return makeSession({ page, context, browser, baseUrl: server.baseUrl, folder, userDataDir, resultsDir, logs, close });
  } catch (err) {
    await close();
    throw err;
  }
}

function makeSession(
  base: Pick<VsCodeSession, 'page' | 'context' | 'browser' | 'baseUrl' | 'folder' | 'userDataDir' | 'resultsDir' | 'logs' | 'close'>,
): VsCodeSession {
  const { page, context } = base;

  const view = (name: string): Locator =>
    page.locator('.pane').filter({ has: page.locator(`.pane-header[aria-label^="${name} "]`) });

  const welcomeButton = (label: string, viewName?: string): Locator =>
    (viewName ? view(viewName) : page.locator('.part.sidebar'))
      .locator('.welcome-view-content a.monaco-button, .welcome-view-content .monaco-button')
      .filter({ hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) })
      .first();

  const statusBarItem = (id: string, extensionId = 'mlspanner.mlspanner'): Locator =>
    page.locator(`.part.statusbar #${escapeCss(`${extensionId}.${id}`)}`);

  const readStatusBar = async (id: string, extensionId?: string): Promise<string> =>
    ((await statusBarItem(id, extensionId).locator('.statusbar-item-label').textContent({ timeout: 10_000 })) ?? '').trim();

  const treeRows = async (viewName: string): Promise<TreeRow[]> =>
    view(viewName).locator('.monaco-list-row').evaluateAll((rows) =>
      rows
        .map((row) => {
          // No nested function declarations here: tsx would wrap them in a `__name` helper
          // that does not exist in the page.
          const expanded = row.getAttribute('aria-expanded');
          return {
            label: row.querySelector('.label-name')?.textContent?.trim() ?? '',
            description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
            ariaLabel: row.getAttribute('aria-label') ?? '',
            level: Number(row.getAttribute('aria-level') ?? '1'),
            expanded: expanded === null ? undefined : expanded === 'true',
            top: row.getBoundingClientRect().top,
          };
        })
        // The list virtualises and reorders DOM nodes; screen order is the tree order.
        .sort((a, b) => a.top - b.top)
        .map(({ top: _top, ...row }) => row),
    );

  const treeItems = async (viewName: string): Promise<string[]> => (await treeRows(viewName)).map((r) => r.label);

  const treeItem = (viewName: string, label: string | RegExp): Locator =>
    view(viewName)
      .locator('.monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: typeof label === 'string' ? new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) : label }) })
      .first();

  const quickInput = page.locator('.quick-input-widget');
  const session: VsCodeSession = {
    ...base,
    outputChannel: (name = 'ML Spanner') => readOutputChannel(base.userDataDir, name),
    async screenshot(name, target = page) {
      const file = path.join(base.resultsDir, `${name}.png`);
      await target.screenshot({ path: file });
      return file;
    },
    async openSidebar(title = 'ML Spanner') {
      const item = page.locator('.part.activitybar li.action-item')
        .filter({ has: page.locator(`a.action-label[aria-label^="${title}"]`) })
        .first();
      await item.waitFor({ timeout: 30_000 });
      // Clicking the container that is already open would close the sidebar.
      if ((await item.getAttribute('aria-expanded')) !== 'true') await item.click();
      await page.locator('.part.sidebar').waitFor({ state: 'visible', timeout: 10_000 });
    },
    view,
    async clickWelcomeButton(label, viewName) {
      const button = welcomeButton(label, viewName);
      await button.waitFor({ state: 'visible', timeout: 30_000 });
      await button.click();
    },
    async waitForWelcomeButton(label, o = {}) {
      await welcomeButton(label, o.viewName).waitFor({
        state: o.visible === false ? 'hidden' : 'visible',
        timeout: o.timeoutMs ?? 30_000,
      });
    },
    async runCommand(title) {
      // Focus the workbench first: F1 in a focused webview or external page would go elsewhere.
      await page.bringToFront();
      const input = page.locator('.quick-input-widget input.input');
      // The list re-renders while it filters; accept the focused match with Enter rather than
      // clicking a row that may be replaced under the pointer.
      const focused = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused').filter({ hasText: title });
      // A notification that closes hands focus back to the editor, which closes a palette that
      // was just opened: open it again (at most three times) rather than typing into nothing.
      for (let attempt = 1; attempt <= 3; attempt++) {
        await page.keyboard.press(attempt === 2 ? 'Control+Shift+P' : 'F1');
        if (!(await input.waitFor({ state: 'visible', timeout: 3_000 }).then(() => true, () => false))) continue;
        if (!(await input.fill(`>${title}`, { timeout: 2_000 }).then(() => true, () => false))) continue;
        if (!(await focused.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false))) continue;
        await input.press('Enter');
        await focused.waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
        return;
      }
      throw new Error(`could not run "${title}" from the command palette`);
    },
    statusBarItem,
    readStatusBar,
    async waitForStatusBar(id, re, timeoutMs = 30_000) {
      return waitFor(`status bar ${id} to match ${re}`, async () => {
        const text = await readStatusBar(id).catch(() => '');
        return re.test(text) ? text : undefined;
      }, timeoutMs);
    },
    async waitForNotification(text, timeoutMs = 30_000) {
      const toast = page.locator('.notification-toast').filter({ hasText: text }).first();
      await toast.waitFor({ state: 'visible', timeout: timeoutMs });
      return toast;
    },
    treeItems,
    treeRows,
    treeItem,
    async expandTreeItem(viewName, label) {
      const row = treeItem(viewName, label);
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      if ((await row.getAttribute('aria-expanded')) === 'false') {
        await row.locator('.monaco-tl-twistie').click();
        await waitFor(`${String(label)} to expand`, async () => (await row.getAttribute('aria-expanded')) === 'true', 10_000);
      }
    },
    async treeItemContextMenu(viewName, label, entry) {
      const row = treeItem(viewName, label);
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click({ button: 'right' });
      const item = page.locator('.context-view .monaco-menu .action-item a.action-menu-item', { hasText: entry }).first();
      await item.waitFor({ state: 'visible', timeout: 10_000 });
      await item.click();
    },
    async pickQuickPickItem(label, timeoutMs = 30_000) {
      const row = quickInput
        .locator('.quick-input-list .monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: label }) })
        .first();
      await row.waitFor({ state: 'visible', timeout: timeoutMs });
      await row.click();
    },
    async fillInputBox(text, timeoutMs = 30_000) {
      const input = quickInput.locator('input.input');
      // An input box reuses the quick pick's widget: wait until the previous pick's list has
      // gone, or the text lands in the closing pick.
      await waitFor('an input box (a quick input without a list)', async () => {
        if (!(await input.isVisible())) return undefined;
        const rows = await quickInput.locator('.quick-input-list .monaco-list-row').filter({ visible: true }).count();
        return rows === 0 ? true : undefined;
      }, timeoutMs);
      await input.fill(text);
      await input.press('Enter');
    },
    async clickNotificationButton(toastText, button) {
      const container = page
        .locator('.notification-toast, .monaco-dialog-box')
        .filter({ hasText: toastText })
        .first();
      await container.waitFor({ state: 'visible', timeout: 30_000 });
      await container.locator('a.monaco-button', { hasText: new RegExp(`^\\s*${escapeRegExp(button)}\\s*$`) }).first().click();
    },
    async waitForTreeItem(viewName, label, timeoutMs = 30_000) {
      return waitFor(`"${String(label)}" in the ${viewName} view`, async () => {
        const labels = await treeItems(viewName);
        return labels.some((l) => (typeof label === 'string' ? l === label : label.test(l))) ? labels : undefined;
      }, timeoutMs);
    },
    async waitForExternalPage(trigger, timeoutMs = 30_000) {
      const opened = context.waitForEvent('page', { timeout: timeoutMs });
      await trigger();
      // "Do you want code-server to open the external website?" (untrusted domain) or
      // "The browser blocked opening a new tab" (no user gesture left): both offer "Open".
      const confirm = page.locator('.monaco-dialog-box .dialog-buttons a.monaco-button', { hasText: /^Open$/ });
      let done = false;
      const confirming = (async () => {
        while (!done) {
          if (await confirm.isVisible().catch(() => false)) await confirm.click().catch(() => undefined);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      try {
        const external = await opened;
        await external.waitForLoadState('domcontentloaded');
        return external;
      } finally {
        done = true;
        await confirming;
      }
    },
  };
  return session;
}

/** Signs in on the sandbox IdP's login page and waits for the loopback callback page. */
export async function completeIdpLogin(page: Page, username: string, password: string, timeoutMs = 30_000): Promise<void> {
  await page.locator('input[name="username"]').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Some IdPs ask for consent after the password; accept it when it shows up.
  const consent = page.getByRole('button', { name: /^(Continue|Allow|Authorize|Yes)$/ });
  await waitFor(
    `the loopback callback page (now at ${page.url()})`,
    async () => {
      if (/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(page.url())) return true;
      if (await consent.isVisible().catch(() => false)) await consent.click().catch(() => undefined);
      return false;
    },
    timeoutMs,
  );
  await page.waitForLoadState('domcontentloaded');
}

/**
 * Signs in from the sidebar's welcome button as a sandbox user, through the IdP's login page,
 * and waits until the Environments view shows the account (`Alice Example` for `alice`).
 */
export async function signInFromSidebar(vs: VsCodeSession, username: string, password = 'demo'): Promise<void> {
  await vs.openSidebar('ML Spanner');
  await vs.waitForWelcomeButton('Sign In', { viewName: 'Environments' });
  const idp = await vs.waitForExternalPage(() => vs.clickWelcomeButton('Sign In', 'Environments'));
  await completeIdpLogin(idp, username, password);
  await waitFor('the callback page', async () => (/signed in/i.test(await idp.locator('body').innerText()) ? true : undefined), 15_000);
  await idp.close();
  await vs.page.bringToFront();
  await vs.waitForTreeItem('Environments', new RegExp(`^${username[0].toUpperCase()}${username.slice(1)} Example$`));
}

/** The packaged extension under test (`npm run test:e2e` builds it first). */
export const VSIX = process.env.MLSPANNER_VSIX ?? path.join(repoRoot, 'dist', 'mlspanner.vsix');

export interface SandboxedVsCode {
  sandbox: Sandbox;
  vs: VsCodeSession;
  close(): Promise<void>;
}

/**
 * The sandbox (IdP on 127.0.0.2 and every emulator, on free ports) and VS Code with the
 * packaged extension pointed at it. `mlspanner.idp.flow` stays `auto`: a code-server reached on
 * 127.0.0.1 means the browser runs on this machine, so the loopback redirect is chosen.
 */
export async function startWithSandbox(
  opts: {
    workspaceFiles?: Record<string, string>;
    extraVsix?: string[];
    /** User settings, or a function of the started sandbox that returns them. */
    settings?: Record<string, unknown> | ((sandbox: Sandbox) => Record<string, unknown>);
    sandbox?: Omit<SandboxOptions, 'quiet'>;
    sharedSecretStorage?: boolean;
  } = {},
): Promise<SandboxedVsCode> {
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run \`npm run package\` first (npm run test:e2e does)`);
  const sandbox = await startSandbox({ ...opts.sandbox, quiet: true });
  try {
    const vs = await startVsCode({
      vsix: VSIX,
      settings: {
        'mlspanner.idp.issuer': sandbox.issuer,
        'mlspanner.idp.clientId': sandbox.clientId,
        'mlspanner.environments': sandbox.environments,
        ...(typeof opts.settings === 'function' ? opts.settings(sandbox) : opts.settings),
      },
      // The IdP origin opens without the "open external website?" prompt, as an admin would set it.
      trustedDomains: [new URL(sandbox.issuer).origin],
      workspaceFiles: opts.workspaceFiles,
      extraVsix: opts.extraVsix,
      sharedSecretStorage: opts.sharedSecretStorage,
    });
    return { sandbox, vs, close: async () => (await vs.close(), await sandbox.close()) };
  } catch (e) {
    await sandbox.close();
    throw e;
  }
}

/** The text of whichever webview frame (a Markdown preview, say) contains `needle`; the workbench's own frame is not searched. */
export async function webviewText(page: Page, needle: string | RegExp): Promise<string | undefined> {
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const text = await frame
      .locator('body')
      .innerText({ timeout: 1000 })
      .catch(() => '');
    if (typeof needle === 'string' ? text.includes(needle) : needle.test(text)) return text;
  }
  return undefined;
}

/**
 * The tests of one file build on each other (signed in, then a run, then its log): after the
 * first failure the rest of the file is skipped and reported as pending, and the other files
 * still run. (Mocha's `bail` on a suite ends the whole run.)
 */
export function stepsInOrder(suite: Mocha.Suite): void {
  let failed: string | undefined;
  suite.beforeEach(function () {
    if (failed) this.skip();
  });
  suite.afterEach(function () {
    if (this.currentTest?.state === 'failed') failed ??= this.currentTest.title;
  });
}

/** After a failed step: a screenshot of every tab and the extension's output channel. */
export async function recordFailure(vs: VsCodeSession | undefined, test: Mocha.Test | undefined, prefix: string): Promise<void> {
  if (test?.state !== 'failed' || !vs) return;
  const name = `${prefix}-${test.title.replace(/\W+/g, '-')}`;
  for (const [i, page] of vs.context.pages().entries()) await vs.screenshot(i === 0 ? name : `${name}-tab${i}`, page).catch(() => undefined);
  console.log(`\n--- "ML Spanner" output channel\n${vs.outputChannel()}\n--- all logs: test-results/vscode-logs.txt`);
}
