import * as vscode from 'vscode';
import type { AccessLog } from '../../core/audit/AccessLog';
import type { CommandRunner } from '../common/CommandRunner';

/** Show, verify and export the hash-chained access log. */
export class AccessLogCommands {
  constructor(
    private readonly accessLog: AccessLog,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
      commands.register('mlspanner.showAccessLog', () => this.show()),
      commands.register('mlspanner.verifyAccessLog', () => this.verify()),
      commands.register('mlspanner.exportAccessLog', () => this.export()),
    ];
  }

  private async show(): Promise<void> {
    await this.accessLog.flush();
    const uri = vscode.Uri.file(this.accessLog.file);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      void vscode.window.showInformationMessage('The access log is empty: nothing has been accessed yet.');
      return;
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: false });
  }

  private async verify(): Promise<void> {
    const r = await this.accessLog.verify();
    if (r.ok) {
      this.log.info(`Access log verified: ${r.count} entries, chain intact.`);
      void vscode.window.showInformationMessage(`Access log verified: ${r.count} entries, hash chain intact.`);
    } else {
      const where = r.brokenAt ? `line ${r.brokenAt.line}: ${r.brokenAt.reason}` : 'unknown position';
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
