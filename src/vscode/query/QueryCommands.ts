import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import { Remedies, UserFacingError } from '../../core/errors';
import { settingPath } from '../../core/policy/Environment';
import { QueryRunner } from '../../core/spanner/QueryRunner';
import type { AccessPrompt } from '../common/AccessPrompt';
import type { CommandRunner } from '../common/CommandRunner';
import type { EnvironmentPicker } from '../common/EnvironmentPicker';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';
import { nodeArgs } from '../environments/CredentialCommands';

/**
 * Run ML Spanner Query…: the selected statement (or the whole .sql file, or one typed in) runs
 * read-only against the environment's Spanner database with an ephemeral Google token; the
 * result opens as a Markdown table.
 */
export class QueryCommands implements vscode.Disposable {
  private readonly queries: QueryRunner;

  constructor(
    private readonly gate: AccessGate,
    private readonly prompt: AccessPrompt,
    private readonly picker: EnvironmentPicker,
    private readonly documents: ReadOnlyDocuments,
    sink: AccessEventSink,
  ) {
    this.queries = new QueryRunner({ sink });
  }

  register(commands: CommandRunner): vscode.Disposable[] {
    return [commands.register('mlspanner.runSpannerQuery', (node?: unknown) => this.run(node))];
  }

  private async sql(): Promise<string | undefined> {
    const editor = vscode.window.activeTextEditor;
    const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : undefined;
    if (selected?.trim()) return selected;
    if (editor && (editor.document.languageId === 'sql' || editor.document.fileName.endsWith('.sql')) && editor.document.getText().trim()) return editor.document.getText();
    return vscode.window.showInputBox({
      title: 'Run ML Spanner Query',
      prompt: 'A read-only query, e.g. SELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers) LIMIT 10',
      ignoreFocusOut: true,
      validateInput: (t) => (t.trim() ? undefined : 'Enter a query.'),
    });
  }

  private async run(node?: unknown): Promise<void> {
    const sql = await this.sql();
    if (!sql) return;
    const name = nodeArgs(node).environment ?? (await this.picker.pick('Run the query in', 'query', true, ['google']));
    if (!name) return;
    const env = this.gate.environment(name);
    if (env && !env.spanner)
      throw new UserFacingError('config', `The environment ${name} has no Spanner database.`, `Set ${settingPath(name, 'spanner')}.`, undefined, { remedies: [Remedies.openSettings(settingPath(name))] });
    const grant = await this.prompt.grant({ environment: name, purpose: 'query', targets: ['google'], action: 'Run this query' });
    if (!grant || !env?.spanner) return;
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `ML Spanner: querying ${env.spanner.database} in ${name}…` }, () =>
      this.queries.run({ environment: name, spanner: env.spanner!, sql, getToken: this.gate.tokenSource(grant, 'google') }),
    );
    const header = `# ${env.spanner.database} · ${name}\n\n\`\`\`sql\n${sql.trim()}\n\`\`\`\n\n${result.rows.length} row${result.rows.length === 1 ? '' : 's'} in ${result.elapsedMs} ms\n\n`;
    await this.documents.show(`${name} ${env.spanner.database} query.md`, header + result.markdown, { preview: true });
  }

  dispose(): void {
    void this.queries.dispose();
  }
}
