import * as vscode from 'vscode';
import { kindOfCode } from '../../core/secrets/SecretKind';
import { canMoveToSecretScope, environmentCredentialFix, type TextEdit } from '../../core/secrets/secretFixes';
import type { SecretFinding } from '../../core/secrets/scanSecrets';
import { SECRET_DIAGNOSTIC_SOURCE, scanDocument } from './SecretDiagnostics';

export const MOVE_TO_SECRET_SCOPE_COMMAND = 'mlspanner.moveSecretToScope';

/** Arguments of the move command: which literal, in which version of which document. */
export interface MoveSecretArgs {
  uri: string;
  version: number;
  /** Offset of the finding's range start in that version. */
  start: number;
}

/** The finding a diagnostic of ours stands for, among the findings of a fresh scan of the document. */
export function findingFor(document: vscode.TextDocument, diagnostic: vscode.Diagnostic, findings: readonly SecretFinding[]): SecretFinding | undefined {
  const code = typeof diagnostic.code === 'object' ? diagnostic.code.value : diagnostic.code;
  if (diagnostic.source !== SECRET_DIAGNOSTIC_SOURCE || typeof code !== 'string' || !kindOfCode(code)) return undefined;
  const start = document.offsetAt(diagnostic.range.start);
  return findings.find((f) => f.code === code && f.range.start === start);
}

export function toWorkspaceEdit(document: vscode.TextDocument, edits: TextEdit[]): vscode.WorkspaceEdit {
  const we = new vscode.WorkspaceEdit();
  for (const e of edits) we.replace(document.uri, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.newText);
  return we;
}

/**
 * Quick fixes on a hard-coded secret: "Use the environment's credentials" (an edit, applied as
 * it is) and "Move to a Databricks secret scope…" (a command that asks where, stores the value,
 * then edits).
 */
export class SecretCodeActions implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] };

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    if (!context.diagnostics.some((d) => d.source === SECRET_DIAGNOSTIC_SOURCE)) return actions;
    const scanned = scanDocument(document);
    if (!scanned || scanned.language === 'ipynb') return actions; // raw notebook JSON: fix the cells instead
    const text = document.getText();
    for (const diagnostic of context.diagnostics) {
      const finding = findingFor(document, diagnostic, scanned.findings);
      if (!finding) continue;
      const fix = environmentCredentialFix(text, scanned.language, finding);
      if (fix && fix.edits.length) {
        const a = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        a.edit = toWorkspaceEdit(document, fix.edits);
        a.diagnostics = [diagnostic];
        a.isPreferred = true;
        actions.push(a);
      }
      if (canMoveToSecretScope(text, scanned.language, finding)) {
        const a = new vscode.CodeAction('Move to a Databricks secret scope…', vscode.CodeActionKind.QuickFix);
        const args: MoveSecretArgs = { uri: document.uri.toString(), version: document.version, start: finding.range.start };
        a.command = { command: MOVE_TO_SECRET_SCOPE_COMMAND, title: a.title, arguments: [args] };
        a.diagnostics = [diagnostic];
        actions.push(a);
      }
    }
    return actions;
  }
}
