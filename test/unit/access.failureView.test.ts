import { strict as assert } from 'node:assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import { environmentView, type ViewNode } from '../../src/core/access/environmentView';
import { FailureEpisodes, clock, clockSeconds, failureSentence, failureSetting, failureSubject, refreshFailureError } from '../../src/core/access/refreshFailure';
import type { CredentialFailure, CredentialInfo } from '../../src/core/credentials/CredentialBroker';
import { Remedies } from '../../src/core/errors';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { indexOfToken } from '../../src/core/redact';
import { LEAKED_JWT, SETTINGS, T0, lakehouseGate } from './fakes/lakehouseTarget';

const HOST = 'https://lake-dev.example.com';

function failure(over: Partial<CredentialFailure> = {}): CredentialFailure {
  return {
    kind: 'network',
    message: `Lakehouse is unreachable at ${HOST} (ECONNREFUSED: connection refused: nothing listens there).`,
    action: 'Check the endpoint setting and your network or VPN, then retry.',
    stage: 'exchange',
    service: 'Lakehouse',
    remedies: [],
    at: T0 - 5_000,
    since: T0 - 65_000,
    attempts: 3,
    nextAttemptAt: T0 + 25_000,
    ...over,
  };
}

function info(over: Partial<CredentialInfo> = {}): CredentialInfo {
  return {
    environment: 'dev',
    target: 'lakehouse',
    principal: HOST,
    state: 'valid',
    source: 'federation',
    scopes: ['all-apis'],
    issuedAt: T0 - 300_000,
    expiresAt: T0 + 600_000,
    fingerprint: 'sha256:ab12cd34',
    refreshing: false,
    ...over,
  };
}

function find(nodes: ViewNode[], id: string): ViewNode | undefined {
  for (const n of nodes) {
    if (n.id === id) return n;
    const c = find(n.children ?? [], id);
    if (c) return c;
  }
  return undefined;
}

describe('Environments view: a failed refresh on its row', () => {
  const fake = FakeTimers.createClock(T0);
  const { gate, session, lake } = lakehouseGate(fake);
  const view = (infos: CredentialInfo[], sessionProblem?: { message: string; expiresAt: number }) =>
    environmentView({ evaluate: (r) => gate.evaluate(r), targets: lake.registry, credentials: { ...gate.credentials, peek: () => infos } }, () => resolveEnvironments(SETTINGS, undefined, lake.registry), session, T0, undefined, sessionProblem);
  const row = (infos: CredentialInfo[]) => find(view(infos), 'env/dev/lakehouse')!;

  const table: [string, CredentialInfo[], { description: string; icon: string; color?: string; contextValue: string }][] = [
    ['valid', [info()], { description: '10 min left · token federation', icon: 'key', color: 'testing.iconPassed', contextValue: 'credential.active' }],
    ['failed, still valid', [info({ error: 'x', lastError: failure() })], { description: `refresh failed · valid until ${clock(T0 + 600_000)}`, icon: 'warning', color: 'editorWarning.foreground', contextValue: 'credential.active.failed' }],
    ['failed, expired', [info({ state: 'failed', expiresAt: T0 - 1, error: 'x', lastError: failure() })], { description: 'refresh failed · expired', icon: 'error', color: 'errorForeground', contextValue: 'credential.failed' }],
    ['never issued', [], { description: 'not issued', icon: 'key', color: undefined, contextValue: 'credential.none' }],
    ['first issue failed', [info({ state: 'failed', source: undefined, scopes: undefined, issuedAt: undefined, expiresAt: undefined, fingerprint: undefined, error: 'x', lastError: failure({ attempts: 1, nextAttemptAt: undefined }) })], { description: 'failed · Lakehouse unreachable', icon: 'error', color: 'errorForeground', contextValue: 'credential.failed' }],
    ['retrying, still valid', [info({ refreshing: true, error: 'x', lastError: failure({ nextAttemptAt: undefined }) })], { description: `retrying… · valid until ${clock(T0 + 600_000)}`, icon: 'loading~spin', color: undefined, contextValue: 'credential.active' }],
  ];
  for (const [name, infos, want] of table)
    it(`${name}: "${want.description}"`, () => {
      const n = row(infos);
      assert.deepEqual({ description: n.description, icon: n.icon?.id, color: n.icon?.color, contextValue: n.contextValue }, want);
    });

  it('the tooltip says what happened, which host, when it failed and when the next retry is, with Retry / Explain Access links', () => {
    const t = row([info({ error: 'x', lastError: failure() })]).tooltip!;
    assert.match(t, /\$\(warning\) \*\*Refresh failed\*\* at/);
    assert.ok(t.includes(clockSeconds(T0 - 5_000)) && t.includes(`attempt 3, failing since ${clockSeconds(T0 - 65_000)}`));
    assert.match(t, /the token exchange with Lakehouse at `lake-dev\.example\.com`/);
    assert.match(t, /ECONNREFUSED: connection refused/);
    assert.ok(t.includes(`Next automatic retry at ${clockSeconds(T0 + 25_000)}.`));
    assert.ok(t.includes(`The token in hand stays valid until ${clock(T0 + 600_000)}.`));
    assert.ok(t.includes(`(command:mlspanner.refreshCredentials?${encodeURIComponent(JSON.stringify([{ args: { environment: 'dev', target: 'lakehouse' } }]))})`));
    assert.ok(t.includes('(command:mlspanner.explainAccess?'));
    assert.ok(!t.includes('Open Settings'), 'no settings link for a network failure');
  });

  it('a failure without a planned retry says so', () => {
    assert.match(row([info({ error: 'x', lastError: failure({ nextAttemptAt: undefined }) })]).tooltip!, /No automatic retry is planned: use Retry\./);
  });

  it('nothing token-shaped reaches the row or the tooltip, even when a service echoed one', () => {
    const leaked = failure({ message: `upstream said: Authorization: Bearer ${LEAKED_JWT}`, action: `use ${LEAKED_JWT}` });
    const n = row([info({ error: `Bearer ${LEAKED_JWT}`, lastError: leaked })]);
    assert.equal(indexOfToken(`${n.description}\n${n.tooltip}`), -1);
    assert.ok(!n.tooltip!.includes(LEAKED_JWT.slice(0, 30)));
  });

  it('the environment row says a credential failed; the account and environment rows say the session was not renewed', () => {
    const failed = view([info({ error: 'x', lastError: failure() })]);
    assert.equal(find(failed, 'env/dev')!.description, '1 credential · refresh failed');
    assert.equal(find(failed, 'env/dev')!.icon?.id, 'warning');
    const problem = { message: 'The identity provider is unreachable at https://idp.example.com (ECONNREFUSED).', expiresAt: T0 + 120_000 };
    const nodes = view([info()], problem);
    const account = nodes[0];
    assert.equal(account.description, `refresh failed · valid until ${clock(T0 + 120_000)}`);
    assert.equal(account.icon?.id, 'warning');
    assert.match(account.tooltip!, /The sign-in session could not be renewed\*\* by the identity provider at `idp\.example\.com`/);
    assert.equal(find(nodes, 'env/dev')!.description, '1 credential · sign-in not renewed');
    const expired = view([info()], { ...problem, expiresAt: T0 - 1 })[0];
    assert.deepEqual([expired.description, expired.icon?.id], ['refresh failed · expired', 'error']);
    assert.equal(view([info()])[0].description, undefined, 'no problem: the account row shows the e-mail (none here)');
  });
});

describe('refresh failures: setting, sentence, buttons', () => {
  const resolution = (() => {
    const fake = FakeTimers.createClock(T0);
    const { lake } = lakehouseGate(fake);
    return { lake, res: resolveEnvironments(SETTINGS, undefined, lake.registry) };
  })();

  it('a configuration error opens the setting where the value is set, following extends', () => {
    const staging = resolution.res.environments.staging;
    const f = failure({ kind: 'config', message: 'Lakehouse does not accept tokens for "staging".', action: 'Check mlspanner.environments.staging.lakehouse.host.' });
    assert.equal(failureSetting(f, staging), 'mlspanner.environments.dev.lakehouse.host', 'host is inherited from dev');
    assert.equal(failureSetting({ ...f, remedies: [Remedies.openSettings('mlspanner.idp.issuer')] }, staging), 'mlspanner.idp.issuer', "the error's own Open Settings wins");
    assert.equal(failureSetting({ ...f, action: undefined }, staging), 'mlspanner.environments.staging', 'no key named: the environment');
    assert.equal(failureSetting(failure(), staging), undefined, 'not a configuration error');
  });

  it('one sentence per notification, with Retry, Open Settings (configuration errors only) and Explain Access', () => {
    const { lake, res } = resolution;
    const subject = (i: CredentialInfo & { lastError: CredentialFailure }) => failureSubject(i, lake.registry, res.environments[i.environment], 'https://idp.example.com');
    const valid = subject({ ...info(), lastError: failure() });
    const expired = subject({ ...info({ expiresAt: T0 - 1 }), lastError: failure() });
    const config = subject({ ...info({ environment: 'staging' }), lastError: failure({ kind: 'config', message: 'bad', action: 'Check mlspanner.environments.staging.lakehouse.host.' }) });
    assert.equal(failureSentence([valid], T0), `Lakehouse token for dev could not be refreshed (Lakehouse unreachable); it stays valid until ${clock(T0 + 600_000)}.`);
    assert.equal(failureSentence([expired], T0), 'Lakehouse token for dev could not be refreshed (Lakehouse unreachable) and has expired.');
    assert.equal(failureSentence([valid, config], T0), 'Lakehouse token for dev and Lakehouse token for staging could not be refreshed (Lakehouse unreachable; a setting is wrong).');
    for (const s of [[valid], [expired], [config], [valid, config]]) assert.equal(failureSentence(s, T0).split(/[.;] [A-Z]/).length, 1, 'one sentence');

    const e = refreshFailureError([config], T0);
    assert.equal(e.kind, 'config');
    assert.deepEqual(
      e.remedies.map((r) => [r.title, r.command, r.args]),
      [
        ['Retry', 'mlspanner.refreshCredentials', [{ args: { environment: 'staging', target: 'lakehouse' } }]],
        ['Open Settings', 'workbench.action.openSettings', ['mlspanner.environments.dev.lakehouse.host']],
        ['Explain Access', 'mlspanner.explainAccess', [{ args: { environment: 'staging' } }]],
      ],
    );
    assert.deepEqual(refreshFailureError([valid], T0).remedies.map((r) => r.title), ['Retry', 'Explain Access']);
    assert.match(e.detail!, /Lakehouse token for staging: refresh failed at .*\n {2}Where: the token exchange with Lakehouse \(lake-dev\.example\.com\)\.\n {2}What: bad\n {2}Do: Check .*\n {2}Setting: mlspanner\.environments\.dev\.lakehouse\.host\n {2}Token: valid until .*\n {2}Next automatic retry: /);
  });
});

describe('refresh failures: one notification per episode', () => {
  const failing = (over: Partial<CredentialFailure> = {}, i: Partial<CredentialInfo> = {}) => ({ ...info(i), lastError: failure({ attempts: 1, since: T0, at: T0, ...over }) });

  it('a passing failure of a still-valid credential waits for the first retry; then one notification, whatever the attempts', () => {
    const ep = new FailureEpisodes();
    assert.equal(ep.update([failing()], T0).length, 0, 'first attempt: it may pass');
    assert.equal(ep.update([failing({ attempts: 2 })], T0 + 30_000).length, 1);
    for (let n = 3; n < 200; n++) assert.equal(ep.update([failing({ attempts: n })], T0 + n * 30_000).length, 0, `attempt ${n}`);
    assert.equal(ep.update([failing({ attempts: 200 }, { expiresAt: T0 - 1 })], T0 + 7000_000).length, 0, 'expiring later is the same episode');
  });

  it('tells at once when the token has expired or retrying cannot help; a success ends the episode', () => {
    const ep = new FailureEpisodes();
    assert.equal(ep.update([failing({}, { expiresAt: T0 - 1 })], T0).length, 1);
    assert.equal(ep.update([info()], T0 + 1).length, 0, 'success');
    assert.equal(ep.update([failing({ since: T0 + 2, kind: 'config' })], T0 + 2).length, 1, 'a new episode');
  });

  it('never-issued failures, failures the session covers and acknowledged ones make none', () => {
    const ep = new FailureEpisodes();
    assert.equal(ep.update([failing({ kind: 'config' }, { expiresAt: undefined })], T0).length, 0, 'the command that asked reports it');
    assert.equal(ep.update([failing({ kind: 'auth', stage: 'identity', attempts: 5 }, { environment: 'staging' })], T0, true).length, 0, 'the session notification covers it');
    const config = failing({ kind: 'config' });
    ep.acknowledge([config], 'dev');
    assert.equal(ep.update([config], T0).length, 0);
    assert.equal(ep.update([failing({ kind: 'config' }, { environment: 'other' })], T0, false, () => true).length, 0, 'held by a running command');
  });

  it('the session: one notification per episode, after a retry failed too or once it expired', () => {
    const ep = new FailureEpisodes();
    const s1 = {};
    assert.equal(ep.updateSession({ state: s1, error: 'down', expiresAt: T0 + 60_000 }, T0), false);
    assert.equal(ep.updateSession({ state: s1, error: 'down', expiresAt: T0 + 60_000 }, T0), false, 'the same state again is not a new failure');
    assert.equal(ep.updateSession({ state: {}, error: 'down', expiresAt: T0 + 60_000 }, T0 + 15_000), true);
    for (let i = 0; i < 50; i++) assert.equal(ep.updateSession({ state: {}, error: 'down', expiresAt: T0 + 60_000 }, T0 + i * 60_000), false);
    assert.equal(ep.updateSession({ state: {} }, T0), false);
    assert.equal(ep.sessionFailing, false);
    assert.equal(ep.updateSession({ state: {}, error: 'down', expiresAt: T0 - 1 }, T0), true, 'expired: at once');
  });
});
