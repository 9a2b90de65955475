// Acceptance: "Use Environment for This Workspace" gives a new terminal the environment's AWS
// credentials through the local credential endpoint: the real AWS CLI, run in that terminal,
// gets the assumed role; the access log shows the fetch; after sign-out the same command fails.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type SandboxedVsCode, type VsCodeSession, recordFailure, signInFromSidebar, startWithSandbox, waitFor } from './harness';

describe('credentials for your own code (packaged extension in VS Code 1.100)', function () {
  this.bail(true);
  let env: SandboxedVsCode | undefined;
  let vs: VsCodeSession;

  before(async function () {
    env = await startWithSandbox();
    vs = env.vs;
  });
  afterEach(async function () {
    await recordFailure(vs, this.currentTest, 'failed-own-code');
  });
  after(async function () {
    await env?.close();
  });

  /** Runs a shell line in a new terminal; resolves with what it wrote to `name` once it is done. */
  async function inTerminal(name: string, line: string, opts: { fresh: boolean }): Promise<string> {
    const out = path.join(vs.folder, name);
    fs.rmSync(out, { force: true });
    fs.rmSync(`${out}.done`, { force: true });
    if (opts.fresh) await vs.runCommand('Terminal: Create New Terminal');
    // else: the terminal opened before is still the active one in the panel
    const terminal = vs.page.locator('.terminal-wrapper.active .xterm, .terminal .xterm').last();
    await terminal.waitFor({ state: 'visible', timeout: 30_000 });
    await vs.page.waitForTimeout(1500); // the shell's prompt
    await terminal.click();
    await vs.page.keyboard.type(`{ ${line}; } > ${name} 2>&1; echo done > ${name}.done`);
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
    const text = await inTerminal('caller.json', 'env | grep -c "^AWS_SECRET_ACCESS_KEY=." ; aws sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --region us-east-1 --output json', { fresh: true });
    const [keys, ...rest] = text.split('\n');
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

  it('after sign-out the same command fails with a clear message', async function () {
    await vs.runCommand('ML Spanner: Sign Out');
    // The same terminal still has the endpoint variables: the endpoint now refuses them.
    const text = await inTerminal('caller-after.txt', 'aws sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --region us-east-1 --output json; echo "exit $?"', { fresh: false });
    assert.doesNotMatch(text, /assumed-role/);
    assert.match(text, /exit [1-9]/, text);
    assert.match(text, /401|revoked|[Ss]ign in/, text);
  });
});
