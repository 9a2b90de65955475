import { strict as assert } from 'node:assert';
import { AccessGate } from '../../../src/core/access/AccessGate';
import type { AccessEventInput } from '../../../src/core/audit/AccessLog';
import type { IdentitySession } from '../../../src/core/auth/IdentitySession';
import { UserFacingError, Remedies } from '../../../src/core/errors';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { AccessPrompt } from '../../../src/vscode/common/AccessPrompt';
import { CommandRunner } from '../../../src/vscode/common/CommandRunner';
import { changedRoots } from '../../../src/core/access/environmentView';
import { EnvironmentsTreeProvider } from '../../../src/vscode/environments/EnvironmentsTreeProvider';
import { ui } from '../fakes/vscode';

const session = (groups: string[]): IdentitySession => ({
  issuer: 'https://idp.example.com',
  subject: 'carol',
  name: 'Carol',
  groups,
  claims: {},
  idToken: 'id',
  idTokenExpiresAt: Date.now() + 3600_000,
  accessToken: 'at',
  accessTokenExpiresAt: Date.now() + 3600_000,
  scopes: [],
});
const SETTINGS = {
  dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } },
  prod: { requiredGroups: ['ml-prod'], databricks: { host: 'https://prod.example.com' }, aws: { roleArn: 'arn:aws:iam::123456789012:role/prod' } },
};

function gateFor(groups: string[]) {
  const events: AccessEventInput[] = [];
  const s = session(groups);
  const requested: string[] = [];
  const gate = new AccessGate({
    identity: { current: () => s, fresh: async () => s },
    environments: () => resolveEnvironments(SETTINGS),
    sink: { record: (e) => void events.push(e) },
    http: (service) => {
      requested.push(service);
      throw new Error(`no HTTP in this test (${service})`);
    },
  });
  return { gate, events, requested, session: s };
}

const log = { info: () => undefined, error: () => undefined, debug: () => undefined, warn: () => undefined, show: () => ui.calls.push({ method: 'log.show', args: [] }) } as never;

describe('shell: one confirmation prompt', () => {
  beforeEach(() => ui.reset());

  it('grants without asking where the environment does not ask', async () => {
    const { gate } = gateFor(['ml-dev']);
    const grant = await new AccessPrompt(gate).grant({ environment: 'dev', purpose: 'terminal', action: 'Open a terminal with credentials' });
    assert.equal(grant?.environment, 'dev');
    assert.deepEqual(ui.calls, []);
  });

  it('in prod: a modal naming the action, then a required reason, which the gate records with the purpose', async () => {
    const { gate, events } = gateFor(['ml-prod']);
    ui.answer('showWarningMessage', 'Continue');
    ui.answer('showInputBox', (opts: { validateInput: (t: string) => string | undefined }) => {
      assert.match(String(opts.validateInput(' x ')), /reason/);
      assert.equal(opts.validateInput('INC-1'), undefined);
      return 'INC-1 rotate keys';
    });
    const grant = await new AccessPrompt(gate).grant({ environment: 'prod', purpose: 'terminal', action: 'Open a terminal with credentials' });
    assert.equal(grant?.reason, 'INC-1 rotate keys');
    const modal = ui.calls.find((c) => c.method === 'showWarningMessage')!;
    assert.equal(modal.args[0], 'Open a terminal with credentials in prod?');
    assert.equal((modal.args[1] as { modal: boolean }).modal, true);
    assert.deepEqual(events.map((e) => [e.type, e.purpose, e.reason]), [['accessConfirmed', 'terminal', 'INC-1 rotate keys']]);
  });

  it('in prod: saying no, or no reason, grants nothing and records nothing', async () => {
    const { gate, events } = gateFor(['ml-prod']);
    const prompt = new AccessPrompt(gate);
    assert.equal(await prompt.grant({ environment: 'prod', purpose: 'query', action: 'Run this query' }), undefined);
    ui.answer('showWarningMessage', 'Continue');
    ui.answer('showInputBox', undefined);
    assert.equal(await prompt.grant({ environment: 'prod', purpose: 'query', action: 'Run this query' }), undefined);
    assert.deepEqual(events, []);
  });

  it('a denial throws the gate error with its remedy, and is recorded', async () => {
    const { gate, events } = gateFor(['ml-dev']);
    await assert.rejects(new AccessPrompt(gate).grant({ environment: 'prod', purpose: 'job', action: 'Run a job' }), (e: UserFacingError) => e.kind === 'denied' && e.remedies[0].command === 'mlspanner.explainAccess');
    assert.deepEqual(events.map((e) => e.type), ['accessDenied']);
  });
});

describe('shell: command errors offer the remedies they name', () => {
  beforeEach(() => ui.reset());

  it('"No run is in progress" offers Run Job in Staging and Show Log, not Open Settings', async () => {
    const runner = new CommandRunner(log);
    runner.register('test.cmd', () => {
      throw new UserFacingError('config', 'No run is in progress.', undefined, undefined, { remedies: [Remedies.runJobInStaging] });
    });
    ui.answer('showErrorMessage', 'Run Job in Staging…');
    await ui.commands.get('test.cmd')!();
    const shown = ui.calls.find((c) => c.method === 'showErrorMessage')!;
    assert.deepEqual(shown.args, ['No run is in progress.', 'Run Job in Staging…', 'Show Log']);
    assert.deepEqual(ui.executed.map((x) => x.id), ['mlspanner.runJobInStaging']);
  });

  it('a denial offers Explain Access for that environment; a cancellation shows nothing', async () => {
    const runner = new CommandRunner(log);
    runner.register('test.denied', () => {
      throw new UserFacingError('denied', 'Access to staging denied.', undefined, undefined, { remedies: [Remedies.explainAccess('staging')] });
    });
    runner.register('test.cancel', () => {
      throw new UserFacingError('cancelled', 'Cancelled.');
    });
    ui.answer('showErrorMessage', 'Explain Access');
    await ui.commands.get('test.denied')!();
    assert.deepEqual(ui.executed.at(-1), { id: 'mlspanner.explainAccess', args: [{ args: { environment: 'staging' } }] });
    ui.calls = [];
    await ui.commands.get('test.cancel')!();
    assert.deepEqual(ui.calls, []);
  });

  it('a plain Error gets Show Log only, and its text is redacted', async () => {
    const runner = new CommandRunner(log);
    runner.register('test.raw', () => {
      throw new Error('boom with Bearer abcdefghijklmnopqrstuvwxyz');
    });
    await ui.commands.get('test.raw')!();
    const shown = ui.calls.find((c) => c.method === 'showErrorMessage')!;
    assert.equal(shown.args.length, 2);
    assert.doesNotMatch(String(shown.args[0]), /abcdefghijklmnop/);
  });
});

describe('shell: the Environments tree renders what the gate says', () => {
  beforeEach(() => ui.reset());

  function tree(groups: string[]) {
    const g = gateFor(groups);
    const envs = { resolution: () => resolveEnvironments(SETTINGS), onDidChange: () => ({ dispose: () => undefined }) };
    const provider = new EnvironmentsTreeProvider(() => g.session, g.gate, envs as never, () => undefined);
    return { ...g, provider };
  }

  it('prod for carol: credentials "not issued — Issue…" with the Issue command; expanding issues nothing', async () => {
    const { provider, requested, events } = tree(['ml-prod']);
    const roots = provider.getChildren();
    const prod = roots.find((n) => n.id === 'env/prod')!;
    assert.equal(provider.getTreeItem(prod).contextValue, 'environment.granted.confirm');
    const creds = provider.getChildren(prod);
    const items = creds.map((n) => provider.getTreeItem(n));
    assert.deepEqual(items.map((i) => [i.label, i.description, i.contextValue]), [
      ['Databricks token', 'not issued — Issue…', 'credential.none.confirm'],
      ['AWS session', 'not issued — Issue…', 'credential.none.confirm'],
    ]);
    assert.deepEqual((items[0].command as { command: string }).command, 'mlspanner.issueCredentials');
    (provider.view as unknown as { expand: { fire(e: unknown): void } }).expand.fire({ element: prod });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(requested, [], 'no exchange was attempted');
    assert.deepEqual(events, [], 'viewing records nothing');
    provider.dispose();
  });

  it('a denied environment says which group it needs, with the reason in the tooltip', () => {
    const { provider } = tree(['ml-dev']);
    const prod = provider.getChildren().find((n) => n.id === 'env/prod')!;
    const item = provider.getTreeItem(prod);
    assert.equal(item.description, 'denied · needs ml-prod');
    assert.equal(item.contextValue, 'environment.denied');
    assert.match((item.tooltip as { value: string }).value, /requires one of groups ml\\-prod/);
    provider.dispose();
  });

  it('a credential change re-renders only its environment row, with the object VS Code was given; an unchanged tree fires nothing', async () => {
    const { provider } = tree(['ml-dev', 'ml-prod']);
    const fired: unknown[] = [];
    provider.onDidChangeTreeData((e) => void fired.push(e));
    const roots = provider.getChildren();
    const dev = roots.find((n) => n.id === 'env/dev')!;
    provider.getChildren(dev); // expanding dev issues its token, which fails here (no HTTP)
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(fired.length >= 1, 'the failure was shown');
    for (const e of fired) assert.ok(Array.isArray(e) && e.length === 1 && e[0] === dev, `only the dev row, as the object given to VS Code: ${JSON.stringify(e)}`);
    // VS Code reads the refreshed row through the object it holds, and sees the failure.
    assert.match(String(provider.getTreeItem(dev).description), /refresh failed/);
    assert.equal(provider.getChildren(dev)[0].contextValue, 'credential.failed');
    fired.length = 0;
    provider.refresh();
    assert.deepEqual(fired, [], 'nothing changed, nothing re-rendered');
    provider.dispose();
  });

  it('rows added, removed or moved refresh the whole tree; rows changed in place only themselves', () => {
    const row = (id: string, description = '') => ({ id, label: id, description });
    assert.equal(changedRoots([row('a'), row('b')], [row('a')]), 'all');
    assert.equal(changedRoots([row('a'), row('b')], [row('b'), row('a')]), 'all');
    assert.deepEqual(changedRoots([row('a'), row('b')], [row('a'), row('b', '1 credential')]), ['b']);
    assert.deepEqual(changedRoots([row('a', 'x')], [row('a', 'x')]), []);
  });

  it('expanding a granted environment issues its credentials once, through the gate', async () => {
    const { provider, requested } = tree(['ml-dev']);
    const dev = provider.getChildren().find((n) => n.id === 'env/dev')!;
    provider.getChildren(dev);
    provider.getChildren(dev);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(requested, ['Databricks'], 'one exchange attempt for the one target');
    provider.dispose();
  });
});
