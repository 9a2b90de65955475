import { strict as assert } from 'node:assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import type { AccessGate } from '../../src/core/access/AccessGate';
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
    assert.deepEqual([info.lastError?.attempts, info.lastError?.since, info.lastError?.at, info.state], [4, T0 + 810_000, T0 + 900_000, 'failed']);
    lake.state.mode = 'ok';
    await fake.tickAsync(30_000);
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
