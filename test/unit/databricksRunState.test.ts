import * as assert from 'node:assert/strict';
import { accessOutcome, classifyRun, isRunDone, runStateIcon, runStateKey, runStateText } from '../../src/core/databricks/RunStateMapping';
import type { RunState } from '../../src/core/databricks/types';

describe('RunStateMapping', () => {
  const table: [RunState, boolean, string | undefined, string, string][] = [
    [{ life_cycle_state: 'QUEUED', state_message: 'Queued behind other runs.' }, false, undefined, 'Queued: Queued behind other runs.', 'clock'],
    [{ life_cycle_state: 'PENDING', state_message: 'Waiting for cluster' }, false, undefined, 'Starting', 'sync~spin'],
    [{ life_cycle_state: 'RUNNING', state_message: 'In run' }, false, undefined, 'Running', 'sync~spin'],
    [{ life_cycle_state: 'TERMINATING' }, false, undefined, 'Finishing', 'sync~spin'],
    [{ life_cycle_state: 'BLOCKED' }, false, undefined, 'Blocked by an upstream run', 'debug-pause'],
    [{ life_cycle_state: 'WAITING_FOR_RETRY' }, false, undefined, 'Waiting to retry', 'clock'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' }, true, 'succeeded', 'Succeeded', 'pass'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'FAILED', state_message: 'Workload failed' }, true, 'failed', 'Failed: Workload failed', 'error'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'TIMEDOUT' }, true, 'failed', 'Timed out', 'error'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'CANCELED', state_message: 'Run cancelled.' }, true, 'cancelled', 'Cancelled', 'circle-slash'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'SUCCESS_WITH_FAILURES' }, true, 'failed', 'Succeeded with failures', 'warning'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'UPSTREAM_CANCELED' }, true, 'cancelled', 'Upstream task cancelled', 'circle-slash'],
    [{ life_cycle_state: 'TERMINATED', result_state: 'EXCLUDED' }, true, 'skipped', 'Excluded', 'debug-step-over'],
    [{ life_cycle_state: 'SKIPPED' }, true, 'skipped', 'Skipped', 'debug-step-over'],
    [{ life_cycle_state: 'INTERNAL_ERROR', state_message: 'Notebook not found' }, true, 'failed', 'Failed (internal error): Notebook not found', 'error'],
  ];
  for (const [state, done, outcome, text, icon] of table) {
    it(`${state.life_cycle_state}/${state.result_state ?? '-'} → ${text}`, () => {
      assert.equal(isRunDone(state), done);
      assert.deepEqual(classifyRun(state), done ? { done, outcome } : { done });
      assert.equal(runStateText(state), text);
      assert.equal(runStateIcon(state), icon);
    });
  }

  it('an absent state is not done and reads as unknown', () => {
    assert.equal(isRunDone(undefined), false);
    assert.equal(runStateText(undefined), 'Unknown state');
    assert.equal(runStateIcon({}), 'question');
  });

  it('the state key changes with either part of the state', () => {
    assert.notEqual(runStateKey({ life_cycle_state: 'RUNNING' }), runStateKey({ life_cycle_state: 'TERMINATING' }));
    assert.notEqual(runStateKey({ life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' }), runStateKey({ life_cycle_state: 'TERMINATED', result_state: 'FAILED' }));
    assert.equal(runStateKey({ life_cycle_state: 'RUNNING', state_message: 'a' }), runStateKey({ life_cycle_state: 'RUNNING', state_message: 'b' }));
  });

  it('maps outcomes to access-log outcomes', () => {
    assert.equal(accessOutcome('succeeded'), 'success');
    assert.equal(accessOutcome('failed'), 'failure');
    assert.equal(accessOutcome('cancelled'), 'cancelled');
    assert.equal(accessOutcome('skipped'), 'cancelled');
  });
});
