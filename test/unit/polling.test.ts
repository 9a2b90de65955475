import * as assert from 'node:assert/strict';
import { AdaptivePollSchedule, DEFAULT_POLL_CAP_MS, FixedPollSchedule, pollDelayMs } from '../../src/core/databricks/PollSchedule';

describe('PollSchedule', () => {
  it('polls fast at first, backs off while the state holds, and caps at 10 s', () => {
    const s = new AdaptivePollSchedule();
    const delays = Array.from({ length: 10 }, () => s.next('RUNNING/'));
    assert.deepEqual(delays, [1000, 1000, 2000, 3000, 5000, 8000, 10000, 10000, 10000, 10000]);
  });

  it('returns to the fast step on every state change', () => {
    const s = new AdaptivePollSchedule();
    for (let i = 0; i < 8; i++) s.next('PENDING/');
    assert.equal(s.next('PENDING/'), DEFAULT_POLL_CAP_MS);
    assert.equal(s.next('RUNNING/'), 1000);
    assert.equal(s.next('RUNNING/'), 1000);
    assert.equal(s.next('RUNNING/'), 2000);
    assert.equal(s.next('TERMINATING/'), 1000);
  });

  it('reset() makes the next poll fast even without a change', () => {
    const s = new AdaptivePollSchedule();
    for (let i = 0; i < 6; i++) s.next('RUNNING/');
    s.reset();
    assert.equal(s.next('RUNNING/'), 1000);
  });

  it('honours custom steps and a cap below a step', () => {
    const s = new AdaptivePollSchedule({ stepsMs: [200, 700, 4000], capMs: 3000 });
    assert.deepEqual([s.next('a'), s.next('a'), s.next('a'), s.next('a')], [200, 700, 3000, 3000]);
  });

  it('pollDelayMs is a pure table', () => {
    const table: [number, number][] = [
      [0, 1000],
      [1, 1000],
      [2, 2000],
      [3, 3000],
      [4, 5000],
      [5, 8000],
      [6, 10000],
      [60, 10000],
    ];
    for (const [unchanged, ms] of table) assert.equal(pollDelayMs(unchanged), ms, `after ${unchanged} unchanged polls`);
  });

  it('the fixed baseline never changes', () => {
    const s = new FixedPollSchedule(3000);
    assert.deepEqual([s.next(), s.next(), s.next()], [3000, 3000, 3000]);
  });
});
