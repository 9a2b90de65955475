import * as vscode from 'vscode';
import type { AccessLog } from '../../core/audit/AccessLog';
import { formatAccessLog, type AccessLogFilter } from '../../core/audit/accessLogView';
import type { CommandRunner } from '../common/CommandRunner';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';

/** Show (filtered, readable), verify and export the hash-chained access log. */
export class AccessLogCommands {
  constructor(
    private readonly accessLog: AccessLog,
    private readonly log: vscode.LogOutputChannel,
    private readonly documents: ReadOnlyDocuments,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
      commands.register('mlspanner.showAccessLog', () => this.show()),
      commands.register('mlspanner.verifyAccessLog', () => this.verify()),
      commands.register('mlspanner.exportAccessLog', () => this.export()),
    ];
  }

  private async show(): Promise<void> {
    const entries = await this.accessLog.entries();
    if (!entries.length) {
      void vscode.window.showInformationMessage('The access log is empty: nothing has been accessed yet.');
      return;
    }
    const environments = [...new Set(entries.map((e) => e.environment).filter((x): x is string => typeof x === 'string'))].sort();
    const picks: (vscode.QuickPickItem & { filter?: AccessLogFilter; raw?: boolean })[] = [
      { label: '$(list-flat) All entries', filter: {} },
      { label: '$(hubot) By agents', description: 'language model tools acting for you', filter: { via: 'agent' } },
      { label: '$(person) By you', filter: { via: 'user' } },
      { label: '$(shield) Confirmations', description: 'uses of prod-like environments, with reasons', filter: { types: ['accessConfirmed'] } },
      { label: '$(circle-slash) Denials', filter: { outcome: 'denied' } },
      { label: '$(error) Failures', filter: { outcome: 'failure' } },
      { label: '$(globe) Host trust', description: 'hosts you trusted or declined', filter: { types: ['hostTrusted', 'hostRejected'] } },
      ...environments.map((env) => ({ label: `$(server-environment) ${env}`, description: 'environment', filter: { environment: env } })),
      { label: '$(json) Raw log (read-only JSON lines)', raw: true },
    ];
    const pick = await vscode.window.showQuickPick(picks, { title: 'Show Access Log', placeHolder: 'Which entries?' });
    if (!pick) return;
    if (pick.raw) {
      await this.documents.show('ML Spanner access log.jsonl', await this.accessLog.readText());
      return;
    }
    const verified = await this.accessLog.verify();
    await this.documents.show(`Access log ${pick.label.replace(/^\$\([\w-]+\) /, '')}.md`, formatAccessLog(entries, pick.filter ?? {}, verified, pick.label.replace(/^\$\([\w-]+\) /, '')), { preview: true });
  }

  private async verify(): Promise<void> {
    const r = await this.accessLog.verify();
    if (r.ok) {
      this.log.info(`Access log verified: ${r.count} entries, chain intact.`);
      void vscode.window.showInformationMessage(`Access log verified: ${r.count} entries, hash chain intact.`);
    } else {
      const where = r.brokenAt ? `line ${r.brokenAt.line}: ${r.brokenAt.reason}${r.breaks.length > 1 ? ` (and ${r.breaks.length - 1} more: ${r.breaks.slice(1, 4).map((b) => `line ${b.line}`).join(', ')}${r.breaks.length > 4 ? ', …' : ''})` : ''}` : 'unknown position';
      this.log.error(`Access log verification failed at ${where}.`);
      void vscode.window.showErrorMessage(`Access log tampered or damaged at ${where}. ${r.count} entries before it are intact.`, 'Show Access Log').then((p) => {
        if (p) void this.show();
      });
    }
  }

  private async export(): Promise<void> {
    const r = await this.accessLog.verify();
    const target = await vscode.window.showSaveDialog({
      title: 'Export ML Spanner access log',
      defaultUri: vscode.Uri.file(`mlspanner-access-log-${new Date().toISOString().slice(0, 10)}.jsonl`),
      filters: { 'JSON Lines': ['jsonl'] },
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(await this.accessLog.readText(), 'utf8'));
    void vscode.window.showInformationMessage(
      `Exported ${r.count} access-log entries (${r.ok ? 'chain verified' : `chain broken at line ${r.brokenAt?.line}`}) to ${target.fsPath}.`,
    );
  }
}
