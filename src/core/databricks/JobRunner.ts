import type { AccessEventInput, AccessEventSink } from '../audit/AccessLog';
import { CancelledError, UserFacingError, errorMessage, isCancellation } from '../errors';
import { ServiceError } from '../http/HttpClient';
import { newIdempotencyToken, type DatabricksJobsApi } from './DatabricksClient';
import { safeRunPageUrl } from './responses';
import { RunPollSchedule, type PollingSchedule } from './PollSchedule';
import { accessOutcome, classifyRun, runStateIcon, runStateKey, runStateText, type RunOutcome } from './RunStateMapping';
import type { ImportFormat, Run, RunState, WorkspaceLanguage } from './types';

/** What survives a window reload so a run can be resumed; never a token. */
export interface RunRecord {
  environment: string;
  host: string;
  runId: number;
  kind: 'job' | 'notebook';
  /** Job name, or the notebook's file name. */
  name: string;
  jobId?: number;
  runPageUrl?: string;
  /** Epoch ms. */
  startedAt: number;
  lastState?: RunState;
  /** Epoch ms; set once the run is done. */
  finishedAt?: number;
  /** `issuer|subject` of who started it: a window shows and resumes only its user's runs. */
  owner?: string;
}

/** Persistence for run records; the VS Code layer backs it with globalState. */
export interface RunStore {
  load(): RunRecord[];
  save(records: RunRecord[]): Promise<void>;
}

export class MemoryRunStore implements RunStore {
  private records: RunRecord[] = [];
  load(): RunRecord[] {
    return this.records.map((r) => ({ ...r }));
  }
  async save(records: RunRecord[]): Promise<void> {
    this.records = records.map((r) => ({ ...r }));
  }
}

export interface RunProgress {
  record: RunRecord;
  state: RunState;
  text: string;
  /** Codicon id for a ThemeIcon. */
  icon: string;
}

export interface TaskOutput {
  taskKey: string;
  runId: number;
  result?: string;
  truncated?: boolean;
  error?: string;
  errorTrace?: string;
}

export interface RunResult {
  record: RunRecord;
  run: Run;
  outcome: RunOutcome;
  text: string;
  outputs: TaskOutput[];
}

export interface RunOptions {
  /** Aborting requests runs/cancel; the promise then resolves once the run reports CANCELED. */
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
  /** Why the user runs this (asked for prod-like environments); goes into the access log. */
  reason?: string;
}

export interface JobRunnerOptions {
  environment: string;
  client: DatabricksJobsApi;
  store: RunStore;
  sink: AccessEventSink;
  /**
   * Called when the credential source says the user must sign in again (a UserFacingError of
   * kind 'auth'); resolves once they have, rejects if they decline. Polling waits meanwhile.
   */
  onAuthRequired?: (signal?: AbortSignal) => Promise<void>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** Makes the poll schedule of one run; the context says how long earlier runs of the same job took. */
  schedule?: (context: PollScheduleContext) => PollingSchedule;
  /** Look up earlier runs of the same job (run store, runs/list) to expect the end; true by default. */
  useRunHistory?: boolean;
  /**
   * Consecutive failures of the service itself (5xx or 429 after the client's retries, a
   * malformed answer) tolerated while polling. Network outages and failures to renew the token
   * are not counted: polling backs off (up to `maxOfflineDelayMs`) and goes on.
   */
  maxConsecutiveErrors?: number;
  /** Longest wait between polls while Databricks or the token source cannot be reached. Default 60 s. */
  maxOfflineDelayMs?: number;
  /** Finished records kept for the runs view. */
  keepFinished?: number;
  onStoreError?: (e: unknown) => void;
  /** Who is starting runs now (`issuer|subject`), written into each record. */
  owner?: () => string | undefined;
}

export interface PollScheduleContext {
  /** Durations (ms, start to end) of earlier successful runs of the same job or notebook, newest first. */
  previousDurationsMs: number[];
}

/** Earlier runs asked of runs/list: enough to see the spread, one page (the service returns at most 25). */
const HISTORY_RUNS = 10;

export interface RunJobRequest {
  jobId: number;
  jobName?: string;
  parameters?: Record<string, string>;
}

export interface RunNotebookRequest {
  /** The local file name (only its base name is used remotely). */
  fileName: string;
  content: Uint8Array;
  parameters?: Record<string, string>;
  /** Runs on serverless compute when omitted. */
  existingClusterId?: string;
  timeoutSeconds?: number;
}

/** 10 MB: the Workspace import limit (CONTRACTS.md, workspace/import). */
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

/**
 * How a local notebook file is imported: .ipynb as JUPYTER, source files as SOURCE with their
 * language. The workspace name drops the extension, as workspace notebooks have none.
 */
export function notebookImportSpec(fileName: string): { format: ImportFormat; language?: WorkspaceLanguage; workspaceName: string } {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const m = /^(.+?)\.([A-Za-z]+)$/.exec(base);
  const ext = m?.[2].toLowerCase();
  const workspaceName = (m?.[1] ?? base).replace(/[^\w.\- ]/g, '_');
  switch (ext) {
    case 'ipynb':
      return { format: 'JUPYTER', workspaceName };
    case 'py':
      return { format: 'SOURCE', language: 'PYTHON', workspaceName };
    case 'sql':
      return { format: 'SOURCE', language: 'SQL', workspaceName };
    case 'scala':
      return { format: 'SOURCE', language: 'SCALA', workspaceName };
    case 'r':
      return { format: 'SOURCE', language: 'R', workspaceName };
    default:
      throw new UserFacingError('config', `Cannot run ${base} as a Databricks notebook: unsupported file type.`, 'Open a .ipynb, .py, .sql, .scala or .r notebook and retry.');
  }
}

/** A sign-in is needed: the token source refused, or the service still says 401 after a fresh token. */
export function needsSignIn(e: unknown): boolean {
  return e instanceof UserFacingError && e.kind === 'auth';
}

/**
 * What a failed poll means for the run being watched:
 * - 'offline': Databricks or the token source could not be reached, or renewing the token
 *   failed for a passing reason. The run is unaffected: back off and keep polling.
 * - 'unavailable': Databricks answered but could not serve (5xx, 429, a malformed answer, a
 *   bug): back off, and give up after maxConsecutiveErrors in a row.
 * - 'fatal': anything else (the run is unknown, access was denied, a setting is wrong).
 * A needed sign-in is handled before this (onAuthRequired).
 */
export type PollFailure = 'offline' | 'unavailable' | 'fatal';

export function classifyPollFailure(e: unknown): PollFailure {
  if (e instanceof ServiceError) {
    if (e.status === undefined) return e.kind === 'network' ? 'offline' : 'fatal';
    return e.status >= 500 || e.status === 429 ? 'unavailable' : 'fatal';
  }
  if (e instanceof UserFacingError) {
    // Not from Databricks: the token source (identity provider, token exchange) failed.
    if (e.kind === 'network' || e.kind === 'service') return 'offline';
    if (e.kind === 'protocol') return 'unavailable';
    return 'fatal';
  }
  return 'unavailable';
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs Databricks jobs and notebooks to completion in one environment: triggers with an
 * idempotency token, polls on an adaptive schedule, cancels on abort, survives token expiry and
 * sign-in pauses, persists run records for resume after reload, and records access events.
 */
export class JobRunner {
  private readonly client: DatabricksJobsApi;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly makeSchedule: (context: PollScheduleContext) => PollingSchedule;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly options: JobRunnerOptions) {
    this.client = options.client;
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.makeSchedule = options.schedule ?? ((context) => new RunPollSchedule({ previousDurationsMs: context.previousDurationsMs }));
  }

  /** Runs of this environment that had not finished when last seen (e.g. before a reload). */
  unfinished(): RunRecord[] {
    return this.options.store.load().filter((r) => r.environment === this.options.environment && r.host === this.client.host && r.finishedAt === undefined);
  }

  async runJob(request: RunJobRequest, options: RunOptions = {}): Promise<RunResult> {
    const name = request.jobName ?? `job ${request.jobId}`;
    if (options.signal?.aborted) throw new CancelledError(`Run of ${name} cancelled before it started.`);
    this.event({ type: 'jobRequested', outcome: 'success', target: `job:${request.jobId}`, detail: name, reason: options.reason, jobId: request.jobId });
    // One token for all attempts, including after a sign-in pause: a repeat returns the same run.
    const idempotencyToken = newIdempotencyToken();
    let runId: number;
    try {
      const res = await this.withSignIn(
        () => this.client.runNow({ job_id: request.jobId, job_parameters: request.parameters, idempotency_token: idempotencyToken }),
        options.signal,
      );
      if (typeof res.run_id !== 'number') throw new UserFacingError('protocol', `Databricks accepted the run of ${name} but returned no run_id.`, 'Check the Jobs UI for the run.');
      runId = res.run_id;
    } catch (e) {
      throw this.startFailed(e, name, `job:${request.jobId}`, options.reason);
    }
    const record: RunRecord = { environment: this.options.environment, host: this.client.host, runId, kind: 'job', name, jobId: request.jobId, startedAt: this.now(), owner: this.options.owner?.() };
    return this.started(record, options);
  }

  async runNotebook(request: RunNotebookRequest, options: RunOptions = {}): Promise<RunResult> {
    const spec = notebookImportSpec(request.fileName);
    const fileName = request.fileName.split(/[\\/]/).pop() ?? request.fileName;
    if (request.content.byteLength > MAX_IMPORT_BYTES)
      throw new UserFacingError('config', `${fileName} is ${(request.content.byteLength / 1048576).toFixed(1)} MB; Databricks imports at most 10 MB.`, 'Clear large cell outputs and retry.');
    if (options.signal?.aborted) throw new CancelledError(`Run of ${fileName} cancelled before it started.`);
    const target = `notebook:${fileName}`;
    this.event({ type: 'jobRequested', outcome: 'success', target, detail: fileName, reason: options.reason });
    const idempotencyToken = newIdempotencyToken();
    let runId: number;
    let notebookPath: string;
    try {
      const me = await this.withSignIn(() => this.client.me(), options.signal);
      if (!me.userName) throw new UserFacingError('protocol', 'Databricks did not say who you are (SCIM Me has no userName).', 'Check the workspace and retry.');
      const dir = `/Users/${me.userName}/.mlspanner`;
      notebookPath = `${dir}/${spec.workspaceName}`;
      await this.withSignIn(() => this.client.mkdirs(dir), options.signal);
      const content = Buffer.from(request.content).toString('base64');
      await this.withSignIn(
        () => this.client.importNotebook({ path: notebookPath, format: spec.format, language: spec.language, content, overwrite: true }),
        options.signal,
      );
      const res = await this.withSignIn(
        () =>
          this.client.submitRun({
            run_name: `${fileName} (ML Spanner Access)`,
            tasks: [
              {
                task_key: 'notebook',
                notebook_task: { notebook_path: notebookPath, source: 'WORKSPACE', ...(request.parameters ? { base_parameters: request.parameters } : {}) },
                ...(request.existingClusterId ? { existing_cluster_id: request.existingClusterId } : {}),
              },
            ],
            ...(request.timeoutSeconds ? { timeout_seconds: request.timeoutSeconds } : {}),
            idempotency_token: idempotencyToken,
          }),
        options.signal,
      );
      if (typeof res.run_id !== 'number') throw new UserFacingError('protocol', `Databricks accepted ${fileName} but returned no run_id.`, 'Check the Jobs UI for the run.');
      runId = res.run_id;
    } catch (e) {
      throw this.startFailed(e, fileName, target, options.reason);
    }
    const record: RunRecord = { environment: this.options.environment, host: this.client.host, runId, kind: 'notebook', name: fileName, startedAt: this.now(), owner: this.options.owner?.() };
    return this.started(record, options);
  }

  /** Continues watching a run started earlier (e.g. before a window reload). */
  resume(record: RunRecord, options: RunOptions = {}): Promise<RunResult> {
    if (record.host !== this.client.host || record.environment !== this.options.environment)
      throw new UserFacingError('config', `Run ${record.runId} belongs to ${record.environment} (${record.host}), not ${this.options.environment}.`, 'Resume it from its own environment.');
    return this.poll({ ...record }, options);
  }

  /** Requests cancellation of a run this runner does not hold an AbortSignal for. */
  async cancel(record: RunRecord, reason?: string): Promise<void> {
    await this.withSignIn(() => this.client.cancelRun(record.runId));
    this.event({ type: 'jobCancelled', outcome: 'cancelled', target: this.targetOf(record), runId: record.runId, jobId: record.jobId, reason, tokenFingerprint: this.client.lastTokenFingerprint });
  }

  private async started(record: RunRecord, options: RunOptions): Promise<RunResult> {
    // Persist before polling so a reload in the next second still finds the run.
    await this.persist(record);
    this.event({
      type: 'jobStarted',
      outcome: 'success',
      target: this.targetOf(record),
      runId: record.runId,
      jobId: record.jobId,
      reason: options.reason,
      tokenFingerprint: this.client.lastTokenFingerprint,
    });
    return this.poll(record, options);
  }

  private async poll(record: RunRecord, options: RunOptions): Promise<RunResult> {
    const previousDurationsMs = this.options.useRunHistory === false ? [] : await this.previousDurations(record);
    const schedule = this.makeSchedule({ previousDurationsMs });
    const maxErrors = this.options.maxConsecutiveErrors ?? 5;
    const maxOfflineDelay = this.options.maxOfflineDelayMs ?? 60_000;
    let errors = 0;
    let offline = 0;
    let cancelRequested = false;
    let lastKey: string | undefined;
    for (;;) {
      if (options.signal?.aborted && !cancelRequested) {
        cancelRequested = true;
        try {
          await this.cancel(record, options.reason);
        } catch (e) {
          if (isCancellation(e)) throw e;
          throw new UserFacingError(
            e instanceof UserFacingError ? e.kind : 'network',
            `Could not cancel ${record.name} (run ${record.runId}) in ${record.environment}: ${errorMessage(e)}`,
            'The run may still be running on Databricks: retry Cancel Run, or open its run page.',
            undefined,
            { cause: e },
          );
        }
        schedule.reset?.();
      }
      let run: Run;
      try {
        run = await this.withSignIn(() => this.client.getRun(record.runId));
        errors = 0;
        offline = 0;
      } catch (e) {
        const failure = classifyPollFailure(e);
        if (failure === 'fatal' || (failure === 'unavailable' && ++errors > maxErrors)) throw this.pollFailed(e, record);
        let delay: number;
        if (failure === 'offline') {
          // The run goes on without us: say so once, keep the last state, and retry, capped.
          if (offline++ === 0) this.reconnecting(record, options, e);
          delay = Math.min(maxOfflineDelay, 1000 * 2 ** Math.min(offline, 16));
          // The next answer is shown even if the state did not change, to clear "reconnecting".
          lastKey = undefined;
        } else delay = Math.min(30_000, 1000 * 2 ** errors);
        await this.sleep(delay, cancelRequested ? undefined : options.signal);
        continue;
      }
      const state = run.state ?? {};
      const key = runStateKey(state);
      const pageUrl = safeRunPageUrl(run.run_page_url, this.client.host);
      if (pageUrl) record.runPageUrl = pageUrl;
      if (key !== lastKey) {
        lastKey = key;
        record.lastState = state;
        await this.persist(record);
        options.onProgress?.({ record: { ...record }, state, text: runStateText(state), icon: runStateIcon(state) });
      }
      const { done, outcome } = classifyRun(state);
      if (done && outcome) return this.finished(record, run, outcome);
      // Once cancelled, the signal stays aborted: waiting on it again would spin.
      const startTime = run.start_time || record.startedAt;
      await this.sleep(schedule.next(key, { now: this.now(), startTime }), cancelRequested ? undefined : options.signal);
    }
  }

  /** Progress while Databricks cannot be reached: the last known state, and why it is not fresh. */
  private reconnecting(record: RunRecord, options: RunOptions, e: unknown): void {
    const state = record.lastState ?? {};
    const why = e instanceof UserFacingError ? e.message : errorMessage(e);
    options.onProgress?.({ record: { ...record }, state, text: `${runStateText(state)} (reconnecting: ${why})`, icon: 'sync~spin' });
  }

  /**
   * How long earlier successful runs of the same job (or notebook) took, newest first: from the
   * run store, and for jobs from runs/list, which also knows scheduled runs. Best effort: without
   * history the schedule just backs off.
   */
  private async previousDurations(record: RunRecord): Promise<number[]> {
    const byRun = new Map<number, { startedAt: number; ms: number }>();
    const sameWork = (r: RunRecord) => (record.kind === 'job' ? r.kind === 'job' && r.jobId === record.jobId : r.kind === 'notebook' && r.name === record.name);
    try {
      for (const r of this.options.store.load()) {
        if (r.host !== record.host || r.runId === record.runId || r.finishedAt === undefined || !sameWork(r)) continue;
        // Only successes predict a success; the store's finish time is when it was seen, a little late.
        if (r.lastState?.result_state === 'SUCCESS') byRun.set(r.runId, { startedAt: r.startedAt, ms: r.finishedAt - r.startedAt });
      }
    } catch (e) {
      this.options.onStoreError?.(e);
    }
    if (record.kind === 'job' && record.jobId !== undefined && this.client.listRuns) {
      try {
        const page = await this.client.listRuns({ job_id: record.jobId, completed_only: true, limit: HISTORY_RUNS });
        for (const run of page.runs ?? []) {
          const { run_id: id, start_time: start, end_time: end } = run;
          if (typeof id !== 'number' || id === record.runId || run.state?.result_state !== 'SUCCESS' || !start || !end || end <= start) continue;
          byRun.set(id, { startedAt: start, ms: end - start });
        }
      } catch {
        // A refused or failed listing only costs precision; polling itself reports real errors.
      }
    }
    return [...byRun.values()].sort((a, b) => b.startedAt - a.startedAt).map((r) => r.ms);
  }

  private async finished(record: RunRecord, run: Run, outcome: RunOutcome): Promise<RunResult> {
    const outputs: TaskOutput[] = [];
    for (const task of run.tasks ?? []) {
      if (typeof task.run_id !== 'number') continue;
      try {
        const out = await this.withSignIn(() => this.client.getRunOutput(task.run_id as number));
        outputs.push({
          taskKey: task.task_key,
          runId: task.run_id,
          result: out.notebook_output?.result,
          truncated: out.notebook_output?.truncated,
          error: out.error,
          errorTrace: out.error_trace,
        });
      } catch (e) {
        outputs.push({ taskKey: task.task_key, runId: task.run_id, error: `Could not fetch the output: ${errorMessage(e)}` });
      }
    }
    record.finishedAt = this.now();
    record.lastState = run.state;
    await this.persist(record);
    this.event({
      type: 'jobFinished',
      outcome: accessOutcome(outcome),
      target: this.targetOf(record),
      runId: record.runId,
      jobId: record.jobId,
      resultState: run.state?.result_state,
      lifeCycleState: run.state?.life_cycle_state,
      tokenFingerprint: this.client.lastTokenFingerprint,
    });
    return { record: { ...record }, run, outcome, text: runStateText(run.state), outputs };
  }

  /** Runs `fn`; while the credential source needs a sign-in, waits for it, then retries. */
  private async withSignIn<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!needsSignIn(e) || !this.options.onAuthRequired) throw e;
        if (signal?.aborted) throw new CancelledError();
        await this.options.onAuthRequired(signal);
      }
    }
  }

  private startFailed(e: unknown, name: string, target: string, reason?: string): unknown {
    if (e instanceof ServiceError && e.status === 403) {
      this.event({ type: 'jobDenied', outcome: 'denied', target, reason, detail: e.message, tokenFingerprint: this.client.lastTokenFingerprint });
      return new UserFacingError('denied', `Databricks (${this.options.environment}) refused to run ${name}: ${e.message}`, e.action, undefined, { cause: e });
    }
    this.event({ type: 'jobStarted', outcome: e instanceof CancelledError ? 'cancelled' : 'failure', target, reason, detail: errorMessage(e) });
    return e;
  }

  private pollFailed(e: unknown, record: RunRecord): unknown {
    const what = `Lost track of ${record.name} (run ${record.runId}) in ${record.environment}: ${errorMessage(e)}`;
    // The record stays unfinished in the store, so the run can be resumed later.
    return new UserFacingError(e instanceof UserFacingError ? e.kind : 'network', what, 'The run continues on Databricks; open its run page or resume watching it later.', undefined, { cause: e });
  }

  private targetOf(record: RunRecord): string {
    return record.kind === 'job' ? `job:${record.jobId}` : `notebook:${record.name}`;
  }

  private event(e: Omit<AccessEventInput, 'environment' | 'resource'>): void {
    this.options.sink.record({ environment: this.options.environment, resource: this.client.host, ...e } as AccessEventInput);
  }

  private persist(record: RunRecord): Promise<void> {
    const keep = this.options.keepFinished ?? 20;
    this.saving = this.saving.then(async () => {
      try {
        const others = this.options.store.load().filter((r) => !(r.host === record.host && r.runId === record.runId));
        const all = [...others, { ...record }];
        const finished = all.filter((r) => r.finishedAt !== undefined).sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
        const drop = new Set(finished.slice(keep));
        await this.options.store.save(all.filter((r) => !drop.has(r)));
      } catch (e) {
        this.options.onStoreError?.(e);
      }
    });
    return this.saving;
  }
}
