import { strict as assert } from 'node:assert';
import type { AccessEventInput } from '../../../src/core/audit/AccessLog';
import type { EnvironmentResolution } from '../../../src/core/policy/Environment';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { BUILTIN_TARGETS } from '../../../src/core/targets/TargetRegistry';
import { PolicyChangeWatcher, type SettingScope, type SettingValues } from '../../../src/vscode/policyReview/PolicyChangeWatcher';
import { POLICY } from './policyFixture';

type Policy = Record<string, Record<string, unknown>>;

function setup(answers: (string | undefined)[] = []) {
  const state = { workspace: JSON.parse(JSON.stringify(POLICY)) as Policy | undefined, bundleHost: undefined as string | undefined };
  const listeners = new Set<() => void>();
  const events: AccessEventInput[] = [];
  const prompts: { message: string; items: unknown[] }[] = [];
  const shown: { name: string; text: string }[] = [];
  const updates: { scope: SettingScope; value: unknown }[] = [];
  const resolution = (): EnvironmentResolution =>
    resolveEnvironments(state.workspace ?? {}, state.bundleHost ? { source: 'databricks.yml', targets: { extra: { host: state.bundleHost } }, problems: [] } : undefined);
  const watcher = new PolicyChangeWatcher({
    resolution,
    onDidChange: (l) => {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
    registry: BUILTIN_TARGETS,
    sink: { record: (e) => void events.push(e) },
    documents: { show: async (name, text) => void shown.push({ name, text }) },
    log: { info: () => undefined, warn: () => undefined },
    store: {
      values: (): SettingValues => ({ workspace: state.workspace }),
      update: async (scope, value) => {
        updates.push({ scope, value });
        state.workspace = value as Policy;
      },
    },
    window: {
      showWarningMessage: (async (message: string, ...items: unknown[]) => {
        prompts.push({ message, items });
        return answers.shift();
      }) as never,
    },
    settleMs: 60_000, // the tests call check() themselves
  });
  return { state, watcher, events, prompts, shown, updates, listeners };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('policy review: the change watcher', () => {
  it('takes the first policy as the baseline: nothing is recorded or shown', async () => {
    const { watcher, events, prompts } = setup();
    assert.deepEqual(await watcher.check(), []);
    assert.deepEqual(events, []);
    assert.deepEqual(prompts, []);
    watcher.dispose();
  });

  it('widened: records policyChanged with the diff, tells the user once, Review opens the diff and the matrix', async () => {
    const { state, watcher, events, prompts, shown } = setup(['Review']);
    await watcher.check();
    state.workspace!.prod.requiredGroups = ['ml-prod', 'ml-dev'];
    const changes = await watcher.check();
    await tick();
    assert.equal(changes.length, 3);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'policyChanged');
    assert.equal(events[0].outcome, 'success');
    assert.equal(events[0].widened, 3);
    assert.equal(events[0].source, 'settings (Workspace)');
    assert.equal(events[0].detail, 'widened: ml-dev now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation)');
    assert.equal(prompts.length, 1);
    assert.equal(prompts[0].message, 'Access widened: ml-dev now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation).');
    assert.deepEqual(prompts[0].items, ['Review', 'Revert Setting']);
    await tick();
    assert.equal(shown[0].name, 'Access Policy Change.md');
    assert.match(shown[0].text, /## Widened \(3\)[\s\S]*# Access matrix now/);
    // Once: the same policy again is no change.
    assert.deepEqual(await watcher.check(), []);
    assert.equal(prompts.length, 1);
    watcher.dispose();
  });

  it('Revert Setting asks, then restores the previous value at the same configuration target', async () => {
    const { state, watcher, prompts, updates, events } = setup(['Revert Setting', 'Restore']);
    await watcher.check();
    const before = JSON.parse(JSON.stringify(state.workspace));
    state.workspace = { ...state.workspace!, prod: { ...state.workspace!.prod, requiredGroups: [] } };
    await watcher.check();
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(prompts.length, 2);
    assert.match(prompts[1].message, /^Restore mlspanner\.environments in Workspace settings to its value before this change\?/);
    assert.deepEqual(prompts[1].items[0], { modal: true, detail: 'any signed-in user now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation). Restoring undoes every edit to mlspanner.environments in Workspace settings since then.' });
    assert.deepEqual(updates, [{ scope: 'workspace', value: before }]);
    // The restore is itself a change: narrowed, recorded, not announced.
    await watcher.check();
    assert.equal(events.length, 2);
    assert.equal(events[1].widened, 0);
    assert.equal(prompts.length, 2);
    watcher.dispose();
  });

  it('Revert Setting cancelled at the confirmation changes nothing', async () => {
    const { state, watcher, updates } = setup(['Revert Setting', undefined]);
    await watcher.check();
    state.workspace!.prod.confirm = false;
    await watcher.check();
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(updates, []);
    watcher.dispose();
  });

  it('narrowed only: recorded, nothing shown', async () => {
    const { state, watcher, events, prompts } = setup();
    await watcher.check();
    state.workspace!.dev.requiredGroups = [];
    state.workspace!.dev.requiredGroups = ['ml-dev'];
    state.workspace!.prod.maxTtlSeconds = 600;
    await watcher.check();
    assert.equal(events.length, 1);
    assert.equal(events[0].narrowed, 3);
    assert.deepEqual(prompts, []);
    watcher.dispose();
  });

  it('a change from databricks.yml widens: told, with Review only (no setting to revert)', async () => {
    const { state, watcher, events, prompts } = setup();
    state.workspace!.extra = { databricks: {} as Record<string, unknown>, requiredGroups: [] };
    delete (state.workspace!.extra as Record<string, unknown>).databricks;
    await watcher.check();
    state.bundleHost = 'https://extra.cloud.databricks.com';
    await watcher.check();
    await tick();
    assert.equal(events[0].source, 'databricks.yml');
    assert.deepEqual(prompts[0].items, ['Review']);
    assert.match(prompts[0].message, /any signed-in user now reaches extra Databricks/);
    watcher.dispose();
  });

  it('a policy change event schedules a check after the quiet period; dispose stops listening', async () => {
    const { listeners, watcher } = setup();
    assert.equal(listeners.size, 1);
    watcher.dispose();
    assert.equal(listeners.size, 0);
  });
});
