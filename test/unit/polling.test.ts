import * as assert from 'node:assert/strict';
import {
  AdaptivePollSchedule,
  DEFAULT_POLL_CAP_MS,
  FixedPollSchedule,
  RunPollSchedule,
  expectedEndWindow,
  pollDelayMs,
  type PollingSchedule,
} from '../../src/core/databricks/PollSchedule';

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

  /**
   * A run of `totalMs` shaped like the benchmark's: QUEUED 1 s, PENDING a quarter, RUNNING the
   * rest, TERMINATING 2 s, each phase scaled by `f` (a run a little faster or slower than usual).
   */
  function timeline(totalMs: number, f = 1): [number, string][] {
    const pending = totalMs / 4;
    const phases: [number, string][] = [
      [1000, 'QUEUED'],
      [pending, 'PENDING'],
      [totalMs - 3000 - pending, 'RUNNING'],
      [2000, 'TERMINATING'],
    ];
    let end = 0;
    return phases.map(([ms, state]) => [(end += Math.round(ms * f)), state]);
  }

  /** Requests (polls plus `prior`, the history lookup) and end-detection delay of one watched run. */
  function watch(schedule: PollingSchedule, tl: [number, string][], prior: number) {
    let t = 0;
    let requests = prior;
    for (;;) {
      requests++;
      const step = tl.find(([until]) => t < until);
      if (!step) return { requests, delayMs: t - tl[tl.length - 1][0] };
      t += schedule.next(`${step[1]}/`, { now: t, startTime: 0 });
    }
  }

  const SWEEP_S = [5, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600, 7200];
  /** Runs 15 % faster to 15 % slower than usual, in even steps: their ends fall anywhere between two fixed polls. */
  const FACTORS = Array.from({ length: 25 }, (_, i) => 0.85 + (0.3 * i) / 24);
  const HISTORY_FACTORS = [0.93, 1.07, 0.97, 1.02, 1];

  describe('RunPollSchedule', () => {
    it('without history: the delay is 30 % of the run age, at least 1 s, capped per state (RUNNING 8 s, QUEUED and PENDING 15 s)', () => {
      const table: [state: string, ageMs: number, delayMs: number][] = [
        ['QUEUED', 0, 1000],
        ['QUEUED', 2000, 1000],
        ['PENDING', 10_000, 3000],
        ['PENDING', 40_000, 12_000],
        ['PENDING', 600_000, 15_000],
        ['RUNNING', 10_000, 3000],
        ['RUNNING', 20_000, 6000],
        ['RUNNING', 600_000, 8000],
        ['BLOCKED', 600_000, 10_000],
      ];
      for (const [state, age, delay] of table) {
        const s = new RunPollSchedule({ budgetIntervalMs: 0 });
        assert.equal(s.next(`${state}/`, { now: 1_000_000 + age, startTime: 1_000_000 }), delay, `${state} at ${age} ms`);
      }
    });

    it('polls TERMINATING every second, ten times, then backs off to its 5 s cap', () => {
      const s = new RunPollSchedule({ budgetIntervalMs: 0 });
      const delays = Array.from({ length: 14 }, (_, i) => s.next('TERMINATING/', { now: 60_000 + i * 1000, startTime: 0 }));
      assert.deepEqual(delays, [...Array<number>(10).fill(1000), 5000, 5000, 5000, 5000]);
    });

    it('never asks for more polls by any moment than fixed 3 s polling from the same start, counting the history lookup', () => {
      for (const total of SWEEP_S.slice(0, 8)) {
        const s = new RunPollSchedule();
        const polls = drive(s, timeline(total * 1000));
        polls.forEach(([at], i) => {
          // Request i + 2 (the lookup, then polls 0..i) is sent at `at`; fixed polling sends its (i + 2)th at 3 s × (i + 1).
          if (i > 0) assert.ok(at >= 3000 * (i + 1), `${total} s run: poll ${i} at ${at} ms`);
        });
      }
    });

    it('no run length from 5 s to 2 h costs more requests than fixed 3 s polling, with or without history', () => {
      for (const total of SWEEP_S) {
        for (const withHistory of [false, true]) {
          let adaptive = 0;
          let fixed = 0;
          for (const f of FACTORS) {
            const history = withHistory ? HISTORY_FACTORS.map((h) => total * 1000 * h) : [];
            adaptive += watch(new RunPollSchedule({ previousDurationsMs: history }), timeline(total * 1000, f), 1).requests;
            fixed += watch(new FixedPollSchedule(3000), timeline(total * 1000, f), 0).requests;
          }
          assert.ok(adaptive <= fixed, `${total} s ${withHistory ? 'with' : 'without'} history: ${adaptive} requests, fixed ${fixed}`);
        }
      }
    });

    it('over the benchmark mix (20 s to 5 min) sends at most half the requests of fixed 3 s polling, and sees the end at most 1 s later on average', () => {
      let adaptive = 0;
      let fixed = 0;
      let adaptiveDelay = 0;
      let fixedDelay = 0;
      let n = 0;
      for (const total of [20, 45, 90, 180, 300])
        for (const withHistory of [false, true])
          for (const f of FACTORS) {
            const history = withHistory ? HISTORY_FACTORS.map((h) => total * 1000 * h) : [];
            const a = watch(new RunPollSchedule({ previousDurationsMs: history }), timeline(total * 1000, f), 1);
            const x = watch(new FixedPollSchedule(3000), timeline(total * 1000, f), 0);
            adaptive += a.requests;
            fixed += x.requests;
            adaptiveDelay += a.delayMs;
            fixedDelay += x.delayMs;
            n++;
          }
      assert.ok(adaptive <= fixed / 2, `${adaptive} requests, fixed ${fixed}`);
      assert.ok(adaptiveDelay / n <= fixedDelay / n + 1000, `mean delay ${adaptiveDelay / n} ms, fixed ${fixedDelay / n} ms`);
    });

    it('bounds the end-detection delay by the interval minus the teardown: RUNNING cap (8 s) without history, 5 s inside the expected window', () => {
      for (const total of [60, 300, 1800]) {
        for (const f of FACTORS) {
          const tl = timeline(total * 1000, f);
          const teardown = tl[3][0] - tl[2][0];
          const first = watch(new RunPollSchedule(), tl, 1);
          assert.ok(first.delayMs <= 8000 - teardown, `${total} s × ${f} without history: ${first.delayMs} ms`);
          const recurring = watch(new RunPollSchedule({ previousDurationsMs: HISTORY_FACTORS.map((h) => total * 1000 * h) }), tl, 1);
          assert.ok(recurring.delayMs <= 5000 - teardown, `${total} s × ${f} with history: ${recurring.delayMs} ms`);
        }
      }
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

    it('with history polls sparsely until the window (every run-age, at most 30 s), then every 5 s on a grid that ends on the window end', () => {
      // Earlier runs took 100 s: the window is 90-110 s, its grid 90, 95, ..., 110 s. This run: RUNNING from 20 s, TERMINATING at 100 s, ends at 102 s.
      const s = new RunPollSchedule({ previousDurationsMs: [100_000] });
      const polls = drive(s, [
        [1000, 'QUEUED'],
        [20_000, 'PENDING'],
        [100_000, 'RUNNING'],
        [102_000, 'TERMINATING'],
      ]);
      assert.deepEqual(polls, [
        [0, 'QUEUED', 6000],
        [6000, 'PENDING', 6000],
        [12_000, 'PENDING', 12_000],
        [24_000, 'RUNNING', 24_000],
        [48_000, 'RUNNING', 30_000],
        [78_000, 'RUNNING', 12_000],
        [90_000, 'RUNNING', 5000],
        [95_000, 'RUNNING', 5000],
        [100_000, 'TERMINATING', 1000],
        [101_000, 'TERMINATING', 1000],
      ]);
      // The end (102 s) is seen at the next poll: 0 s late, after 11 polls (10 here and the one at 102 s); fixed 3 s polling sends 35.
    });

    it('falls back to the age rule when the run overruns its window', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [10_000], budgetIntervalMs: 0 });
      // Window 8-12 s; from 20 s on the run is late: 30 % of its age, capped at 8 s.
      const table: [nowMs: number, delay: number][] = [
        [20_000, 6000],
        [26_000, 7800],
        [33_800, 8000],
      ];
      for (const [now, delay] of table) assert.equal(s.next('RUNNING/', { now, startTime: 0 }), delay, `at ${now} ms`);
    });

    it('inside the window a run still waiting for its cluster keeps the age rule and the PENDING cap', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [100_000], budgetIntervalMs: 0 });
      const delays = [90_000, 95_000, 100_000].map((now) => s.next('PENDING/', { now, startTime: 0 }));
      assert.deepEqual(delays, [15_000, 15_000, 15_000]);
    });

    it('reset() makes the next poll fast once the budget allows, as after a cancel request', () => {
      const s = new RunPollSchedule();
      assert.equal(s.next('RUNNING/', { now: 600_000, startTime: 0 }), 8000);
      s.reset();
      // Three requests by 8 s on the schedule's own clock (the lookup and two polls): the budget allows the fourth at 9 s.
      assert.equal(s.next('RUNNING/', { now: 608_000, startTime: 0 }), 1000);
      // The fifth at 12 s: TERMINATING waits 3 s rather than 1 s here.
      assert.equal(s.next('TERMINATING/', { now: 609_000, startTime: 0 }), 3000);
    });

    it('without observations it keeps its own clock: the age is the sum of its delays', () => {
      const s = new RunPollSchedule({ previousDurationsMs: [600_000] });
      const delays = Array.from({ length: 6 }, () => s.next('RUNNING/'));
      // 6 s and 6 s (the budget), then the age before the 540 s window, at most 30 s.
      assert.deepEqual(delays, [6000, 6000, 12_000, 24_000, 30_000, 30_000]);
    });
  });
});
