import * as vscode from 'vscode';
import type { CredentialBroker } from '../core/credentials/CredentialBroker';
import { UserFacingError } from '../core/errors';
import { decideAccess } from '../core/policy/decideAccess';
import { QueryRunner, googleTokenSource } from '../core/spanner/QueryRunner';
import type { AccessEventSink } from '../core/audit/AccessLog';
import type { CommandRunner } from './CommandRunner';
import type { CredentialCommands } from './CredentialCommands';
import type { EnvironmentsService } from './EnvironmentsService';
import type { ReadOnlyDocuments } from './ReadOnlyDocuments';

/**
 * Run ML Spanner Query…: the selected statement (or the whole .sql file, or one typed in) runs
 * read-only against the environment's Spanner database with an ephemeral Google token; the
 * result opens as a Markdown table.
 */
export class QueryCommands implements vscode.Disposable {
  private readonly queries: QueryRunner;

  constructor(
    private readonly environments: EnvironmentsService,
    private readonly broker: CredentialBroker,
    private readonly credentials: CredentialCommands,
    private readonly groups: () => string[],
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
    const preferred = (node as { args?: { environment?: string } } | undefined)?.args?.environment;
    const name = preferred ?? (await this.credentials.pickEnvironment('Run the query in', true));
    if (!name) return;
    const env = this.environments.resolution().environments[name];
    if (!env?.spanner) throw new UserFacingError('config', `The environment ${name} has no Spanner database.`, `Set mlspanner.environments.${name}.spanner.`);
    const decision = decideAccess(env, this.groups());
    if (!decision.granted || !decision.targets.google.granted)
      throw new UserFacingError('denied', `You cannot query ML Spanner in ${name}: ${decision.granted ? decision.targets.google.reason : decision.reason}.`, 'Run "ML Spanner: Explain Access…" for details.');
    if (decision.confirm) {
      const go = await vscode.window.showWarningMessage(`Run this query in ${name}?`, { modal: true, detail: `${name} is a production-like environment; the query is recorded in the access log.` }, 'Run Query');
      if (go !== 'Run Query') return;
    }
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `ML Spanner: querying ${env.spanner.database} in ${name}…` }, () =>
      this.queries.run({ environment: name, spanner: env.spanner!, sql, getToken: googleTokenSource(this.broker, name) }),
    );
    const header = `# ${env.spanner.database} · ${name}\n\n\`\`\`sql\n${sql.trim()}\n\`\`\`\n\n${result.rows.length} row${result.rows.length === 1 ? '' : 's'} in ${result.elapsedMs} ms\n\n`;
    await this.documents.show(`${name} ${env.spanner.database} query.md`, header + result.markdown, { preview: true });
  }

  dispose(): void {
    void this.queries.dispose();
  }
}
