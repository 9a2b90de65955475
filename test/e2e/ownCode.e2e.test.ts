// Acceptance: "Use Environment for This Workspace" gives a new terminal the environment's
// credentials through the local credential endpoints: the real AWS CLI, a Node script with the
// real google-auth-library and one that speaks the Databricks SDKs' metadata-service protocol,
// run in that terminal, act as staging; the access log shows the fetches; after sign-out the
// same commands fail and say why. A hard-coded Databricks token in a notebook cell is flagged
// and the quick fix hands the cell to the environment's credentials.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, stepsInOrder, repoRoot, signInFromSidebar, startWithSandbox, waitFor } from './harness';

/**
 * Your own code, as a data scientist writes it: Application Default Credentials through the real
 * google-auth-library (the repository's copy, by absolute path), then Cloud Spanner REST. No
 * ML Spanner code and no token in sight; the Spanner endpoint is the first argument.
 */
const SPANNER_SCRIPT = `const { GoogleAuth } = require(${JSON.stringify(path.join(repoRoot, 'node_modules', 'google-auth-library'))});

async function main() {
  const spanner = process.argv[2].replace(/[/]+$/, '');
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/spanner.data'] });
  const client = await auth.getClient();
  await client.getAccessToken();
  const database = \`projects/\${await auth.getProjectId()}/instances/ml/databases/features\`;
  const session = await client.request({ url: \`\${spanner}/v1/\${database}/sessions\`, method: 'POST', data: {} });
  const result = await client.request({ url: \`\${spanner}/v1/\${session.data.name}:executeSql\`, method: 'POST', data: { sql: 'SELECT 1' } });
  console.log(\`spanner OK (\${client.constructor.name}): \${database} answered \${JSON.stringify(result.data.rows)}\`);
}

main().catch((e) => {
  const status = e.response ? \` HTTP \${e.response.status}\` : '';
  console.log(\`spanner FAILED\${status}: \${e.message}\`);
  process.exitCode = 1;
});
`;

/**
 * The Databricks SDKs' metadata-service credentials provider, by hand: GET the URL with the
 * protocol's headers, then the workspace REST API with the token it returns.
 */
const DATABRICKS_SCRIPT = `async function main() {
  const host = process.env.DATABRICKS_HOST;
  const res = await fetch(process.env.DATABRICKS_METADATA_SERVICE_URL, {
    headers: { 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(\`metadata service HTTP \${res.status}: \${body.message}\`);
  const auth = { Authorization: \`\${body.token_type} \${body.access_token}\` };
  const me = await (await fetch(\`\${host}/api/2.0/preview/scim/v2/Me\`, { headers: auth })).json();
  const jobs = await (await fetch(\`\${host}/api/2.2/jobs/list\`, { headers: auth })).json();
  console.log(\`databricks OK: \${me.userName} on \${host} (\${me.groups.map((g) => g.display).join(', ')}), \${(jobs.jobs ?? []).length} jobs\`);
}

main().catch((e) => {
  console.log(\`databricks FAILED: \${e.message}\`);
  process.exitCode = 1;
});
`;

/** A personal access token as the scanner knows them (dapi + 32 hex digits), made up here. */
const FAKE_PAT = `dapi${createHash('sha256').update('ML Spanner e2e notebook').digest('hex').slice(0, 32)}`;

/** A Jupyter notebook whose code cell hands a hard-coded token to the Databricks SDK. */
const NOTEBOOK = JSON.stringify(
  {
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# Churn features\n', '\n', 'Who am I on the workspace?'] },
      {
        cell_type: 'code',
        execution_count: null,
        metadata: {},
        outputs: [],
        source: ['from databricks.sdk import WorkspaceClient\n', '\n', `w = WorkspaceClient(token="${FAKE_PAT}")\n`, 'print(w.current_user.me().user_name)'],
      },
    ],
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  },
  null,
  1,
);

describe('credentials for your own code (packaged extension in VS Code 1.100)', function () {
  stepsInOrder(this);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox({
      workspaceFiles: { 'scripts/spanner.js': SPANNER_SCRIPT, 'scripts/databricks.js': DATABRICKS_SCRIPT, 'notebooks/churn.ipynb': NOTEBOOK },
    });
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-own-code');
  });
  after(async function () {
    await env?.close();
  });

  /**
   * Runs a shell line in a new terminal (or the active one); resolves with what it wrote to
   * `name` once it is done. The output shows in the terminal too; `clear` starts from a clean screen.
   */
  async function inTerminal(name: string, line: string, opts: { fresh: boolean; clear?: boolean }): Promise<string> {
    const out = path.join(vs.folder, name);
    fs.rmSync(out, { force: true });
    fs.rmSync(`${out}.done`, { force: true });
    if (opts.fresh) await vs.runCommand('Terminal: Create New Terminal');
    // else: the terminal opened before is still the active one in the panel
    const terminal = vs.page.locator('.terminal-wrapper.active .xterm, .terminal .xterm').last();
    await terminal.waitFor({ state: 'visible', timeout: 30_000 });
    await vs.page.waitForTimeout(1500); // the shell's prompt
    await terminal.click();
    if (opts.clear) await vs.page.keyboard.press('Control+L'); // the shell clears the screen, the prompt stays
    await vs.page.keyboard.type(`{ ${line}; } 2>&1 | tee ${name}; echo done > ${name}.done`);
    await vs.page.keyboard.press('Enter');
    await waitFor(`${name} to be written`, async () => (fs.existsSync(`${out}.done`) ? true : undefined), 60_000);
    // VS Code's shell integration writes its own escape sequences (OSC 633) into the group's output.
    // eslint-disable-next-line no-control-regex
    return fs.readFileSync(out, 'utf8').replace(/\x1b\][^\x07]*\x07/g, '');
  }

  it('a terminal of a workspace that uses staging runs the AWS CLI as the staging role, with no key in its environment', async function () {
    await signInFromSidebar(vs, 'alice');
    await vs.runCommand('ML Spanner: Use Environment for This Workspace…');
    await vs.pickQuickPickItem(/\bstaging\s*$/);
    await vs.clickNotificationButton(/now use staging/, 'Not Now');
    const text = await inTerminal('caller.json', 'env | grep -c "^DATABRICKS_TOKEN=." ; env | grep -c "^AWS_SECRET_ACCESS_KEY=." ; aws sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --region us-east-1 --output json', { fresh: true });
    const [pats, keys, ...rest] = text.split('\n');
    assert.equal(pats.trim(), '0', `no Databricks token in the terminal: ${text}`);
    assert.equal(keys.trim(), '0', `no static secret key in the terminal: ${text}`);
    const identity = JSON.parse(rest.join('\n')) as { Arn?: string };
    assert.match(identity.Arn ?? '', /assumed-role\/ml-staging\/alice$/, text);
    await vs.screenshot('40-terminal-uses-staging');
    const log = fs.readFileSync(path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl'), 'utf8');
    const fetched = log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; environment?: string; target?: string })
      .filter((e) => e.type === 'credentialFetched');
    assert.ok(fetched.some((e) => e.environment === 'staging' && e.target === 'aws'), log.slice(-2000));
  });

  const accessLog = () => fs.readFileSync(path.join(vs.userDataDir, 'User', 'globalStorage', 'mlspanner.mlspanner', 'access-log.jsonl'), 'utf8');
  const fetchedIn = (target: string) =>
    accessLog()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; environment?: string; target?: string; outcome?: string })
      .filter((e) => e.type === 'credentialFetched' && e.target === target && e.environment === 'staging');

  it('in the same terminal, Node scripts reach Spanner with google-auth-library and Databricks through the metadata service, as staging', async function () {
    const spannerUrl = env!.sandbox.google.spannerUrl!;
    const text = await inTerminal('node-scripts.txt', `node scripts/spanner.js ${spannerUrl}; node scripts/databricks.js`, { fresh: false, clear: true });
    assert.match(text, /^spanner OK \(ExternalAccountAuthorizedUserClient\): projects\/ml-sandbox\/instances\/ml\/databases\/features answered \[\["1"\]\]$/m, text);
    assert.match(text, /^databricks OK: alice\S* on http:\/\/127\.0\.0\.4:\d+ \(ml-dev, ml-staging\), \d+ jobs$/m, text);
    assert.equal(new URL(/ on (\S+) /.exec(text)![1]).origin, new URL(env!.sandbox.databricks.staging).origin, 'the staging workspace');
    assert.doesNotMatch(text, /FAILED/);
    await vs.page.waitForTimeout(500); // the terminal paints the output a frame after the file is written
    await vs.screenshot('41-node-script-in-terminal');
    const google = await waitFor('the Google fetch in the access log', async () => fetchedIn('google').find((e) => e.outcome !== 'failure'), 10_000);
    assert.ok(google);
    assert.ok(fetchedIn('databricks').some((e) => e.outcome !== 'failure'), accessLog().slice(-2000));
  });

  it('after sign-out the same command fails with a clear message', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    // The same terminal still has the endpoint variables: the endpoint now refuses them.
    const text = await inTerminal('caller-after.txt', 'aws sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --region us-east-1 --output json; echo "exit $?"', { fresh: false });
    assert.doesNotMatch(text, /assumed-role/);
    assert.match(text, /exit [1-9]/, text);
    assert.match(text, /401|revoked|[Ss]ign in/, text);
  });

  it('after sign-out the same Node scripts fail and say why', async function () {
    const spannerUrl = env!.sandbox.google.spannerUrl!;
    const text = await inTerminal('node-scripts-after.txt', `node scripts/databricks.js; echo "exit $?"; node scripts/spanner.js ${spannerUrl}; echo "exit $?"`, { fresh: false, clear: true });
    assert.doesNotMatch(text, / OK/, text);
    assert.match(text, /^databricks FAILED: metadata service HTTP 401: These ML Spanner credentials were revoked \(signed out\)\./m, text);
    // The credentials file stays (its secret removed): google-auth-library reaches the endpoint and reads why.
    assert.match(text, /^spanner FAILED HTTP 401: .*These ML Spanner credentials were revoked \(signed out\)\./m, text);
    assert.equal(text.match(/^exit 1$/gm)?.length, 2, text);
    await vs.screenshot('41b-node-scripts-after-sign-out');
  });

  it('a hard-coded Databricks token in a notebook cell is flagged; the quick fix hands the cell to the environment\'s credentials', async function () {
    await vs.runCommand('View: Close All Editors');
    await vs.page.keyboard.press('Control+P');
    await vs.page.keyboard.type('churn.ipynb');
    await vs.pickQuickPickItem('churn.ipynb');
    // The built-in ipynb serializer opens it in the notebook editor; no Jupyter extension needed to edit.
    const notebook = vs.page.locator('.notebook-editor');
    const cell = notebook.locator('.cell-editor-container .monaco-editor', { hasText: 'WorkspaceClient(token=' }).first();
    await cell.waitFor({ state: 'visible', timeout: 30_000 });
    const squiggle = cell.locator('.squiggly-error').first();
    await squiggle.waitFor({ state: 'visible', timeout: 20_000 });

    // The Problems view names what was found and on which cell line.
    // Its tab when the panel is open (the terminal's), else the status bar's problem counts.
    const problemsTab = vs.page.locator('.part.panel .composite-bar a.action-label[aria-label^="Problems"]');
    if (await problemsTab.isVisible()) await problemsTab.click();
    else await vs.page.locator('.part.statusbar #status\\.problems').click({ timeout: 20_000 });
    const problem = vs.page.locator('.markers-panel .monaco-list-row', { hasText: 'Hard-coded Databricks personal access token (dapi…)' }).first();
    await problem.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match(await problem.innerText(), /\[Ln 3, Col \d+\]/);

    // Cursor on the literal, then Ctrl+. as a user would. (The squiggle is drawn under the text:
    // click the text where it is.) A Ctrl+. that lands before the cell editor has taken the click
    // asks at the old cursor and finds nothing there: click and ask again, as a user would.
    const box = await squiggle.boundingBox();
    assert.ok(box, 'the squiggle is laid out');
    // The preferred fix comes first and has the focus: Enter applies it, as the widget says.
    const fix = vs.page.locator('.action-widget .monaco-list-row.focused', { hasText: "Use the environment's credentials" }).first();
    await waitFor('the quick fixes of the token', async () => {
      await vs.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      await vs.page.keyboard.press('Control+.');
      if (await fix.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) return true;
      await vs.page.keyboard.press('Escape');
      return false;
    }, 60_000, 500);
    assert.match(await fix.innerText(), /drop token= \(WorkspaceClient\(\) finds them\)/);
    const offered = await vs.page.locator('.action-widget .monaco-list-row.action').allInnerTexts();
    assert.ok(offered.some((t) => /Move to a Databricks secret scope/.test(t)), offered.join('\n'));
    await vs.page.keyboard.press('Enter');

    await waitFor('the cell to use WorkspaceClient()', async () => {
      const code = (await notebook.locator('.cell-editor-container .view-lines').allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
      return /w = WorkspaceClient\(\)/.test(code) && !/dapi/.test(code) ? code : undefined;
    }, 20_000);
    await squiggle.waitFor({ state: 'detached', timeout: 20_000 });
    await problem.waitFor({ state: 'detached', timeout: 20_000 });
    await vs.page.mouse.move(5, 400); // no hover over the cell in the picture
    await vs.screenshot('42-notebook-quick-fix');

    // Saved, the notebook on disk holds no token.
    await vs.page.keyboard.press('Control+S'); // the cell editor still has the focus
    const file = path.join(vs.folder, 'notebooks', 'churn.ipynb');
    const saved = await waitFor('the notebook to be saved', async () => {
      const t = fs.readFileSync(file, 'utf8');
      return t.includes('WorkspaceClient()') ? t : undefined;
    }, 20_000);
    assert.ok(!saved.includes('dapi'), saved);
    const cells = (JSON.parse(saved) as { cells: { source: string[] | string }[] }).cells;
    assert.equal([cells[1].source].flat().join(''), 'from databricks.sdk import WorkspaceClient\n\nw = WorkspaceClient()\nprint(w.current_user.me().user_name)');
  });
});
