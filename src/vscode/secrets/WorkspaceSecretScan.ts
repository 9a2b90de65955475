import * as vscode from 'vscode';
import { MAX_SCAN_BYTES, scanFile } from '../../core/secrets/scanFile';
import { SECRET_SCAN_EXCLUDE, SECRET_SCAN_GLOB } from '../../core/secrets/secretLanguage';
import type { SecretDiagnostics } from './SecretDiagnostics';

/** At most this many files per scan (a monorepo's generated files should not hang the window). */
const MAX_FILES = 20_000;

export interface WorkspaceScanSummary {
  filesScanned: number;
  filesWithFindings: number;
  findings: number;
  cancelled: boolean;
}

/**
 * "Scan Workspace for Hard-Coded Secrets": every supported file, in a cancellable progress
 * notification. Open documents and notebooks are scanned as they are in the editor; other
 * files from disk. Results land in the Problems view.
 */
export async function scanWorkspaceForSecrets(diagnostics: SecretDiagnostics): Promise<WorkspaceScanSummary> {
  if (!vscode.workspace.workspaceFolders?.length) {
    void vscode.window.showInformationMessage('Open a folder to scan it for hard-coded secrets.');
    return { filesScanned: 0, filesWithFindings: 0, findings: 0, cancelled: false };
  }
  const summary = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Scanning for hard-coded secrets', cancellable: true },
    async (progress, token) => {
      const s: WorkspaceScanSummary = { filesScanned: 0, filesWithFindings: 0, findings: 0, cancelled: false };
      const files = await vscode.workspace.findFiles(SECRET_SCAN_GLOB, SECRET_SCAN_EXCLUDE, MAX_FILES, token);
      const open = new Map(vscode.workspace.textDocuments.map((d) => [d.uri.toString(), d]));
      const openNotebooks = new Set(vscode.workspace.notebookDocuments.map((n) => n.uri.toString()));
      const step = files.length ? 100 / files.length : 100;
      for (const uri of files) {
        if (token.isCancellationRequested) {
          s.cancelled = true;
          break;
        }
        const count = openNotebooks.has(uri.toString()) ? countNotebookCells(uri, diagnostics) : await scanOne(uri, open.get(uri.toString()), diagnostics);
        s.filesScanned++;
        if (count > 0) {
          s.filesWithFindings++;
          s.findings += count;
        }
        progress.report({ increment: step, message: `${s.filesScanned} of ${files.length} files, ${s.findings} found` });
      }
      return s;
    },
  );
  const where = `${summary.filesWithFindings} file${summary.filesWithFindings === 1 ? '' : 's'}`;
  const scanned = `${summary.filesScanned} file${summary.filesScanned === 1 ? '' : 's'} scanned${summary.cancelled ? ' before you cancelled' : ''}`;
  if (!summary.findings) {
    void vscode.window.showInformationMessage(`No hard-coded secrets found (${scanned}).`);
    return summary;
  }
  const pick = await vscode.window.showWarningMessage(`Found ${summary.findings} hard-coded secret${summary.findings === 1 ? '' : 's'} in ${where} (${scanned}). Each has quick fixes in the Problems view.`, 'Open Problems');
  if (pick) await vscode.commands.executeCommand('workbench.actions.view.problems');
  return summary;
}

async function scanOne(uri: vscode.Uri, document: vscode.TextDocument | undefined, diagnostics: SecretDiagnostics): Promise<number> {
  if (document) {
    diagnostics.update(document);
    return diagnostics.collection.get(uri)?.length ?? 0;
  }
  let bytes: Uint8Array;
  try {
    const stat = await vscode.workspace.fs.stat(uri);
    if (stat.size > MAX_SCAN_BYTES) return 0;
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch {
    return 0; // deleted or unreadable since findFiles: nothing to report
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const scanned = scanFile(uri.path, text);
  if (!scanned) return 0;
  diagnostics.setFileDiagnostics(uri, text, scanned.findings);
  return scanned.findings.length;
}

/** An open notebook's cells carry live diagnostics already: count those. */
function countNotebookCells(uri: vscode.Uri, diagnostics: SecretDiagnostics): number {
  const nb = vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === uri.toString());
  return nb ? nb.getCells().reduce((n, c) => n + (diagnostics.collection.get(c.document.uri)?.length ?? 0), 0) : 0;
}
