import { strict as assert } from 'node:assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import { clock } from '../../../src/core/access/refreshFailure';
import type { SessionState } from '../../../src/core/auth/SessionManager';
import { Emitter } from '../../../src/core/events';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { indexOfToken } from '../../../src/core/redact';
import { AccessPrompt } from '../../../src/vscode/common/AccessPrompt';
import { CommandRunner } from '../../../src/vscode/common/CommandRunner';
import { CredentialCommands } from '../../../src/vscode/environments/CredentialCommands';
import { EnvironmentsTreeProvider, sessionRefreshProblem } from '../../../src/vscode/environments/EnvironmentsTreeProvider';
import { LEAKED_JWT, SETTINGS, T0, lakehouseGate } from '../fakes/lakehouseTarget';
import { ThemeIcon, ui, type MarkdownString } from '../fakes/vscode';

const TOASTS = new Set(['showWarningMessage', 'showErrorMessage']);
const toasts = () => ui.calls.filter((c) => TOASTS.has(c.method));
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** The ML Spanner output channel: every line, for "Show Log" and the no-token check. */
function recordingLog() {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), show: () => ui.calls.push({ method: 'log.show', args: [] }) };
}

/** The part of SessionManager the commands and the notifier use; states are set by the test. */
function fakeSessions(session: ReturnType<typeof lakehouseGate>['session']) {
  const changed = new Emitter<SessionState>();
  const s = {
    state: { kind: 'signedIn', session } as SessionState,
    onDidChange: changed.event,
    current: () => session,
    refresh: async () => session,
    set(state: SessionState) {
      s.state = state;
      changed.fire(state);
    },
  };
  return s;
}

describe('shell: a failed credential refresh, in the view and in notifications', () => {
  let fake: FakeTimers.Clock;
  let world: ReturnType<typeof setup>;
  beforeEach(() => {
    ui.reset();
    fake = FakeTimers.createClock(T0);
    world = setup();
  });
  afterEach(() => {
    for (const d of world.disposables) d.dispose();
    world.provider.dispose();
    world.gate.dispose();
  });

  function setup() {
    const g = lakehouseGate(fake);
    const log = recordingLog();
    const sessions = fakeSessions(g.session);
    const runner = new CommandRunner(log as never);
    const commands = new CredentialCommands(sessions as never, g.gate, new AccessPrompt(g.gate), {} as never, {} as never, { now: () => fake.now, timers: fake });
    const disposables = [...commands.register(runner), g.gate.startAutoRefresh({ idleMs: 2 * 3600_000, retryMs: 30_000 })];
    const envs = { resolution: () => resolveEnvironments(SETTINGS, undefined, g.lake.registry), onDidChange: () => ({ dispose: () => undefined }) };
    const provider = new EnvironmentsTreeProvider(() => g.session, g.gate, envs as never, () => undefined, () => undefined, () => fake.now, () => sessionRefreshProblem(sessions.state));
    const row = (environment = 'dev') => {
      const env = provider.getChildren().find((n) => n.id === `env/${environment}`)!;
      return provider.getTreeItem(provider.getChildren(env).find((n) => n.id === `env/${environment}/lakehouse`)!);
    };
    return { ...g, log, sessions, runner, disposables, provider, row };
  }

  /** Through the Refresh command, as the tree's Refresh button runs it. */
  async function refresh(environment = 'dev'): Promise<void> {
    await ui.commands.get('mlspanner.refreshCredentials')!({ args: { environment, target: 'lakehouse' } });
    await settle();
  }

  it('a provider down for an hour: the row turns "refresh failed", then "expired", and one notification is shown, not one per retry', async () => {
    await refresh();
    assert.equal(world.row().description, '15 min left · token federation');
    world.lake.state.mode = 'down';
    await fake.tickAsync(810_000 + 1_500); // the first renewal (90 s before the 900 s cap) fails
    await settle();
    const item = world.row();
    assert.equal(item.description, `refresh failed · valid until ${clock(T0 + 900_000)}`);
    assert.deepEqual([(item.iconPath as ThemeIcon).id, (item.iconPath as ThemeIcon).color?.id], ['warning', 'editorWarning.foreground']);
    assert.equal(toasts().length, 0, 'one failure while the token is valid may pass: no notification yet');

    for (let t = 0; t < 3600; t += 30) await fake.tickAsync(30_000);
    await settle();
    const failures = world.events.filter((e) => e.type === 'credentialFailed').length;
    // 30 s, then doubling up to 5 min between tries: about 15 in the hour, not 120.
    assert.ok(failures >= 10 && failures <= 20, `the broker kept retrying, backing off (${failures} attempts)`);
    assert.equal(toasts().length, 1, 'one notification for the whole outage');
    const [toast] = toasts();
    assert.equal(toast.method, 'showWarningMessage', 'still valid when it was told: a warning');
    assert.equal(toast.args[0], `Lakehouse token for dev could not be refreshed (Lakehouse unreachable); it stays valid until ${clock(T0 + 900_000)}.`);
    assert.deepEqual(toast.args.slice(1), ['Retry', 'Explain Access', 'Show Log']);
    const expired = world.row();
    assert.equal(expired.description, 'refresh failed · expired');
    assert.equal((expired.iconPath as ThemeIcon).id, 'error');
    const tip = expired.tooltip as MarkdownString;
    assert.equal(tip.supportThemeIcons, true);
    assert.deepEqual((tip.isTrusted as { enabledCommands: string[] }).enabledCommands, ['mlspanner.refreshCredentials', 'mlspanner.explainAccess', 'workbench.action.openSettings']);
    assert.match(tip.value, /the token exchange with Lakehouse at `lake-dev\.example\.com`/);
    assert.match(tip.value, /Next automatic retry at \d\d:\d\d:\d\d\./);
    assert.ok(world.log.lines.some((l) => /credential refresh detail:\n.*refresh failed at .*\n {2}Where: the token exchange with Lakehouse \(lake-dev\.example\.com\)/.test(l)), 'the detail is in the log');
  });

  it('Retry on the notification renews through the gate and clears the failure; the next outage is a new episode', async () => {
    await refresh();
    world.lake.state.mode = 'down';
    // The service is back by the time the user clicks Retry.
    ui.answer('showWarningMessage', () => {
      world.lake.state.mode = 'ok';
      return 'Retry';
    });
    await fake.tickAsync(840_000 + 1_500);
    await settle();
    assert.equal(toasts().length, 1);
    assert.deepEqual(ui.executed.find((x) => x.id === 'mlspanner.refreshCredentials' && x.args.length), { id: 'mlspanner.refreshCredentials', args: [{ args: { environment: 'dev', target: 'lakehouse' } }] });
    const [info] = world.gate.credentials.peek();
    assert.equal(info.lastError, undefined, 'the failure is cleared');
    assert.equal(info.error, undefined);
    assert.equal(world.row().description, '14 min left · token federation', 'renewed: a new 15-minute token');
    assert.deepEqual(world.events.filter((e) => e.type !== 'credentialFailed').map((e) => e.type), ['credentialIssued', 'credentialRefreshed']);

    world.lake.state.mode = 'down';
    await fake.tickAsync(900_000 + 1_500);
    await settle();
    assert.equal(toasts().length, 2, 'a new failure episode after the success is told again');
  });

  it('a configuration error is told at once, with Open Settings at the setting the environment inherits', async () => {
    await refresh('staging');
    world.lake.state.mode = 'config';
    ui.answer('showWarningMessage', 'Open Settings');
    await fake.tickAsync(810_000 + 1_500);
    await settle();
    const [toast] = toasts();
    assert.equal(toast.args[0], `Lakehouse token for staging could not be refreshed (a setting is wrong); it stays valid until ${clock(T0 + 900_000)}.`);
    assert.deepEqual(toast.args.slice(1), ['Retry', 'Open Settings', 'Explain Access', 'Show Log']);
    assert.deepEqual(ui.executed.at(-1), { id: 'workbench.action.openSettings', args: ['mlspanner.environments.dev.lakehouse.host'] });
  });

  it('a Refresh the user runs reports its own failure once, short; the retries after it add no notification', async () => {
    await refresh();
    world.lake.state.mode = 'down';
    await refresh();
    assert.equal(toasts().length, 1);
    assert.equal(toasts()[0].method, 'showErrorMessage');
    assert.equal(toasts()[0].args[0], `Lakehouse token for dev could not be refreshed (Lakehouse unreachable); it stays valid until ${clock(T0 + 900_000)}.`);
    assert.deepEqual(toasts()[0].args.slice(1), ['Retry', 'Explain Access', 'Show Log']);
    await fake.tickAsync(1200_000);
    await settle();
    const failed = world.events.filter((e) => e.type === 'credentialFailed').length;
    assert.ok(failed >= 4 && failed <= 8, `retried with backoff: ${failed}`);
    assert.equal(toasts().length, 1, 'the same episode');
  });

  it('the sign-in session cannot be renewed: one notification, the account row says so, and credentials failing for it add none', async () => {
    await refresh();
    const problem = (n: number): SessionState => ({ kind: 'signedIn', session: world.session, refreshError: `The identity provider is unreachable (attempt ${n}).` });
    world.sessions.set(problem(1));
    await fake.tickAsync(1_500);
    assert.equal(toasts().length, 0, 'the first failure may pass');
    world.identity.down = true;
    world.sessions.set(problem(2));
    await fake.tickAsync(1_500);
    await settle();
    assert.equal(toasts().length, 1);
    assert.equal(toasts()[0].args[0], `Your sign-in session could not be renewed by idp.example.com; it stays valid until ${clock(T0 + 8 * 3600_000)}.`);
    assert.deepEqual(toasts()[0].args.slice(1), ['Retry', 'Show Log']);
    for (let n = 3; n < 40; n++) {
      world.sessions.set(problem(n));
      await fake.tickAsync(60_000);
    }
    await settle();
    assert.ok(world.gate.credentials.peek()[0].lastError?.stage === 'identity', 'the credential failed for the session');
    assert.equal(toasts().length, 1);
    const account = world.provider.getTreeItem(world.provider.getChildren()[0]);
    assert.equal(account.description, `refresh failed · valid until ${clock(T0 + 8 * 3600_000)}`);
    assert.equal(world.provider.getTreeItem(world.provider.getChildren().find((n) => n.id === 'env/dev')!).description, '1 credential · refresh failed · sign-in not renewed');
  });

  it('nothing token-shaped in the row, the tooltip, the notification or the log when a service echoes a token', async () => {
    await refresh();
    world.lake.state.mode = 'leak';
    await fake.tickAsync(840_000 + 1_500);
    await settle();
    assert.equal(toasts().length, 1, 'a failure that is not passing is told at once');
    const item = world.row();
    const texts = [String(item.description), (item.tooltip as MarkdownString).value, ...toasts().flatMap((c) => c.args.map(String)), ...world.log.lines];
    for (const t of texts) {
      assert.equal(indexOfToken(t), -1, t);
      assert.ok(!t.includes(LEAKED_JWT.slice(0, 24)), t);
    }
    assert.ok(world.log.lines.some((l) => l.includes('[redacted]')), 'the detail is logged, redacted');
  });
});

describe('shell: CommandRunner warnings and detail', () => {
  beforeEach(() => ui.reset());
  it('a warning uses showWarningMessage; the detail goes to the log only', async () => {
    const log = recordingLog();
    const { UserFacingError } = await import('../../../src/core/errors');
    await new CommandRunner(log as never).report(new UserFacingError('network', 'Short.', undefined, 'Long detail line\nsecond line'), 'ctx', { severity: 'warning' });
    assert.deepEqual(ui.calls.map((c) => [c.method, ...c.args]), [['showWarningMessage', 'Short.', 'Show Log']]);
    assert.deepEqual(log.lines, ['error ctx: Short.', 'error ctx detail:\nLong detail line\nsecond line']);
  });
});
