import * as vscode from 'vscode';
import type { EnvironmentResolution } from '../../core/policy/Environment';
import { accessMatrix, parseGroupList, policyGroups, type AccessMatrix } from '../../core/policyReview/accessMatrix';
import { matrixToCsv, matrixToMarkdown } from '../../core/policyReview/renderMatrix';
import type { TargetRegistry } from '../../core/targets/TargetRegistry';
import type { CommandRunner } from '../common/CommandRunner';

export interface MatrixDocuments {
  show(name: string, text: string, options?: { preview?: boolean }): Promise<void>;
}

const SOURCE = 'the effective settings of this window (user, workspace and databricks.yml)';

/** Show Access Matrix… and Export Access Matrix…: who gets which credential where, for a review. */
export class AccessMatrixCommands {
  private last?: { matrix: AccessMatrix; markdown: string };
  private lastGroups = '';

  constructor(
    private readonly resolution: () => EnvironmentResolution,
    private readonly registry: TargetRegistry,
    private readonly documents: MatrixDocuments,
    private readonly window: Pick<typeof vscode.window, 'showQuickPick' | 'showInputBox' | 'showInformationMessage' | 'showSaveDialog'> = vscode.window,
    private readonly writeFile: (uri: vscode.Uri, bytes: Uint8Array) => Thenable<void> = (uri, bytes) => vscode.workspace.fs.writeFile(uri, bytes),
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [commands.register('mlspanner.showAccessMatrix', () => this.show()), commands.register('mlspanner.exportAccessMatrix', () => this.export())];
  }

  /** Asks whose access to show, opens the Markdown preview, offers the exports. */
  async show(): Promise<void> {
    const resolution = this.resolution();
    const groups = policyGroups(resolution);
    const pick = await this.window.showQuickPick(
      [
        { label: '$(organization) Every group in the policy', description: groups.length ? `${groups.join(', ')}, and no group` : 'no environment names a group', every: true },
        { label: '$(person) A user in these groups…', description: 'e.g. ml-dev, ml-staging', every: false },
      ],
      { title: 'ML Spanner: Show Access Matrix', placeHolder: 'Whose access should the matrix show?' },
    );
    if (!pick) return;
    let groupsList: string[][] | undefined;
    if (!pick.every) {
      const typed = await this.window.showInputBox({
        title: 'Show Access Matrix: a user in these groups',
        prompt: 'Group names as the identity provider sends them, separated by commas. Membership is any-of: the user gets what each group gets.',
        placeHolder: 'ml-dev, ml-staging',
        value: this.lastGroups,
        validateInput: (v) => (parseGroupList(v).length ? undefined : 'Type at least one group name.'),
      });
      if (typed === undefined) return;
      this.lastGroups = typed;
      groupsList = [parseGroupList(typed)];
    }
    const matrix = accessMatrix(resolution, groupsList, this.registry);
    const markdown = matrixToMarkdown(matrix, { source: SOURCE, generatedAt: new Date().toISOString() });
    this.last = { matrix, markdown };
    await this.documents.show('Access Matrix.md', markdown, { preview: true });
    const action = await this.window.showInformationMessage(
      `Access matrix: ${matrix.environments.length} environment${matrix.environments.length === 1 ? '' : 's'} × ${matrix.rows.length} group set${matrix.rows.length === 1 ? '' : 's'}.`,
      'Export as CSV…',
      'Export as Markdown…',
    );
    if (action === 'Export as CSV…') await this.save('csv');
    else if (action === 'Export as Markdown…') await this.save('md');
  }

  /** Exports the matrix last shown (or every group's, when none was) as CSV or Markdown. */
  async export(): Promise<void> {
    const format = await this.window.showQuickPick(
      [
        { label: 'CSV', description: 'one line per group × environment × credential, for a spreadsheet', ext: 'csv' as const },
        { label: 'Markdown', description: 'the document Show Access Matrix opens', ext: 'md' as const },
      ],
      { title: 'ML Spanner: Export Access Matrix' },
    );
    if (format) await this.save(format.ext);
  }

  private async save(ext: 'csv' | 'md'): Promise<void> {
    if (!this.last) {
      const matrix = accessMatrix(this.resolution(), undefined, this.registry);
      this.last = { matrix, markdown: matrixToMarkdown(matrix, { source: SOURCE, generatedAt: new Date().toISOString() }) };
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `access-matrix-${new Date().toISOString().slice(0, 10)}.${ext}`;
    const target = await this.window.showSaveDialog({
      title: 'Export ML Spanner access matrix',
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : vscode.Uri.file(name),
      filters: ext === 'csv' ? { CSV: ['csv'] } : { Markdown: ['md'] },
    });
    if (!target) return;
    const text = ext === 'csv' ? matrixToCsv(this.last.matrix) : this.last.markdown;
    await this.writeFile(target, Buffer.from(text, 'utf8'));
    void this.window.showInformationMessage(`Exported the access matrix to ${target.fsPath}.`);
  }
}
