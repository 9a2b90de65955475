import * as vscode from 'vscode';
import type { AccessEventSink } from '../core/audit/AccessLog';
import type { CredentialBroker } from '../core/credentials/CredentialBroker';
import { DatabricksClient } from '../core/databricks/DatabricksClient';
import { JobRunner, type RunProgress, type RunRecord, type RunResult, type RunStore } from '../core/databricks/JobRunner';
import { runStateIcon, runStateText } from '../core/databricks/RunStateMapping';
import { UserFacingError } from '../core/errors';
import { Emitter } from '../core/events';
import { decideAccess } from '../core/policy/decideAccess';
import type { Environment } from '../core/policy/Environment';
import type { EnvironmentsService } from './EnvironmentsService';

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
 * The runs of this window across environments: one JobRunner per environment, whose Databricks
 * client takes a fresh federated token from the broker for every request. Model only: it fires
 * onDidChange and never shows UI (sign-in prompts go through `onAuthRequired`).
 */
export class RunsService {
  private readonly runners = new Map<string, { host: string; runner: JobRunner }>();
  private readonly tracked = new Map<string, TrackedRun>();
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly environments: EnvironmentsService,
    private readonly broker: CredentialBroker,
    private readonly store: RunStore,
    private readonly sink: AccessEventSink,
    private readonly groups: () => string[],
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

  /** The environment, if the user may run Databricks work there; else why not. */
  environment(name: string): Environment {
    const env = this.environments.resolution().environments[name];
    if (!env) {
      const known = Object.keys(this.environments.resolution().environments);
      throw new UserFacingError('config', `There is no environment named "${name}".`, known.length ? `Known environments: ${known.join(', ')}.` : 'Configure mlspanner.environments.');
    }
    if (!env.databricks?.host) throw new UserFacingError('config', `The environment ${name} has no Databricks workspace.`, `Set mlspanner.environments.${name}.databricks.host.`);
    return env;
  }

  /** Records and throws a denial when the user's groups do not grant the environment. */
  checkAccess(env: Environment, what: string): void {
    const decision = decideAccess(env, this.groups());
    if (decision.granted && decision.targets.databricks.granted) return;
    const reason = decision.granted ? decision.targets.databricks.reason : decision.reason;
    this.sink.record({ type: 'jobDenied', outcome: 'denied', environment: env.name, target: what, detail: reason });
    throw new UserFacingError('denied', `You cannot run ${what} in ${env.name}: ${reason}.`, 'Ask for access, or run "ML Spanner: Explain Access…" for details.');
  }

  runner(env: Environment): JobRunner {
    const host = env.databricks!.host;
    const cached = this.runners.get(env.name);
    if (cached && cached.host === host) return cached.runner;
    const client = new DatabricksClient(host, async (force) => {
      const c = await this.broker.get(env.name, 'databricks', { forceRefresh: force });
      if (c.target !== 'databricks') throw new UserFacingError('protocol', 'Expected a Databricks token.');
      return c.accessToken;
    });
    const runner = new JobRunner({
      environment: env.name,
      client,
      store: this.store,
      sink: this.sink,
      onAuthRequired: this.onAuthRequired,
      onStoreError: this.onStoreError,
      owner: this.owner,
    });
    this.runners.set(env.name, { host, runner });
    return runner;
  }

  jobsClient(env: Environment): DatabricksClient {
    return new DatabricksClient(env.databricks!.host, async (force) => {
      const c = await this.broker.get(env.name, 'databricks', { forceRefresh: force });
      return c.target === 'databricks' ? c.accessToken : '';
    });
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

  /** Cancels a run this window watches: aborting makes its runner call runs/cancel. */
  async cancel(key: string, reason?: string): Promise<void> {
    const t = this.tracked.get(key);
    if (!t || !t.active) throw new UserFacingError('config', 'That run is not running any more.');
    if (t.abort) {
      t.abort.abort();
      return;
    }
    const env = this.environment(t.record.environment);
    await this.runner(env).cancel(t.record, reason);
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
