import { strict as assert } from 'node:assert';
import { AccessGate } from '../../src/core/access/AccessGate';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';
import { UserFacingError } from '../../src/core/errors';
import { parseBundleTargets } from '../../src/core/policy/parseBundleTargets';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { AccessPrompt } from '../../src/vscode/common/AccessPrompt';
import { GlobalStateHostTrustStore, manageTrustedHosts, userSettingsHosts } from '../../src/vscode/common/HostTrustStore';
import { ui } from './fakes/vscode';

const X = 'https://x.cloud.databricks.com';
const USER_SETTINGS = { dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } } };
const WORKSPACE_SETTINGS = { staging: { requiredGroups: ['ml-dev'] }, prod: { requiredGroups: ['ml-dev'], confirm: true } };
const BUNDLE = parseBundleTargets(`targets:\n  staging:\n    workspace:\n      host: ${X}\n  prod:\n    workspace:\n      host: https://prod.cloud.databricks.com\n`);

/** context.globalState as VS Code keeps it: in memory at once, persisted behind. */
class FakeMemento {
  readonly data = new Map<string, unknown>();
  failWrites = false;
  get<T>(key: string): T | undefined {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    if (this.failWrites) throw new Error('disk full');
    this.data.set(key, JSON.parse(JSON.stringify(value)));
  }
}

function session(subject: string): IdentitySession {
  return {
    issuer: 'https://idp.example.com',
    subject,
    name: subject,
    groups: ['ml-dev'],
    claims: {},
    idToken: 'id',
    idTokenExpiresAt: Date.now() + 3600_000,
    accessToken: 'at',
    accessTokenExpiresAt: Date.now() + 3600_000,
    scopes: [],
  };
}

function setup(memento = new FakeMemento(), subject = 'alice') {
  const events: AccessEventInput[] = [];
  const requested: string[] = [];
  const errors: string[] = [];
  let s = session(subject);
  // What inspect('environments') gives: the User value apart from the workspace's.
  const inspect = () => ({ globalValue: USER_SETTINGS, workspaceValue: WORKSPACE_SETTINGS });
  const gate = new AccessGate({
    identity: { current: () => s, fresh: async () => s },
    environments: () => resolveEnvironments({ ...USER_SETTINGS, ...WORKSPACE_SETTINGS }, BUNDLE),
    sink: { record: (e) => void events.push(e) },
    http: (service) => {
      requested.push(service);
      throw new Error('no network in this test');
    },
    hostTrust: { store: new GlobalStateHostTrustStore(memento, (m) => void errors.push(m)), userSettingsHosts: () => userSettingsHosts(inspect) },
  });
  return { gate, events, requested, errors, memento, prompt: new AccessPrompt(gate), signInAs: (who: string) => (s = session(who)) };
}

const issue = { environment: 'staging', purpose: 'view' as const, action: 'Issue credentials' };

describe('shell: the host trust prompt', () => {
  beforeEach(() => ui.reset());

  it('asks once with host, environment and source; Trust Host grants and is recorded; the next use asks nothing', async () => {
    const { prompt, events } = setup();
    ui.answer('showWarningMessage', 'Trust Host');
    const grant = await prompt.grant(issue);
    assert.equal(grant?.environment, 'staging');
    const [modal] = ui.calls;
    assert.equal(modal.method, 'showWarningMessage');
    assert.equal(modal.args[0], `Send staging's Databricks token to ${X}?`);
    const opts = modal.args[1] as { modal: boolean; detail: string };
    assert.equal(opts.modal, true);
    assert.match(opts.detail, /^The host is named by databricks\.yml \(target staging\)\. It would receive bearer tokens that act as you \(to issue credentials\)\./);
    assert.deepEqual(modal.args.slice(2), ['Trust Host', "Don't Trust"]);
    assert.deepEqual(events.map((e) => [e.type, e.resource, e.environment]), [['hostTrusted', X, 'staging']]);
    ui.calls = [];
    assert.equal((await prompt.grant(issue))?.environment, 'staging');
    assert.deepEqual(ui.calls, [], 'asked once');
  });

  it("Don't Trust: nothing is granted, hostRejected is recorded, and later uses are denied with the reason", async () => {
    const { prompt, events, requested } = setup();
    ui.answer('showWarningMessage', "Don't Trust");
    assert.equal(await prompt.grant(issue), undefined);
    assert.deepEqual(events.map((e) => e.type), ['hostRejected']);
    await assert.rejects(prompt.grant({ ...issue, purpose: 'job', action: 'Run a job' }), (e: UserFacingError) => e.kind === 'denied' && /you declined to trust this host/.test(e.message));
    assert.equal(ui.calls.length, 1, 'not asked again');
    assert.deepEqual(requested, []);
  });

  it('closing the dialog decides nothing: no grant, no entry, asked again next time', async () => {
    const { prompt, events } = setup();
    assert.equal(await prompt.grant(issue), undefined);
    assert.deepEqual(events, []);
    ui.answer('showWarningMessage', 'Trust Host');
    assert.ok(await prompt.grant(issue));
    assert.equal(ui.calls.filter((c) => c.method === 'showWarningMessage').length, 2);
  });

  it('a prod-like environment: the host question, then the confirmation with a reason', async () => {
    const { prompt, events } = setup();
    ui.answer('showWarningMessage', 'Trust Host');
    ui.answer('showWarningMessage', 'Continue');
    ui.answer('showInputBox', 'INC-9 hotfix');
    const grant = await prompt.grant({ environment: 'prod', purpose: 'job', action: 'Run a job' });
    assert.equal(grant?.reason, 'INC-9 hotfix');
    assert.deepEqual(
      ui.calls.map((c) => [c.method, c.args[0]]),
      [
        ['showWarningMessage', "Send prod's Databricks token to https://prod.cloud.databricks.com?"],
        ['showWarningMessage', 'Run a job in prod?'],
        ['showInputBox', { title: 'Why run a job in prod?', prompt: 'A reason for the access log (e.g. a ticket or incident number).', ignoreFocusOut: true, validateInput: (ui.calls[2].args[0] as { validateInput: unknown }).validateInput }],
      ],
    );
    assert.deepEqual(events.map((e) => e.type), ['hostTrusted', 'accessConfirmed']);
  });

  it('a host from the User settings never asks', async () => {
    const { prompt } = setup();
    assert.ok(await prompt.grant({ environment: 'dev', purpose: 'terminal', action: 'Open a terminal with credentials' }));
    assert.deepEqual(ui.calls, []);
  });

  it('answers persist in globalState per user, across a reload', async () => {
    const memento = new FakeMemento();
    const first = setup(memento);
    ui.answer('showWarningMessage', 'Trust Host');
    await first.prompt.grant(issue);
    const stored = memento.get<Record<string, Record<string, { state: string }>>>('mlspanner.hostTrust.v1')!;
    assert.deepEqual(Object.keys(stored), ['https://idp.example.com|alice']);
    assert.equal(stored['https://idp.example.com|alice'][X].state, 'trusted');
    assert.deepEqual(Object.keys(stored['https://idp.example.com|alice'][X]).sort(), ['at', 'environment', 'source', 'state', 'target'], 'origins and dates only');

    ui.reset();
    const reloaded = setup(memento);
    assert.ok(await reloaded.prompt.grant(issue));
    assert.deepEqual(ui.calls, [], 'remembered after a reload');
    reloaded.signInAs('bob');
    assert.equal(await reloaded.prompt.grant(issue), undefined, 'bob is asked (and closes the dialog)');
    assert.equal(ui.calls.length, 1);
  });

  it('a failed globalState write is reported, and the prompt says so instead of asking in a loop', async () => {
    const memento = new FakeMemento();
    memento.failWrites = true;
    const { prompt, errors } = setup(memento);
    ui.answer('showWarningMessage', 'Trust Host');
    // globalState keeps the value in memory even when the write fails; this fake does not, so
    // the prompt says the answer was not kept instead of looping.
    await assert.rejects(prompt.grant(issue), /could not be kept/);
    assert.deepEqual(errors, ['Could not save the answer about a host: disk full']);
  });

  it('only the User scope counts as the user\'s own hosts', () => {
    const hosts = userSettingsHosts(() => ({ globalValue: USER_SETTINGS, workspaceValue: { w: { databricks: { host: 'https://evil.example.com' } } }, workspaceFolderValue: { f: { databricks: { host: 'https://folder.example.com' } } } }) as never);
    assert.deepEqual([...hosts], ['https://dev.example.com']);
    assert.deepEqual([...userSettingsHosts(() => undefined)], []);
  });

  it('Manage Trusted Hosts… lists the answered hosts and forgets the picked one', async () => {
    const { prompt, gate } = setup();
    ui.answer('showWarningMessage', "Don't Trust");
    await prompt.grant(issue);
    ui.answer('showQuickPick', (items: { label: string; description: string }[]) => {
      assert.deepEqual(
        items.map((i) => [i.label, i.description]),
        [[X, `not trusted (you declined it on ${new Date().toISOString().slice(0, 10)})`]],
      );
      return items[0];
    });
    await manageTrustedHosts(gate);
    assert.equal(gate.request(issue).kind, 'confirm', 'asks again');
    assert.match(String(ui.calls.at(-1)?.args[0]), /Forgot your answer for https:\/\/x\.cloud\.databricks\.com/);
  });
});
