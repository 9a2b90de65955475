import * as vscode from 'vscode';
import { SECRET_KINDS } from '../../core/secrets/SecretKind';
import { MAX_SCAN_BYTES } from '../../core/secrets/scanFile';
import { scanNotebookJson } from '../../core/secrets/scanNotebookJson';
import { scanSecrets, type SecretFinding } from '../../core/secrets/scanSecrets';
import { cellLanguageOf, secretLanguageOf, type SecretLanguage } from '../../core/secrets/secretLanguage';
import { lineOf, lineStarts } from '../../core/text/lines';

/** The diagnostic source name shown in the Problems view. */
export const SECRET_DIAGNOSTIC_SOURCE = 'ML Spanner';
const DEBOUNCE_MS = 400;
/** Longer documents are scanned on open and save only, not while typing (a scan of 1 MB takes a few hundred ms). */
const SCAN_WHILE_TYPING_MAX_CHARS = 256 * 1024;

/** The scanner's language for a document: a notebook cell by its language id, a file by its name. */
export function documentSecretLanguage(document: vscode.TextDocument): SecretLanguage | undefined {
  if (document.uri.scheme === 'vscode-notebook-cell') return cellLanguageOf(document.languageId, document.lineAt(0).text);
  if (document.uri.scheme !== 'file' && document.uri.scheme !== 'untitled' && document.uri.scheme !== 'vscode-remote') return undefined;
  return secretLanguageOf(document.fileName, document.languageId);
}

/** The findings in a document's current text (pure scan, a few milliseconds). */
export function scanDocument(document: vscode.TextDocument): { language: SecretLanguage; findings: SecretFinding[] } | undefined {
  const language = documentSecretLanguage(document);
  if (!language) return undefined;
  const text = document.getText();
  if (text.length > MAX_SCAN_BYTES) return undefined;
  return { language, findings: language === 'ipynb' ? scanNotebookJson(text) : scanSecrets(text, language) };
}

/** A diagnostic for a finding: the secret's range, a stable code linking to the documentation. */
export function toDiagnostic(finding: SecretFinding, positionAt: (offset: number) => vscode.Position, uri: vscode.Uri, docs: vscode.Uri): vscode.Diagnostic {
  const range = new vscode.Range(positionAt(finding.range.start), positionAt(finding.range.end));
  const d = new vscode.Diagnostic(range, finding.message, SECRET_KINDS[finding.kind].severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  d.source = SECRET_DIAGNOSTIC_SOURCE;
  d.code = { value: finding.code, target: docs };
  if (finding.related?.length)
    d.relatedInformation = finding.related.map(
      (r) => new vscode.DiagnosticRelatedInformation(new vscode.Location(uri, new vscode.Range(positionAt(r.start), positionAt(r.end))), 'The other half of this AWS key pair'),
    );
  return d;
}

/** Offsets → positions for a text held in memory (files scanned from disk). */
export function positionsOf(text: string): (offset: number) => vscode.Position {
  const starts = lineStarts(text);
  return (offset) => {
    const line = lineOf(starts, offset);
    return new vscode.Position(line, offset - starts[line]);
  };
}

/**
 * Keeps the Problems view in step with hard-coded secrets in open documents and notebook cells:
 * scanned on open and save at once, on change after a pause in typing. The workspace scan adds
 * files that are not open through `setFileDiagnostics`.
 */
export class SecretDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('mlspanner.secrets');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly docs: vscode.Uri) {
    this.subscriptions.push(
      this.collection,
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidSaveTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length) this.schedule(e.document);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.closed(d)),
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.updateNotebook(nb)),
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        for (const change of e.contentChanges) for (const cell of change.removedCells) this.collection.delete(cell.document.uri);
        for (const change of e.contentChanges) for (const cell of change.addedCells) this.update(cell.document);
        for (const change of e.cellChanges) if (change.document) this.schedule(change.document);
      }),
      vscode.workspace.onDidCloseNotebookDocument((nb) => {
        for (const cell of nb.getCells()) this.collection.delete(cell.document.uri);
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.update(d);
    for (const nb of vscode.workspace.notebookDocuments) this.updateNotebook(nb);
  }

  /** Scans a document now and replaces its diagnostics. */
  update(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    if (document.isClosed) return;
    const scanned = scanDocument(document);
    if (!scanned) return;
    this.collection.set(
      document.uri,
      scanned.findings.map((f) => toDiagnostic(f, (o) => document.positionAt(o), document.uri, this.docs)),
    );
  }

  /** Diagnostics of a file read from disk by the workspace scan (not open in an editor). */
  setFileDiagnostics(uri: vscode.Uri, text: string, findings: SecretFinding[]): void {
    const at = positionsOf(text);
    this.collection.set(uri, findings.map((f) => toDiagnostic(f, at, uri, this.docs)));
  }

  private updateNotebook(nb: vscode.NotebookDocument): void {
    // The cells carry the diagnostics now; a workspace scan's raw-JSON ones would repeat them.
    this.collection.delete(nb.uri);
    for (const cell of nb.getCells()) this.update(cell.document);
  }

  private schedule(document: vscode.TextDocument): void {
    if (document.offsetAt(document.lineAt(document.lineCount - 1).range.end) > SCAN_WHILE_TYPING_MAX_CHARS) return;
    const key = document.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => this.update(document), DEBOUNCE_MS),
    );
  }

  private closed(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    // Unsaved edits are gone with the document: what is on disk is what the last save scanned.
    if (document.uri.scheme === 'untitled' || document.isDirty) this.collection.delete(document.uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.subscriptions) s.dispose();
  }
}
