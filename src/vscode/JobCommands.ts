import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunProgress, RunResult } from '../core/databricks/JobRunner';
import { parseJobParameters } from '../core/databricks/jobParameters';
import { CancelledError, UserFacingError, errorMessage } from '../core/errors';
import { redact } from '../core/redact';
import type { Environment } from '../core/policy/Environment';
import { decideAccess } from '../core/policy/decideAccess';
import type { CommandRunner } from './CommandRunner';
import type { CredentialCommands } from './CredentialCommands';
import type { TreeNode } from './EnvironmentsTreeProvider';
import type { ReadOnlyDocuments } from './ReadOnlyDocuments';
import { runKey, type RunsService, type TrackedRun } from './RunsService';

/** Run Job…, Run Job in Staging…, Run Current Notebook…, cancel, output and run page. */
export class JobCommands {
  constructor(
    private readonly runs: RunsService,
    private readonly credentials: CredentialCommands,
    private readonly log: vscode.LogOutputChannel,
    private readonly groups: () => string[],
    private readonly documents: ReadOnlyDocuments,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
      commands.register('mlspanner.runJobInStaging', () => this.runJob('staging')),
      commands.register('mlspanner.runJob', (node?: unknown) => this.runJob((node as TreeNode | undefined)?.args?.environment as string | undefined)),
      commands.register('mlspanner.runNotebook', (uri?: unknown) => this.runNotebook(uri instanceof vscode.Uri ? uri : undefined)),
      commands.register('mlspanner.cancelRun', (t?: unknown) => this.cancel(t as TrackedRun | undefined)),
      commands.register('mlspanner.openRunPage', (t?: unknown) => this.openRunPage(t as TrackedRun | undefined)),
      commands.register('mlspanner.showRunOutput', (t?: unknown) => this.showOutput(t as TrackedRun | undefined)),
    ];
  }

  private async runJob(environment?: string): Promise<void> {
    const name = environment ?? (await this.credentials.pickEnvironment('Run a Databricks job in', true));
    if (!name) return;
    const env = this.runs.environment(name);
    this.runs.checkAccess(env, 'jobs');
    const job = await this.pickJob(env);
    if (!job) return;
    const parameters = await this.askParameters(job.name, job.defaults);
    if (parameters === undefined) return;
    const reason = await this.confirm(env, `Run ${job.name}`);
    if (reason === undefined) return;
    const runner = this.runs.runner(env);
    await this.watch(`${job.name} in ${env.name}`, (opts) => runner.runJob({ jobId: job.id, jobName: job.name, parameters }, { ...opts, reason }));
  }

  private async pickJob(env: Environment): Promise<{ id: number; name: string; defaults: Record<string, string> } | undefined> {
    const quick = vscode.window.createQuickPick<vscode.QuickPickItem & { id: number; jobName: string; defaults: Record<string, string> }>();
    quick.title = `Run a job in ${env.name}`;
    quick.placeholder = 'Loading jobs…';
    quick.busy = true;
    quick.matchOnDescription = true;
    quick.matchOnDetail = true;
    quick.show();
    try {
      const jobs = await this.runs.jobsClient(env).listAllJobs();
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

  /** Prod-like environments: a modal confirmation and a reason for the access log. */
  private async confirm(env: Environment, action: string): Promise<string | undefined | ''> {
    if (!decideAccess(env, this.groups()).confirm) return '';
    const go = await vscode.window.showWarningMessage(
      `${action} in ${env.name}?`,
      { modal: true, detail: `${env.name} is a production-like environment. The run and your reason are recorded in the access log.` },
      'Continue',
    );
    if (go !== 'Continue') return undefined;
    const reason = await vscode.window.showInputBox({
      title: `Why run this in ${env.name}?`,
      prompt: 'A reason for the access log (e.g. a ticket or incident number).',
      validateInput: (t) => (t.trim().length < 3 ? 'Please give a reason.' : undefined),
    });
    return reason?.trim() || undefined;
  }

  private async runNotebook(uri?: vscode.Uri): Promise<void> {
    const target = uri ?? vscode.window.activeNotebookEditor?.notebook.uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target) throw new UserFacingError('config', 'No notebook is open.', 'Open a .py or .ipynb notebook, then run this command.');
    const fileName = path.basename(target.fsPath);
    const name = await this.credentials.pickEnvironment(`Run ${fileName} in`, true);
    if (!name) return;
    const env = this.runs.environment(name);
    this.runs.checkAccess(env, 'notebooks');
    const reason = await this.confirm(env, `Run ${fileName}`);
    if (reason === undefined) return;
    // Unsaved edits are what the user sees: send them, not the file on disk.
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    const content = open && !target.fsPath.endsWith('.ipynb') ? Buffer.from(open.getText(), 'utf8') : await vscode.workspace.fs.readFile(target);
    const runner = this.runs.runner(env);
    await this.watch(`${fileName} in ${env.name}`, (opts) => runner.runNotebook({ fileName, content }, { ...opts, reason }));
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
      if (!active.length) throw new UserFacingError('config', 'No run is in progress.');
      const pick = await vscode.window.showQuickPick(
        active.map((x) => ({ label: x.record.name, description: `${x.record.environment} · run ${x.record.runId} · ${x.text}`, t: x })),
        { title: 'Cancel a run' },
      );
      if (!pick) return;
      target = pick.t;
    }
    await this.runs.cancel(runKey(target.record));
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

  /** After a reload: keep watching runs that were in flight, once the user is signed in. */
  resumeAll(): void {
    for (const record of this.runs.unfinished()) {
      if (this.runs.isWatched(runKey(record))) continue;
      let env: Environment;
      try {
        env = this.runs.environment(record.environment);
      } catch (e) {
        this.log.warn(`Cannot resume run ${record.runId} in ${record.environment}: ${errorMessage(e)}`);
        continue;
      }
      if (env.databricks?.host !== record.host) continue;
      const runner = this.runs.runner(env);
      this.runs
        .track((opts) => runner.resume(record, opts))
        .then((result) => this.report(result))
        .catch((e) => {
          if (!(e instanceof CancelledError)) this.log.warn(`Run ${record.runId} in ${record.environment}: ${redact(errorMessage(e))}`);
        });
    }
  }
}
