import * as vscode from 'vscode';

export const READONLY_SCHEME = 'mlspanner-output';

/**
 * Read-only documents for reports the extension writes (run output, explain access, doctor):
 * no "Untitled" buffer that asks to be saved, and reopening the same name shows the latest text.
 */
export class ReadOnlyDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(READONLY_SCHEME, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '';
  }

  /** Opens (or updates) `name` with `text`; `.md` names open as Markdown. */
  async show(name: string, text: string, options: { preview?: boolean } = {}): Promise<void> {
    const uri = vscode.Uri.from({ scheme: READONLY_SCHEME, path: `/${name.replace(/[^\w.\- ]/g, '_')}` });
    this.texts.set(uri.path, text);
    this.changed.fire(uri);
    if (options.preview) {
      await vscode.commands.executeCommand('markdown.showPreview', uri).then(undefined, () => vscode.window.showTextDocument(uri, { preview: true }));
      return;
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
