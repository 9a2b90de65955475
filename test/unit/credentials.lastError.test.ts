import { strict as assert } from 'node:assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import type { AccessGate } from '../../src/core/access/AccessGate';
import { retryDelayMs } from '../../src/core/credentials/CredentialBroker';
import { LEAKED_JWT, T0, lakehouseGate } from './fakes/lakehouseTarget';

async function use(gate: AccessGate, environment = 'dev', forceRefresh = false) {
  const d = gate.request({ environment, purpose: 'view' });
  if (d.kind !== 'granted') throw new Error(d.kind);
  return gate.credential(d.grant, 'lakehouse', { forceRefresh });
}

describe('CredentialBroker: the last failure, typed', () => {
  let fake: FakeTimers.Clock;
  beforeEach(() => (fake = FakeTimers.createClock(T0)));

  it('counts the attempts of an episode, says when the next automatic one is, and clears on success', async () => {
    const { gate, lake } = lakehouseGate(fake);
    gate.startAutoRefresh({ idleMs: 3600_000, retryMs: 30_000 });
    await use(gate);
    lake.state.mode = 'down';
    await fake.tickAsync(810_000);
    let [info] = gate.credentials.peek();
    assert.deepEqual(
      { ...info.lastError, message: undefined },
      { kind: 'network', message: undefined, action: info.lastError?.action, stage: 'exchange', service: 'Lakehouse', remedies: [], at: T0 + 810_000, since: T0 + 810_000, attempts: 1, nextAttemptAt: T0 + 840_000 },
    );
    assert.match(info.lastError!.message, /Lakehouse is unreachable at https:\/\/lake-dev\.example\.com \(ECONNREFUSED/);
    await fake.tickAsync(90_000);
    [info] = gate.credentials.peek();
    // Tries at 810 s, 840 s (+30 s), 900 s (+60 s); the next waits 120 s (backoff).
    assert.deepEqual([info.lastError?.attempts, info.lastError?.since, info.lastError?.at, info.lastError?.nextAttemptAt, info.state], [3, T0 + 810_000, T0 + 900_000, T0 + 1_020_000, 'failed']);
    lake.state.mode = 'ok';
    await fake.tickAsync(120_000);
    [info] = gate.credentials.peek();
    assert.deepEqual([info.lastError, info.error, info.state], [undefined, undefined, 'valid']);
    gate.dispose();
  });

  it('no automatic retry planned: nextAttemptAt is absent (auto refresh off, or never issued)', async () => {
    const { gate, lake } = lakehouseGate(fake);
    lake.state.mode = 'down';
    await assert.rejects(use(gate));
    assert.equal(gate.credentials.peek()[0].lastError?.nextAttemptAt, undefined);
    gate.dispose();
  });

  it('tells a failure to renew the sign-in session (stage identity) from a failed exchange, and redacts the message', async () => {
    const { gate, lake, identity } = lakehouseGate(fake);
    await use(gate);
    fake.tick(850_000);
    identity.down = true;
    await assert.rejects(use(gate));
    assert.deepEqual([gate.credentials.peek()[0].lastError?.stage, gate.credentials.peek()[0].lastError?.kind], ['identity', 'network']);
    identity.down = false;
    lake.state.mode = 'leak';
    await assert.rejects(use(gate, 'dev', true));
    const f = gate.credentials.peek()[0].lastError!;
    assert.deepEqual([f.stage, f.attempts], ['exchange', 2]);
    assert.ok(!f.message.includes(LEAKED_JWT.slice(0, 24)), f.message);
    assert.match(f.message, /\[redacted\]/);
    gate.dispose();
  });
});

describe('retryDelayMs: the wait before an automatic renewal tries again', () => {
  it('doubles from retryMs after each failure of the episode, up to 5 minutes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => retryDelayMs(30_000, n)), [30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);
    assert.equal(retryDelayMs(600_000, 3), 600_000, 'a longer configured interval is kept');
    assert.equal(retryDelayMs(30_000, 0), 30_000);
  });
});
