import * as assert from 'node:assert/strict';
import * as FakeTimers from '@sinonjs/fake-timers';
import { AuditForwarder, type AuditForwarderOptions } from '../../../src/core/audit/forwarding/AuditForwarder';
import { FakeCollector, jsonEncode, MemoryCursorStore, MemoryLease, MemorySource, ok, refused, status } from './forwardingFakes';

const ENDPOINT = 'https://collector.example:4318/v1/logs';
const T0 = Date.UTC(2026, 11, 1, 14, 0, 0);
const identity = { serviceVersion: '0.1.0', hostName: 'host-1', osUser: 'alice' };

describe('audit forwarding: the forwarder (fake clock)', () => {
  let clock: ReturnType<typeof FakeTimers.install>;
  let source: MemorySource;
  let cursors: MemoryCursorStore;
  let lease: MemoryLease;
  let collector: FakeCollector;
  const forwarders: AuditForwarder[] = [];

  beforeEach(() => {
    clock = FakeTimers.install({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    source = new MemorySource();
    cursors = new MemoryCursorStore();
    lease = new MemoryLease();
    collector = new FakeCollector();
  });
  afterEach(async () => {
    for (const f of forwarders.splice(0)) await f.stop();
    clock.uninstall();
  });

  function forwarder(o: Partial<AuditForwarderOptions> = {}): AuditForwarder {
    const f = new AuditForwarder({ endpoint: ENDPOINT, source, cursors, lease, transport: collector, identity, encode: jsonEncode, random: () => 0.5, ...o });
    forwarders.push(f);
    return f;
  }

  /** Gaps between attempts, in ms. */
  const gaps = () => collector.attempts.slice(1).map((a, i) => a.at - collector.attempts[i].at);

  it('delivers every entry in order, in batches of at most the batch size, and moves the cursor to the last', async () => {
    source.append(1200);
    const f = forwarder({ batchSize: 512 });
    f.start();
    await clock.tickAsync(0);
    assert.deepEqual(
      collector.attempts.map((a) => a.records.length),
      [512, 512, 176],
    );
    assert.deepEqual(
      collector.seqs,
      Array.from({ length: 1200 }, (_, i) => i + 1),
      'seq 1..1200, no gaps, no duplicates',
    );
    assert.equal(source.largestBatch, 512, 'never more than one batch read at a time');
    assert.equal(cursors.cursors.get(ENDPOINT)?.seq, 1200);
    assert.equal(f.status.state, 'idle');
    assert.deepEqual(f.status.delivered, { seq: 1200, at: T0 });
    assert.equal((await f.overview()).pending, 0);
  });

  it('sends a burst of appends as one request after the debounce, and never waits in notify()', async () => {
    const f = forwarder({ debounceMs: 1000 });
    f.start();
    await clock.tickAsync(0);
    assert.equal(collector.attempts.length, 0, 'an empty log sends nothing');
    for (let i = 0; i < 20; i++) {
      source.append(1);
      assert.equal(f.notify(), undefined, 'notify() is synchronous');
    }
    await clock.tickAsync(999);
    assert.equal(collector.attempts.length, 0);
    await clock.tickAsync(1);
    assert.equal(collector.attempts.length, 1);
    assert.equal(collector.attempts[0].records.length, 20);
  });

  it('while the collector is down, tries a bounded number of times an hour (no hot loop), then delivers everything once it is back', async () => {
    source.append(30);
    collector.answer = refused;
    const f = forwarder({ random: () => 0 }); // the shortest waits the jitter allows
    f.start();
    for (let i = 0; i < 12; i++) {
      source.append(1);
      f.notify(); // appends during the outage do not shorten the waits
      await clock.tickAsync(5 * 60_000);
    }
    const attempts = collector.attempts.length;
    // random() = 0: waits of 0.5, 1, 2, … 128 s, then 150 s (half the 5 min cap): 32 attempts.
    assert.ok(attempts >= 10 && attempts <= 35, `${attempts} attempts in one hour`);
    assert.ok(
      gaps().every((g) => g >= 500),
      `every wait is at least 0.5 s: ${gaps().join(', ')}`,
    );
    assert.ok(gaps().slice(-3).every((g) => g >= 150_000), 'the waits grow to the cap (5 min, at least half of it with jitter)');
    assert.equal(f.status.state, 'retrying');
    assert.equal(f.status.failures, attempts);
    assert.match(f.status.lastError?.message ?? '', /ECONNREFUSED/);
    assert.equal(cursors.cursors.get(ENDPOINT), undefined, 'nothing acknowledged: the cursor did not move');

    collector.answer = ok;
    await clock.tickAsync(5 * 60_000);
    assert.deepEqual(
      collector.seqs,
      Array.from({ length: 42 }, (_, i) => i + 1),
    );
    assert.equal(cursors.cursors.get(ENDPOINT)?.seq, 42);
    assert.equal(f.status.failures, 0);
    assert.equal(f.status.lastError, undefined);
  });

  it('waits as long as Retry-After says on 429, then sends', async () => {
    source.append(3);
    collector.answer = status(429, { retryAfterMs: 120_000 });
    const f = forwarder({ random: () => 0 });
    f.start();
    await clock.tickAsync(0);
    assert.equal(collector.attempts.length, 1);
    collector.answer = ok;
    await clock.tickAsync(119_999);
    assert.equal(collector.attempts.length, 1, 'not before Retry-After');
    assert.equal(f.status.nextAttemptAt, T0 + 120_000);
    await clock.tickAsync(1);
    assert.equal(collector.attempts.length, 2);
    assert.deepEqual(collector.seqs, [1, 2, 3]);
  });

  it('after a refusal only the user can fix (401), tries again only at the longest interval and says to check the headers', async () => {
    source.append(2);
    collector.answer = status(401);
    const f = forwarder({ random: () => 0 });
    f.start();
    await clock.tickAsync(0);
    assert.equal(f.status.lastError?.retryable, false);
    assert.match(f.status.lastError?.action ?? '', /Set Audit Forwarding Headers/);
    await clock.tickAsync(150_000 - 1);
    assert.equal(collector.attempts.length, 1);
    await clock.tickAsync(1);
    assert.equal(collector.attempts.length, 2);
  });

  it('halves the batch on 413 until the collector takes it', async () => {
    source.append(100);
    collector.answer = (records) => (records.length > 25 ? status(413, { tooLarge: true }) : ok);
    const f = forwarder({ batchSize: 100 });
    f.start();
    await clock.tickAsync(0);
    assert.deepEqual(
      collector.attempts.map((a) => a.records.length),
      [100, 50, 25, 25, 25, 25],
    );
    assert.deepEqual(
      collector.seqs,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.match(f.status.notice ?? '', /batches of 25/);
  });

  it('stands by while another window holds the lease, and sends once it is free', async () => {
    source.append(5);
    lease.heldElsewhere = true;
    const f = forwarder({ standbyMs: 10_000, random: () => 0.5 });
    f.start();
    await clock.tickAsync(0);
    assert.equal(f.status.state, 'standby');
    assert.equal(collector.attempts.length, 0);
    f.notify();
    await clock.tickAsync(9_999);
    assert.equal(collector.attempts.length, 0, 'a new entry does not shorten the standby');
    lease.heldElsewhere = false;
    await clock.tickAsync(1);
    assert.deepEqual(collector.seqs, [1, 2, 3, 4, 5]);
  });

  it('two windows on one log and one cursor deliver each entry once', async () => {
    const a = forwarder();
    const b = forwarder();
    source.append(700);
    a.start();
    b.start();
    a.notify();
    b.notify();
    await clock.tickAsync(20_000);
    assert.deepEqual(
      collector.seqs,
      Array.from({ length: 700 }, (_, i) => i + 1),
    );
  });

  it('sends one request at a time, and dispose() cancels the one in flight and every timer', async () => {
    source.append(3);
    collector.answer = 'hang';
    const f = forwarder();
    f.start();
    await clock.tickAsync(0);
    f.notify();
    f.notify();
    await clock.tickAsync(10_000);
    assert.equal(collector.maxInFlight, 1);
    await f.stop();
    assert.equal(collector.inFlight, 0, 'the request was aborted');
    assert.equal(lease.held, false, 'the lease was released');
    assert.equal(f.status.state, 'stopped');
    const n = collector.attempts.length;
    await clock.tickAsync(3600_000);
    assert.equal(collector.attempts.length, n);
    assert.equal(clock.countTimers(), 0);
  });

  it('a new forwarder (a reload) resumes after the cursor', async () => {
    source.append(10);
    const first = forwarder();
    first.start();
    await clock.tickAsync(0);
    await first.stop();
    source.append(5);
    const second = forwarder();
    second.start();
    await clock.tickAsync(0);
    assert.deepEqual(
      collector.seqs,
      Array.from({ length: 15 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      collector.attempts.map((a) => a.records.length),
      [10, 5],
    );
  });

  it('sends a replaced log again from its start, and says so', async () => {
    source.append(3);
    await cursors.advance(ENDPOINT, { seq: 500, hash: 'x', offset: 0, deliveredAt: T0 - 1 });
    source.restartOnce = true;
    const logs: string[] = [];
    const f = forwarder({ log: (_l, m) => logs.push(m) });
    f.start();
    await clock.tickAsync(0);
    assert.deepEqual(collector.seqs, [1, 2, 3]);
    assert.match(f.status.notice ?? '', /deleted or replaced/);
    assert.ok(logs.some((m) => /deleted or replaced/.test(m)));
  });

  it('moves past records the collector accepted but dropped (partial success), and says so', async () => {
    source.append(4);
    collector.answer = { ok: true, rejected: 1, message: 'attribute too long' };
    const f = forwarder();
    f.start();
    await clock.tickAsync(0);
    assert.equal(cursors.cursors.get(ENDPOINT)?.seq, 4);
    assert.match(f.status.notice ?? '', /dropped 1 of 4 records.*attribute too long/);
  });

  it('treats an unreadable log like a failed attempt: it waits and tries again', async () => {
    let fail = true;
    const broken = Object.assign(Object.create(source) as MemorySource, {
      read: async (...args: Parameters<MemorySource['read']>) => {
        if (fail) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
        return source.read(...args);
      },
    });
    source.append(2);
    const f = forwarder({ source: broken, random: () => 0 });
    f.start();
    await clock.tickAsync(0);
    assert.equal(f.status.state, 'retrying');
    assert.match(f.status.lastError?.message ?? '', /Could not read the access log.*EACCES/);
    fail = false;
    await clock.tickAsync(1000);
    assert.deepEqual(collector.seqs, [1, 2]);
  });
});
