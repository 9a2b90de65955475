import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AccessGate } from '../../src/core/access/AccessGate';
import { originsIn, type HostAnswer, type HostTrustStore } from '../../src/core/access/hostTrust';
import { AccessLog, type AccessEventInput } from '../../src/core/audit/AccessLog';
import { SessionManager } from '../../src/core/auth/SessionManager';
import type { Credential } from '../../src/core/credentials/Credential';
import { DatabricksClient } from '../../src/core/databricks/DatabricksClient';
import { JobRunner, MemoryRunStore } from '../../src/core/databricks/JobRunner';
import { errorMessage, UserFacingError } from '../../src/core/errors';
import { createHttpClient } from '../../src/core/http/HttpClient';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { DEFAULT_DURATIONS } from '../../sandbox/databricks/DatabricksWorkspace';
import { startFaultProxy, type FaultProxy } from '../../sandbox/FaultProxy';
import { TestSecretStorage } from '../unit/fakes/TestSecretStorage';
import { sandboxIdp, userAtBrowser } from './signInAs';
import { sandbox } from './setup';

const HOUR = 3600_000;

/** Host trust for these tests: every host the test settings name counts as the user's own. */
class MemoryHostTrust implements HostTrustStore {
  answers(): Record<string, HostAnswer> {
    return {};
  }
  async record(): Promise<void> {}
  async forget(): Promise<void> {}
}

/**
 * Faults injected through the sandbox's knobs (the IdP's token endpoint faults, the fault proxy
 * in front of the emulators, the Databricks workspace's own knobs), against the real core: the
 * session manager, the access gate and broker, the HTTP client, the Databricks client and job
 * runner. Every case ends in a clear state (an error that names what happened, or recovery),
 * with every access-log entry written and the chain intact, and no unhandled rejection.
 */
describe('fault suite: the core against a misbehaving sandbox', function () {
  this.timeout(60_000);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  let dir: string;
  const proxies: Record<'databricks' | 'googleSts' | 'awsSts', FaultProxy> = {} as never;
  let settings: Record<string, Record<string, Record<string, unknown>>>;
  const open: Array<{ dispose(): void }> = [];

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    dir = mkdtempSync(path.join(tmpdir(), 'mlspanner-faults-'));
    const s = sandbox();
    proxies.databricks = await startFaultProxy({ target: s.databricks.staging });
    proxies.googleSts = await startFaultProxy({ target: s.google.stsUrl });
    proxies.awsSts = await startFaultProxy({ target: s.aws.stsUrl });
    settings = JSON.parse(JSON.stringify(s.environments)) as typeof settings;
    settings.staging.databricks.host = proxies.databricks.url;
    // staging inherits both from dev.
    settings.dev.spanner.stsEndpoint = `${proxies.googleSts.url}${new URL(s.google.stsUrl).pathname.replace(/\/$/, '')}`;
    settings.dev.aws.stsEndpoint = proxies.awsSts.url;
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    if (process.env.MLSPANNER_FAULTS_VERBOSE === '1')
      for (const [name, p] of Object.entries(proxies)) process.stdout.write(`      ${name} proxy: ${JSON.stringify(p.stats())}\n`);
    await sandbox().admin.failTokenEndpoint(undefined);
    for (const p of Object.values(proxies)) await p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const p of Object.values(proxies)) p.clear();
    await sandbox().admin.failTokenEndpoint(undefined);
    for (const o of open.splice(0)) o.dispose();
  });

  let n = 0;
  /** One window: its own access log, session and gate; `skewMs` sets this machine's clock off. */
  async function world(opts: { user?: string; skewMs?: number; timeoutMs?: number; signIn?: boolean } = {}) {
    const now = () => Date.now() + (opts.skewMs ?? 0);
    const log = new AccessLog(path.join(dir, `access-${++n}.jsonl`), () => ({}), now);
    const recorded: AccessEventInput[] = [];
    const sink = { record: (e: AccessEventInput) => (recorded.push(e), log.record(e)) };
    const secrets = new TestSecretStorage();
    const sessions = new SessionManager({
      settings: () => sandboxIdp(),
      secrets,
      sink,
      flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
      signInTimeoutMs: 20_000,
      now,
    });
    if (opts.signIn !== false) await sessions.signIn(userAtBrowser(opts.user ?? 'alice'));
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      await new Promise((r) => setImmediate(r));
    };
    const gate = new AccessGate({
      identity: sessions,
      environments: () => resolveEnvironments(settings),
      sink,
      http: (service) => createHttpClient({ service, timeoutMs: opts.timeoutMs ?? 5000, sleep }),
      now,
      hostTrust: { store: new MemoryHostTrust(), userSettingsHosts: () => originsIn(settings) },
    });
    open.push(gate, sessions);
    const grant = (environment: string, target: string, purpose: 'refresh' | 'job' = 'refresh') => {
      const d = gate.request({ environment, purpose, targets: [target] });
      if (d.kind !== 'granted') throw new Error(`expected a grant for ${environment}/${target}, got ${d.kind}`);
      return d.grant;
    };
    const credential = (environment: string, target: string, forceRefresh = false): Promise<Credential> => gate.credential(grant(environment, target), target, { forceRefresh });
    return { gate, sessions, secrets, log, recorded, sleeps, sleep, now, grant, credential };
  }

  /**
   * The end of every case: no unhandled rejection, every recorded entry in the log with the chain
   * intact, and the expected entries present. Returns the entry types in order.
   */
  async function settled(w: Awaited<ReturnType<typeof world>>, expected: string[]): Promise<string[]> {
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled.map(errorMessage), [], 'no unhandled rejection');
    const v = await w.log.verify();
    assert.equal(v.ok, true, `chain intact: ${JSON.stringify(v.breaks)}`);
    assert.equal(v.count, w.recorded.length, 'no access-log entry lost');
    const types = (await w.log.entries()).map((e) => e.type);
    for (const t of expected) assert.ok(types.includes(t as never), `${t} in ${types.join(', ')}`);
    return types;
  }

  const isClear = (pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof UserFacingError, `a UserFacingError, not ${String(e)}`);
    assert.match(errorMessage(e), pattern);
    assert.doesNotMatch(errorMessage(e), /\{\}|undefined|\[object Object\]/);
    return true;
  };

  describe('identity provider', () => {
    it('provider down during refresh (connection dropped, then 503): the session and its credentials live on, then refresh recovers', async () => {
      const w = await world();
      await sandbox().admin.failTokenEndpoint({ reset: true, count: Infinity });
      await assert.rejects(w.sessions.refresh(), isClear(/identity provider|127\.0\.0\.2|connection|reach/i));
      assert.equal(w.sessions.state.kind, 'signedIn', 'a network failure keeps the session');
      await sandbox().admin.failTokenEndpoint({ status: 503, count: Infinity });
      await assert.rejects(w.sessions.refresh(), isClear(/503|unavailable/i));
      assert.equal(w.sessions.state.kind, 'signedIn');
      // The ID token from sign-in is still good: credentials are issued meanwhile.
      assert.ok((await w.credential('staging', 'databricks')).expiresAt > w.now());
      await sandbox().admin.failTokenEndpoint(undefined);
      const s = await w.sessions.refresh();
      assert.equal(s.subject.length > 0, true);
      const types = await settled(w, ['signIn', 'sessionRefreshFailed', 'credentialIssued', 'sessionRefreshed']);
      assert.equal(types.filter((t) => t === 'sessionRefreshFailed').length, 2);
    });

    it('a rotated refresh token used again (a stale copy): that window ends with the reason, and the provider ends the grant', async () => {
      const w = await world();
      const stale = new TestSecretStorage();
      for (const [k, v] of w.secrets.data) await stale.store(k, v);
      await w.sessions.refresh(); // rotates: the old refresh token is spent
      assert.notDeepEqual([...w.secrets.data.values()], [...stale.data.values()], 'the refresh token was rotated');
      const copy = new SessionManager({
        settings: () => sandboxIdp(),
        secrets: stale,
        sink: { record: (e) => (w.recorded.push(e), w.log.record(e)) },
        flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
        signInTimeoutMs: 20_000,
      });
      open.push(copy);
      await copy.restore().catch(() => undefined);
      await assert.rejects(copy.refresh(), isClear(/session ended|sign in|grant/i));
      assert.equal(copy.state.kind, 'signedOut');
      assert.match(copy.state.kind === 'signedOut' ? (copy.state.reason ?? '') : '', /ended|sign/i);
      // RFC 9700 §4.14.2: reuse of a rotated token revokes the grant, so the live window ends too, clearly.
      await assert.rejects(w.sessions.refresh(), isClear(/session ended|sign in|grant/i));
      assert.equal(w.sessions.state.kind, 'signedOut');
      const d = w.gate.request({ environment: 'staging', purpose: 'refresh', targets: ['databricks'] });
      assert.match(d.kind === 'denied' ? d.reason : d.kind, /not signed in/);
      const types = await settled(w, ['signIn', 'sessionRefreshed', 'sessionRefreshFailed', 'accessDenied']);
      assert.equal(types.filter((t) => t === 'sessionRefreshFailed').length, 2, 'both windows recorded their end');
    });

    it('a revoked refresh token: sign-out with the reason, and the next use is denied as not signed in', async () => {
      const w = await world({ user: 'bob' });
      await sandbox().admin.revokeUser('bob');
      await assert.rejects(w.sessions.refresh(), isClear(/session ended|sign in|grant/i));
      assert.equal(w.sessions.state.kind, 'signedOut');
      const d = w.gate.request({ environment: 'dev', purpose: 'refresh', targets: ['databricks'] });
      assert.equal(d.kind, 'denied');
      assert.match(d.kind === 'denied' ? d.reason : '', /not signed in/);
      await settled(w, ['signIn', 'sessionRefreshFailed', 'accessDenied']);
    });
  });

  describe('cloud services behind the fault proxy', () => {
    it('a 429 storm at Databricks: Retry-After is honoured and the call answers; a storm longer than the retries ends in a clear error, then recovers', async () => {
      const w = await world();
      const client = new DatabricksClient(proxies.databricks.url, w.gate.tokenSource(w.grant('staging', 'databricks', 'job'), 'databricks'), { http: { sleep: w.sleep } });
      proxies.databricks.inject({ kind: 'status', status: 429, retryAfterSeconds: 2 }, 3);
      assert.ok((await client.listAllJobs()).length > 0);
      assert.deepEqual(w.sleeps.slice(-3), [2000, 2000, 2000]);
      proxies.databricks.inject({ kind: 'status', status: 429, retryAfterSeconds: 1 }, 50);
      await assert.rejects(client.listAllJobs(), (e: unknown) => /429|too many|rate/i.test(errorMessage(e)) && /Databricks/.test(errorMessage(e)));
      proxies.databricks.clear();
      assert.ok((await client.listAllJobs()).length > 0, 'recovers once the storm ends');
      await settled(w, ['signIn', 'credentialIssued']);
    });

    it('a 503 storm at Google STS during the exchange: retried through; a longer one is a recorded, named failure; then recovery', async () => {
      const w = await world();
      proxies.googleSts.inject({ kind: 'status', status: 503, retryAfterSeconds: 1 }, 2);
      assert.equal((await w.credential('dev', 'google')).kind, 'bearer');
      proxies.googleSts.inject({ kind: 'status', status: 503 }, Infinity);
      await assert.rejects(w.credential('dev', 'google', true), isClear(/Google STS.*(503|unavailable)|503.*Google/i));
      proxies.googleSts.clear();
      assert.equal((await w.credential('dev', 'google', true)).kind, 'bearer');
      const types = await settled(w, ['credentialIssued', 'credentialFailed', 'credentialRefreshed']);
      assert.equal(types.filter((t) => t === 'credentialFailed').length, 1);
    });

    it('slow and trickled bodies: within the deadline they answer; beyond it, a timeout that names the service, then recovery', async () => {
      const w = await world({ timeoutMs: 1500 });
      proxies.awsSts.inject({ kind: 'slow', delayMs: 300 });
      assert.equal((await w.credential('dev', 'aws')).kind, 'aws');
      proxies.awsSts.inject({ kind: 'trickle', chunkBytes: 128, intervalMs: 10 });
      assert.equal((await w.credential('dev', 'aws', true)).kind, 'aws');
      proxies.awsSts.inject({ kind: 'slow', delayMs: 4000 });
      await assert.rejects(w.credential('dev', 'aws', true), isClear(/AWS STS did not answer within 1\.5 s/));
      proxies.awsSts.inject({ kind: 'trickle', chunkBytes: 1, intervalMs: 100 });
      await assert.rejects(w.credential('dev', 'aws', true), isClear(/AWS STS did not answer within 1\.5 s/));
      proxies.awsSts.clear();
      assert.equal((await w.credential('dev', 'aws', true)).kind, 'aws');
      const types = await settled(w, ['credentialIssued', 'credentialRefreshed', 'credentialFailed']);
      assert.equal(types.filter((t) => t === 'credentialFailed').length, 2);
    });

    it('connection resets: a GET cut mid-body is retried to an answer; an exchange whose connection drops fails once, named, and the next one works', async () => {
      const w = await world();
      const client = new DatabricksClient(proxies.databricks.url, w.gate.tokenSource(w.grant('staging', 'databricks', 'job'), 'databricks'), { http: { sleep: w.sleep } });
      await client.listAllJobs(); // the credential first, so the cut lands on the REST call
      proxies.databricks.inject({ kind: 'reset' }, 2);
      assert.ok((await client.listAllJobs()).length > 0);
      assert.equal(proxies.databricks.stats().faults.reset, 2);
      proxies.awsSts.inject({ kind: 'down' });
      await assert.rejects(w.credential('dev', 'aws'), isClear(/AWS/));
      assert.equal((await w.credential('dev', 'aws')).kind, 'aws');
      await settled(w, ['credentialIssued', 'credentialFailed']);
    });
  });

  describe('clock skew', () => {
    it("this machine's clock one hour ahead: the sign-in says the clock is off, and nothing is issued", async () => {
      const w = await world({ skewMs: HOUR, signIn: false });
      const exchanges = proxies.databricks.stats().requests;
      await assert.rejects(w.sessions.signIn(userAtBrowser('alice')), isClear(/This computer's clock is at least \d+ min ahead of the identity provider's/));
      assert.equal(w.sessions.state.kind, 'signedOut');
      assert.equal(w.gate.request({ environment: 'staging', purpose: 'refresh', targets: ['databricks'] }).kind, 'denied');
      assert.equal(proxies.databricks.stats().requests, exchanges, 'no exchange was tried');
      await settled(w, ['signInFailed', 'accessDenied']);
    });

    it("this machine's clock one hour behind: credentials issued and cached, lifetimes measured on this clock, no exchange loop", async () => {
      const w = await world({ skewMs: -HOUR });
      const before = proxies.databricks.stats().requests + proxies.awsSts.stats().requests;
      for (const [env, target] of [['staging', 'databricks'], ['dev', 'aws']] as const) {
        const first = await w.credential(env, target);
        const again = await w.credential(env, target);
        assert.equal(again.fingerprint, first.fingerprint, 'cached, not exchanged again');
        const left = first.expiresAt - w.now();
        assert.ok(left > 60_000 && left <= 3600_000, `${target}: ${left} ms left by this machine's clock`);
      }
      // Databricks: discovery and one exchange; AWS: one exchange.
      assert.ok(proxies.databricks.stats().requests + proxies.awsSts.stats().requests - before <= 3, 'no loop');
      await settled(w, ['signIn', 'credentialIssued']);
    });
  });

  describe('a job run while its token expires', () => {
    after(async () => {
      await fetch(`${proxies.databricks.target}/__sandbox/knobs`, { method: 'POST', body: JSON.stringify({ durations: DEFAULT_DURATIONS }) });
    });

    it('the token expires mid-run and the service answers 503 twice: the run is tracked to its end with one run-now and a fresh token', async () => {
      const w = await world();
      await fetch(`${proxies.databricks.target}/__sandbox/knobs`, {
        method: 'POST',
        body: JSON.stringify({ durations: { queuedMs: 200, pendingMs: 200, runningMs: 1500, terminatingMs: 200 } }),
      });
      const client = new DatabricksClient(proxies.databricks.url, w.gate.tokenSource(w.grant('staging', 'databricks', 'job'), 'databricks'), { http: { sleep: w.sleep } });
      const runner = new JobRunner({ environment: 'staging', client, store: new MemoryRunStore(), sink: { record: (e) => (w.recorded.push(e), w.log.record(e)) }, useRunHistory: false });
      const [job] = await client.listAllJobs({ name: 'nightly-features' });
      const runNows = async () => ((await (await fetch(`${proxies.databricks.target}/__sandbox/stats`)).json()) as { requests: Record<string, number> }).requests['POST /api/2.2/jobs/run-now'] ?? 0;
      const runNowsBefore = await runNows();
      let expired = false;
      const result = await runner.runJob(
        { jobId: job.job_id!, jobName: 'nightly-features' },
        {
          onProgress: (p) => {
            if (p.state.life_cycle_state !== 'RUNNING' || expired) return;
            expired = true;
            // Every token the workspace issued so far stops working, and the gateway stumbles.
            void fetch(`${proxies.databricks.target}/__sandbox/knobs`, { method: 'POST', body: JSON.stringify({ expireAllTokens: true }) }).then(() =>
              proxies.databricks.inject({ kind: 'status', status: 503, retryAfterSeconds: 0 }, 2),
            );
          },
        },
      );
      assert.ok(expired, 'the token expired while the run was RUNNING');
      assert.equal(result.outcome, 'succeeded');
      assert.equal((await runNows()) - runNowsBefore, 1, 'one run-now');
      const types = await settled(w, ['credentialIssued', 'credentialRefreshed', 'jobRequested', 'jobStarted', 'jobFinished']);
      assert.equal(types.filter((t) => t === 'jobStarted').length, 1, 'one run');
    });

    it('the session ends mid-run (signed out, then the provider revokes the grant): polling pauses, and after a new sign-in the same run is tracked to its end', async () => {
      const w = await world({ user: 'carol' });
      await fetch(`${proxies.databricks.target}/__sandbox/knobs`, {
        method: 'POST',
        body: JSON.stringify({ durations: { queuedMs: 200, pendingMs: 200, runningMs: 1500, terminatingMs: 200 } }),
      });
      const client = new DatabricksClient(proxies.databricks.url, w.gate.tokenSource(w.grant('staging', 'databricks', 'job'), 'databricks'), { http: { sleep: w.sleep } });
      let pauses = 0;
      const runner = new JobRunner({
        environment: 'staging',
        client,
        store: new MemoryRunStore(),
        sink: { record: (e) => (w.recorded.push(e), w.log.record(e)) },
        useRunHistory: false,
        // The shell shows "sign in again to keep watching"; here the user does so at once.
        onAuthRequired: async () => {
          pauses++;
          await w.sessions.signIn(userAtBrowser('carol'));
        },
      });
      const [job] = await client.listAllJobs({ name: 'nightly-features' });
      let ended = false;
      const result = await runner.runJob(
        { jobId: job.job_id! },
        {
          onProgress: (p) => {
            if (p.state.life_cycle_state !== 'RUNNING' || ended) return;
            ended = true;
            void w.sessions
              .signOut()
              .then(() => sandbox().admin.revokeUser('carol'))
              .then(() => fetch(`${proxies.databricks.target}/__sandbox/knobs`, { method: 'POST', body: JSON.stringify({ expireAllTokens: true }) }));
          },
        },
      );
      assert.ok(ended);
      assert.equal(result.outcome, 'succeeded');
      assert.equal(pauses, 1, 'paused once for the sign-in');
      const types = await settled(w, ['signOut', 'accessDenied', 'signIn', 'jobStarted', 'jobFinished']);
      assert.equal(types.filter((t) => t === 'signIn').length, 2);
    });
  });
});
