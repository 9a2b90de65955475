import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AccessGate, Grant } from '../../core/access/AccessGate';
import type { RunProgress, RunRecord, RunResult } from '../../core/databricks/JobRunner';
import { parseJobParameters } from '../../core/databricks/jobParameters';
import { CancelledError, Remedies, UserFacingError, errorMessage } from '../../core/errors';
import { redact } from '../../core/redact';
import type { AccessPrompt } from '../common/AccessPrompt';
import type { CommandRunner } from '../common/CommandRunner';
import type { EnvironmentPicker } from '../common/EnvironmentPicker';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';
import { nodeArgs } from '../environments/CredentialCommands';
import { runKey, type RunsService, type TrackedRun } from './RunsService';

/** Run Job…, Run Job in Staging…, Run Current Notebook…, cancel, output and run page. */
export class JobCommands {
  constructor(
    private readonly runs: RunsService,
    private readonly gate: AccessGate,
    private readonly prompt: AccessPrompt,
    private readonly picker: EnvironmentPicker,
    private readonly log: vscode.LogOutputChannel,
    private readonly documents: ReadOnlyDocuments,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
      commands.register('mlspanner.runJobInStaging', () => this.runJob('staging')),
      commands.register('mlspanner.runJob', (node?: unknown) => this.runJob(nodeArgs(node).environment)),
      commands.register('mlspanner.runNotebook', (uri?: unknown) => this.runNotebook(uri instanceof vscode.Uri ? uri : undefined)),
      commands.register('mlspanner.cancelRun', (t?: unknown) => this.cancel(t as TrackedRun | undefined)),
      commands.register('mlspanner.openRunPage', (t?: unknown) => this.openRunPage(t as TrackedRun | undefined)),
      commands.register('mlspanner.showRunOutput', (t?: unknown) => this.showOutput(t as TrackedRun | undefined)),
    ];
  }

  private async runJob(environment?: string): Promise<void> {
    const name = environment ?? (await this.picker.pick('Run a Databricks job in', 'job', true, ['databricks']));
    if (!name) return;
    this.runs.environment(name);
    // Listing jobs is already a use of the environment's token: the gate decides (and in a
    // prod-like environment asks) before the first request.
    const grant = await this.prompt.grant({ environment: name, purpose: 'job', targets: ['databricks'], action: 'Run a job' });
    if (!grant) return;
    const job = await this.pickJob(grant);
    if (!job) return;
    const parameters = await this.askParameters(job.name, job.defaults);
    if (parameters === undefined) return;
    const runner = this.runs.runner(grant);
    await this.watch(`${job.name} in ${name}`, (opts) => runner.runJob({ jobId: job.id, jobName: job.name, parameters }, { ...opts, reason: grant.reason }));
  }

  private async pickJob(grant: Grant): Promise<{ id: number; name: string; defaults: Record<string, string> } | undefined> {
    const env = { name: grant.environment };
    const quick = vscode.window.createQuickPick<vscode.QuickPickItem & { id: number; jobName: string; defaults: Record<string, string> }>();
    quick.title = `Run a job in ${env.name}`;
    quick.placeholder = 'Loading jobs…';
    quick.busy = true;
    quick.matchOnDescription = true;
    quick.matchOnDetail = true;
    quick.show();
    try {
      const jobs = await this.runs.jobsClient(grant).listAllJobs();
      const lastRun = new Map<number, TrackedRun>();
      for (const t of this.runs.list()) if (t.record.environment === env.name && t.record.jobId !== undefined && !lastRun.has(t.record.jobId)) lastRun.set(t.record.jobId, t);
      quick.items = jobs
        .filter((j) => typeof j.job_id === 'number')
        .map((j) => {
          const last = lastRun.get(j.job_id!);
          const jobName = j.settings?.name ?? `job ${j.job_id}`;
          return {
            label: `$(symbol-event) ${jobName}`,
            description: `#${j.job_id}${last ? ` · last run: ${last.text}` : ''}`,
            detail: j.settings?.description,
            id: j.job_id!,
            jobName,
            defaults: Object.fromEntries((j.settings?.parameters ?? []).map((p) => [p.name, p.default])),
          };
        });
      quick.placeholder = quick.items.length ? 'Pick a job' : `No jobs in ${env.name}`;
    } catch (e) {
      quick.hide();
      throw e;
    } finally {
      quick.busy = false;
    }
    const picked = await new Promise<(typeof quick.items)[number] | undefined>((resolve) => {
      quick.onDidAccept(() => resolve(quick.selectedItems[0]));
      quick.onDidHide(() => resolve(undefined));
    });
    quick.dispose();
    return picked && { id: picked.id, name: picked.jobName, defaults: picked.defaults };
  }

  private async askParameters(jobName: string, defaults: Record<string, string>): Promise<Record<string, string> | undefined> {
    const value = Object.entries(defaults)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const text = await vscode.window.showInputBox({
      title: `Parameters for ${jobName}`,
      prompt: 'Job parameters as key=value, separated by commas. Leave as is to use the defaults.',
      value,
      validateInput: (t) => {
        const r = parseJobParameters(t);
        return 'error' in r ? r.error : undefined;
      },
    });
    if (text === undefined) return undefined;
    const parsed = parseJobParameters(text) as Record<string, string>;
    // Only send what differs from the job's defaults: Databricks applies its own defaults.
    const changed = Object.fromEntries(Object.entries(parsed).filter(([k, v]) => defaults[k] !== v));
    return Object.keys(changed).length ? changed : {};
  }

  private async runNotebook(uri?: vscode.Uri): Promise<void> {
    const target = uri ?? vscode.window.activeNotebookEditor?.notebook.uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target) throw new UserFacingError('config', 'No notebook is open.', 'Open a .py or .ipynb notebook, then run this command.');
    const fileName = path.basename(target.fsPath);
    const name = await this.picker.pick(`Run ${fileName} in`, 'notebook', true, ['databricks']);
    if (!name) return;
    this.runs.environment(name);
    const grant = await this.prompt.grant({ environment: name, purpose: 'notebook', targets: ['databricks'], action: `Run ${fileName}` });
    if (!grant) return;
    // Unsaved edits are what the user sees: send them, not the file on disk.
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    const content = open && !target.fsPath.endsWith('.ipynb') ? Buffer.from(open.getText(), 'utf8') : await vscode.workspace.fs.readFile(target);
    const runner = this.runs.runner(grant);
    await this.watch(`${fileName} in ${name}`, (opts) => runner.runNotebook({ fileName, content }, { ...opts, reason: grant.reason }));
  }

  /** Runs under a cancellable progress notification, then reports the result. */
  async watch(title: string, start: (opts: { signal: AbortSignal; onProgress: (p: RunProgress) => void }) => Promise<RunResult>): Promise<void> {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => {
        progress.report({ message: 'cancelling…' });
        abort.abort();
      });
      return this.runs.track(
        (opts) =>
          start({
            signal: opts.signal,
            onProgress: (p) => {
              opts.onProgress(p);
              progress.report({ message: `${p.text} · run ${p.record.runId}` });
            },
          }),
        abort,
      );
    });
    await this.report(result);
  }

  async report(result: RunResult): Promise<void> {
    const r = result.record;
    this.log.info(`Run ${r.runId} (${r.name}) in ${r.environment}: ${result.text}`);
    const actions = ['Show Output', ...(r.runPageUrl ? ['Open Run Page'] : [])];
    const message = `${r.name} in ${r.environment}: ${result.text}`;
    const show =
      result.outcome === 'succeeded' ? vscode.window.showInformationMessage : result.outcome === 'cancelled' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    void show(message, ...actions).then((pick) => {
      const t = this.runs.get(runKey(r));
      if (pick === 'Show Output') void this.showOutput(t);
      else if (pick === 'Open Run Page') void this.openRunPage(t);
    });
  }

  private async cancel(t?: TrackedRun): Promise<void> {
    let target = t;
    if (!target) {
      const active = this.runs.list().filter((x) => x.active);
      if (!active.length) throw new UserFacingError('config', 'No run is in progress.', undefined, undefined, { remedies: [Remedies.runJobInStaging] });
      const pick = await vscode.window.showQuickPick(
        active.map((x) => ({ label: x.record.name, description: `${x.record.environment} · run ${x.record.runId} · ${x.text}`, t: x })),
        { title: 'Cancel a run' },
      );
      if (!pick) return;
      target = pick.t;
    }
    const record = target.record;
    await this.runs.cancel(runKey(record), () => this.prompt.grant({ environment: record.environment, purpose: 'job', targets: ['databricks'], action: `Cancel run ${record.runId}` }));
  }

  private async openRunPage(t?: TrackedRun): Promise<void> {
    if (!t?.record.runPageUrl) throw new UserFacingError('config', 'This run has no run page link yet.');
    await vscode.env.openExternal(vscode.Uri.parse(t.record.runPageUrl, true));
  }

  private async showOutput(t?: TrackedRun): Promise<void> {
    if (!t) return;
    const r = t.record;
    const lines = [`# ${r.name} · ${r.environment}`, '', `- Run: ${r.runId}${r.jobId ? ` (job ${r.jobId})` : ''}`, `- State: ${t.text}`];
    if (r.runPageUrl) lines.push(`- Run page: ${r.runPageUrl}`);
    lines.push(`- Started: ${new Date(r.startedAt).toLocaleString()}`);
    if (r.finishedAt) lines.push(`- Finished: ${new Date(r.finishedAt).toLocaleString()}`);
    for (const o of t.result?.outputs ?? []) {
      lines.push('', `## Task ${o.taskKey} (run ${o.runId})`);
      if (o.result !== undefined) lines.push('', 'Result:', '', '```', redact(o.result), '```', ...(o.truncated ? ['', '(truncated by Databricks)'] : []));
      if (o.error) lines.push('', `Error: ${redact(o.error)}`);
      if (o.errorTrace) lines.push('', '```', redact(o.errorTrace), '```');
    }
    if (t.error) lines.push('', `Error: ${redact(t.error)}`);
    await this.documents.show(`${r.environment} ${r.name} run ${r.runId}.md`, lines.join('\n') + '\n');
  }

  /**
   * After a reload: keep watching runs that were in flight, once the user is signed in. Runs in
   * an environment that asks for a reason wait for the user: watching them uses its token.
   */
  resumeAll(): void {
    const waiting = new Map<string, RunRecord[]>();
    for (const record of this.runs.unfinished()) {
      if (this.runs.isWatched(runKey(record))) continue;
      try {
        if (this.runs.environment(record.environment).databricks?.host !== record.host) continue;
      } catch (e) {
        this.log.warn(`Cannot resume run ${record.runId} in ${record.environment}: ${errorMessage(e)}`);
        continue;
      }
      const d = this.gate.request({ environment: record.environment, purpose: 'job', targets: ['databricks'], action: `Watch run ${record.runId}` });
      if (d.kind === 'granted') this.resume(record, d.grant);
      else if (d.kind === 'confirm') waiting.set(record.environment, [...(waiting.get(record.environment) ?? []), record]);
      else this.log.warn(`Not resuming run ${record.runId} in ${record.environment}: ${d.reason}`);
    }
    for (const [environment, records] of waiting) {
      void vscode.window
        .showInformationMessage(`${records.length} run${records.length > 1 ? 's' : ''} in ${environment} ${records.length > 1 ? 'are' : 'is'} still running. Watching ${records.length > 1 ? 'them' : 'it'} uses your ${environment} credentials.`, 'Resume Watching…')
        .then(async (pick) => {
          if (!pick) return;
          const grant = await this.prompt.grant({ environment, purpose: 'job', targets: ['databricks'], action: 'Resume watching runs' }).catch((e) => {
            this.log.warn(errorMessage(e));
            return undefined;
          });
          if (grant) for (const r of records) this.resume(r, grant);
        });
    }
  }

  private resume(record: RunRecord, grant: Grant): void {
    const runner = this.runs.runner(grant);
    this.runs
      .track((opts) => runner.resume(record, opts))
      .then((result) => this.report(result))
      .catch((e) => {
        if (!(e instanceof CancelledError)) this.log.warn(`Run ${record.runId} in ${record.environment}: ${redact(errorMessage(e))}`);
      });
  }
}
