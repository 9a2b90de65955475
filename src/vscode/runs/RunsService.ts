import * as vscode from 'vscode';
import type { AccessGate, Grant } from '../../core/access/AccessGate';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import { DatabricksClient } from '../../core/databricks/DatabricksClient';
import { JobRunner, type RunProgress, type RunRecord, type RunResult, type RunStore } from '../../core/databricks/JobRunner';
import { runStateIcon, runStateText } from '../../core/databricks/RunStateMapping';
import { Remedies, UserFacingError } from '../../core/errors';
import { Emitter } from '../../core/events';
import { settingPath, type Environment } from '../../core/policy/Environment';

const STORE_KEY = 'mlspanner.runs';

/** Run records in globalState: they survive a window reload (never a token in them). */
export class GlobalStateRunStore implements RunStore {
  constructor(private readonly memento: vscode.Memento) {}
  load(): RunRecord[] {
    return this.memento.get<RunRecord[]>(STORE_KEY, []).map((r) => ({ ...r }));
  }
  async save(records: RunRecord[]): Promise<void> {
    await this.memento.update(STORE_KEY, records);
  }
}

/** A run the window knows of: its record, its latest progress and how to cancel it. */
export interface TrackedRun {
  record: RunRecord;
  text: string;
  icon: string;
  active: boolean;
  abort?: AbortController;
  result?: RunResult;
  error?: string;
}

export function runKey(r: Pick<RunRecord, 'host' | 'runId'>): string {
  return `${r.host}#${r.runId}`;
}

/**
 * The runs of this window across environments. Each action gets a JobRunner whose Databricks
 * client takes its tokens from the access gate under that action's grant (so a prod run keeps
 * the reason it was confirmed with). Model only: it fires onDidChange and never shows UI (sign-in
 * prompts go through `onAuthRequired`).
 */
export class RunsService {
  private readonly tracked = new Map<string, TrackedRun>();
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly gate: AccessGate,
    private readonly store: RunStore,
    private readonly sink: AccessEventSink,
    private readonly owner: () => string | undefined,
    private readonly onAuthRequired: (signal?: AbortSignal) => Promise<void>,
    private readonly onStoreError: (e: unknown) => void,
  ) {
    for (const r of store.load()) {
      this.tracked.set(runKey(r), { record: r, text: runStateText(r.lastState), icon: runStateIcon(r.lastState), active: r.finishedAt === undefined });
    }
  }

  /** The signed-in user's runs, newest first (another user of this profile sees only theirs). */
  list(): TrackedRun[] {
    const me = this.owner();
    return [...this.tracked.values()].filter((t) => !t.record.owner || t.record.owner === me).sort((a, b) => b.record.startedAt - a.record.startedAt);
  }

  get(key: string): TrackedRun | undefined {
    return this.tracked.get(key);
  }

  /** The environment's definition, when it has a Databricks workspace; else what to set. */
  environment(name: string): Environment {
    const env = this.gate.environment(name);
    if (!env) throw new UserFacingError('config', `There is no environment named "${name}".`, undefined, undefined, { remedies: [Remedies.openSettings('mlspanner.environments')] });
    if (!env.databricks?.host)
      throw new UserFacingError('config', `The environment ${name} has no Databricks workspace.`, `Set ${settingPath(name, 'databricks', 'host')}.`, undefined, { remedies: [Remedies.openSettings(settingPath(name))] });
    return env;
  }

  /** A runner whose every request carries a Databricks token under `grant`. */
  runner(grant: Grant): JobRunner {
    return new JobRunner({
      environment: grant.environment,
      client: this.jobsClient(grant),
      store: this.store,
      sink: this.sink,
      onAuthRequired: this.onAuthRequired,
      onStoreError: this.onStoreError,
      owner: this.owner,
    });
  }

  jobsClient(grant: Grant): DatabricksClient {
    return new DatabricksClient(this.environment(grant.environment).databricks!.host, this.gate.tokenSource(grant, 'databricks'));
  }

  /** Tracks a run through its life: progress updates the view, the end records the result. */
  async track(start: (opts: { signal: AbortSignal; onProgress: (p: RunProgress) => void }) => Promise<RunResult>, abort = new AbortController()): Promise<RunResult> {
    let key: string | undefined;
    const progress = (p: RunProgress) => {
      key = runKey(p.record);
      const t = this.tracked.get(key);
      this.tracked.set(key, { ...t, record: { ...p.record }, text: p.text, icon: p.icon, active: true, abort });
      this.changed.fire();
    };
    try {
      const result = await start({ signal: abort.signal, onProgress: progress });
      key = runKey(result.record);
      this.tracked.set(key, { record: { ...result.record }, text: result.text, icon: runStateIcon(result.run.state), active: false, result });
      return result;
    } catch (e) {
      if (key) {
        const t = this.tracked.get(key);
        if (t) this.tracked.set(key, { ...t, active: false, abort: undefined, error: (e as Error).message });
      }
      throw e;
    } finally {
      this.changed.fire();
    }
  }

  /**
   * Cancels a run: one this window watches is aborted (its runner calls runs/cancel); one it does
   * not watch (e.g. after a reload) is cancelled with a token under `grant()`.
   */
  async cancel(key: string, grant: () => Promise<Grant | undefined>): Promise<void> {
    const t = this.tracked.get(key);
    if (!t || !t.active) throw new UserFacingError('config', 'That run is not running any more.');
    if (t.abort) {
      t.abort.abort();
      return;
    }
    const g = await grant();
    if (g) await this.runner(g).cancel(t.record, g.reason);
  }

  /** Runs that were in flight before a reload, to resume once the user is signed in. */
  unfinished(): RunRecord[] {
    const me = this.owner();
    return this.store.load().filter((r) => r.finishedAt === undefined && (!r.owner || r.owner === me));
  }

  /** Whether this window is already polling the run (started here or resumed). */
  isWatched(key: string): boolean {
    const t = this.tracked.get(key);
    return Boolean(t?.active && t.abort);
  }

  /** The view follows the signed-in user. */
  userChanged(): void {
    this.changed.fire();
  }

  /** Runs keep going on Databricks when the window closes; they are resumed after a reload. */
  dispose(): void {
    this.changed.dispose();
  }
}
