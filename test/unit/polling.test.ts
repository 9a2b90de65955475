import * as assert from 'node:assert/strict';
import { AdaptivePollSchedule, DEFAULT_POLL_CAP_MS, FixedPollSchedule, RunPollSchedule, expectedEndWindow, pollDelayMs } from '../../src/core/databricks/PollSchedule';

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

  /** Feeds observations on a fake clock: each poll happens when the previous delay says. */
  function drive(schedule: RunPollSchedule, timeline: [untilMs: number, state: string][], startMs = 0): [atMs: number, state: string, delayMs: number][] {
    const polls: [number, string, number][] = [];
    let t = startMs;
    for (let i = 0; i < 1000; i++) {
      const step = timeline.find(([until]) => t < until);
      if (!step) return polls;
      const delay = schedule.next(`${step[1]}/`, { now: t, startTime: startMs });
      polls.push([t, step[1], delay]);
      t += delay;
    }
    throw new Error('the run never ended');
  }

  describe('RunPollSchedule', () => {
    it('caps each state differently without history: RUNNING 4.5 s, QUEUED and PENDING 15 s, TERMINATING every second', () => {
      const table: [state: string, delays: number[]][] = [
        ['QUEUED', [1000, 1000, 2000, 3000, 5000, 8000, 15000, 15000]],
        ['PENDING', [1000, 1000, 2000, 3000, 5000, 8000, 15000, 15000]],
        ['RUNNING', [1000, 1000, 2000, 3000, 4500, 4500, 4500, 4500]],
        // Ten polls a second apart, then a teardown that takes longer backs off to 5 s.
        ['TERMINATING', [...Array<number>(10).fill(1000), 1000, 1000, 2000, 3000, 5000, 5000]],
        ['BLOCKED', [1000, 1000, 2000, 3000, 5000, 8000, 10000, 10000]],
      ];
      for (const [state, delays] of table) {
        const s = new RunPollSchedule();
        assert.deepEqual(
          delays.map((_, i) => s.next(`${state}/`, { now: i * 1000, startTime: 0 })),
          delays,
          state,
        );
      }
    });

    it('starts fast again on every state change and after reset()', () => {
      const s = new RunPollSchedule();
      for (let i = 0; i < 8; i++) s.next('PENDING/');
      assert.equal(s.next('PENDING/'), 15_000);
      assert.equal(s.next('RUNNING/'), 1000);
      assert.equal(s.next('RUNNING/'), 1000);
      assert.equal(s.next('RUNNING/'), 2000);
      assert.equal(s.next('TERMINATING/'), 1000);
      s.reset();
      assert.equal(s.next('TERMINATING/'), 1000);
    });

    it('derives the end window from earlier durations: their range widened by 10 % of the median (at least 2 s)', () => {
      const table: [durations: number[], window: { startMs: number; endMs: number } | undefined][] = [
        [[], undefined],
        [[0, -5, Number.NaN], undefined],
        [[100_000], { startMs: 90_000, endMs: 110_000 }],
        [[95_000, 105_000, 100_000], { startMs: 85_000, endMs: 115_000 }],
        [[10_000, 12_000], { startMs: 8000, endMs: 14_000 }],
        [[1000], { startMs: 0, endMs: 3000 }],
      ];
      for (const [durations, window] of table) assert.deepEqual(expectedEndWindow(durations), window, JSON.stringify(durations));
      // Only the newest 20 count.
      assert.deepEqual(expectedEndWindow([...Array(20).fill(60_000), 1_000_000]), { startMs: 54_000, endMs: 66_000 });
    });

    it('with history polls sparsely until the window, densely inside it, and lands on its start', () => {
      // Earlier runs took 100 s: the window is 90-110 s. This run: RUNNING from 20 s, ends at 102 s.
      const s = new RunPollSchedule({ previousDurationsMs: [100_000] });
      const polls = drive(s, [
        [1000, 'QUEUED'],
        [20_000, 'PENDING'],
        [100_000, 'RUNNING'],
        [102_000, 'TERMINATING'],
      ]);
      assert.deepEqual(polls, [
        [0, 'QUEUED', 1000],
        [1000, 'PENDING', 1000],
        [2000, 'PENDING', 1000],
        [3000, 'PENDING', 2000],
        [5000, 'PENDING', 3000],
        [8000, 'PENDING', 5000],
        [13_000, 'PENDING', 8000],
        [21_000, 'RUNNING', 1000],
        [22_000, 'RUNNING', 1000],
        [23_000, 'RUNNING', 2000],
        [25_000, 'RUNNING', 3000],
        [28_000, 'RUNNING', 5000],
        [33_000, 'RUNNING', 8000],
        [41_000, 'RUNNING', 30_000],
        [71_000, 'RUNNING', 19_000],
        [90_000, 'RUNNING', 3000],
        [93_000, 'RUNNING', 3000],
        [96_000, 'RUNNING', 3000],
        [99_000, 'RUNNING', 3000],
      ]);
      // The end (102 s) is seen at the next poll: 0 s late; fixed 3 s polling from 0 s would also poll at 102 s.
    });

    it('falls back to the RUNNING cap when the run overruns its window', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [10_000] });
      // Window 8-12 s; at 20 s the run is late: no dense polling, no sparse polling.
      const table: [nowMs: number, delay: number][] = [
        [20_000, 1000],
        [21_000, 1000],
        [22_000, 2000],
        [24_000, 3000],
        [27_000, 4500],
        [31_500, 4500],
      ];
      for (const [now, delay] of table) assert.equal(s.next('RUNNING/', { now, startTime: 0 }), delay, `at ${now} ms`);
    });

    it('inside the window a run still waiting for its cluster keeps the PENDING cap', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [10_000] });
      const delays = [8000, 9000, 10_000, 12_000, 15_000, 20_000, 28_000].map((now) => s.next('PENDING/', { now, startTime: 0 }));
      assert.deepEqual(delays, [1000, 1000, 2000, 3000, 5000, 8000, 15000]);
    });

    it('ignores history when the start time is unknown, and in TERMINATING', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [600_000] });
      assert.deepEqual([s.next('RUNNING/'), s.next('RUNNING/'), s.next('RUNNING/'), s.next('RUNNING/'), s.next('RUNNING/'), s.next('RUNNING/')], [1000, 1000, 2000, 3000, 4500, 4500]);
      const t = new RunPollSchedule({ previousDurationsMs: [600_000] });
      assert.deepEqual(
        [0, 1, 2, 4].map((sec) => t.next('TERMINATING/', { now: sec * 1000, startTime: 0 })),
        [1000, 1000, 1000, 1000],
      );
    });
  });
});
