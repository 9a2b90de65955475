import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EnvironmentResolution } from '../../core/policy/Environment';
import { ACCESS_TESTS_PATH } from '../../core/policyReview/accessTestFile';
import { runAccessTests, type AccessTestReport } from '../../core/policyReview/evaluateAccessTests';
import { starterAccessTests } from '../../core/policyReview/starterTests';
import type { TargetRegistry } from '../../core/targets/TargetRegistry';
import type { CommandRunner } from '../common/CommandRunner';

const TEST_FILE_NAME = /^access-tests\.(ya?ml|json)$/;
const CANDIDATES = ['.mlspanner/access-tests.yaml', '.mlspanner/access-tests.yml', '.mlspanner/access-tests.json'];
const SOURCE = 'ML Spanner access tests';

/** A diagnostic's place and text, before it becomes a vscode.Diagnostic. */
export interface TestDiagnostic {
  line: number;
  message: string;
  /** The case or invariant, or "test file" for a problem in the file itself. */
  code: string;
}

/** The diagnostics of a report: every problem in the file, every failed expectation, on its line. */
export function diagnosticsOf(report: AccessTestReport): TestDiagnostic[] {
  return [
    ...report.errors.map((e) => ({ line: e.line, message: `${e.path}: ${e.message}`, code: 'test file' })),
    ...report.results.flatMap((r) => r.failures.map((f) => ({ line: f.line, message: `${r.name}: ${f.message}`, code: r.kind === 'invariant' ? 'invariant' : 'case' }))),
  ];
}

/**
 * Test Access Policy: runs .mlspanner/access-tests.yaml against the effective policy of this
 * window and puts each failure on its line (Problems view); saving the file or changing the
 * policy runs it again.
 */
export class AccessTestsCommand implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('mlspanner-access-tests');
  /** Test files run in this window, by URI: re-run quietly on save and on policy changes. */
  private readonly tested = new Map<string, vscode.Uri>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly resolution: () => EnvironmentResolution,
    onDidChangePolicy: vscode.Event<void>,
    private readonly registry: TargetRegistry,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      this.collection,
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (this.tested.has(doc.uri.toString())) this.rerun(doc.uri);
      }),
      onDidChangePolicy(() => {
        for (const uri of this.tested.values()) this.rerun(uri);
      }),
    );
  }

  /** Runs a test file again without a message; a file that is gone loses its diagnostics. */
  private rerun(uri: vscode.Uri): void {
    this.run(uri, { quiet: true }).catch((e) => {
      this.tested.delete(uri.toString());
      this.collection.delete(uri);
      this.log.warn(`Access tests ${vscode.workspace.asRelativePath(uri)} not run again: ${(e as Error).message}`);
    });
  }

  register(commands: CommandRunner): vscode.Disposable[] {
    return [commands.register('mlspanner.testAccessPolicy', (uri?: vscode.Uri) => this.command(uri))];
  }

  private async command(uri?: vscode.Uri): Promise<void> {
    const file = uri instanceof vscode.Uri ? uri : await this.find();
    if (file) await this.run(file, { quiet: false });
  }

  /** The active editor's test file, else the one (or a picked one) under .mlspanner/ in the workspace. */
  private async find(): Promise<vscode.Uri | undefined> {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active && TEST_FILE_NAME.test(path.basename(active.path))) return active;
    const found: vscode.Uri[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      for (const rel of CANDIDATES) {
        const candidate = vscode.Uri.joinPath(folder.uri, rel);
        try {
          await vscode.workspace.fs.stat(candidate);
          found.push(candidate);
          break;
        } catch {
          // not in this folder
        }
      }
    }
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      const pick = await vscode.window.showQuickPick(
        found.map((u) => ({ label: vscode.workspace.asRelativePath(u, true), uri: u })),
        { title: 'ML Spanner: Test Access Policy', placeHolder: 'Which test file?' },
      );
      return pick?.uri;
    }
    return this.offerStarter();
  }

  private async offerStarter(): Promise<vscode.Uri | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showInformationMessage(`Open a folder with ${ACCESS_TESTS_PATH} to test the access policy.`);
      return undefined;
    }
    const pick = await vscode.window.showInformationMessage(
      `There is no ${ACCESS_TESTS_PATH} in ${folder.name}. Create one that pins today's access (a case per group, the invariants the policy keeps), then edit it down to what must hold?`,
      'Create Test File',
    );
    if (pick !== 'Create Test File') return undefined;
    const uri = vscode.Uri.joinPath(folder.uri, ACCESS_TESTS_PATH);
    await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(uri, '..'));
    await vscode.workspace.fs.writeFile(uri, Buffer.from(starterAccessTests(this.resolution(), this.registry), 'utf8'));
    await vscode.window.showTextDocument(uri);
    return uri;
  }

  /** Runs one test file (unsaved edits included), updates its diagnostics, and says how it went. */
  async run(uri: vscode.Uri, options: { quiet: boolean }): Promise<AccessTestReport> {
    const doc = await vscode.workspace.openTextDocument(uri);
    const name = vscode.workspace.asRelativePath(uri);
    const report = runAccessTests(doc.getText(), this.resolution(), { filename: name, registry: this.registry });
    this.tested.set(uri.toString(), uri);
    this.collection.set(
      uri,
      diagnosticsOf(report).map((d) => {
        const line = Math.min(Math.max(d.line - 1, 0), Math.max(doc.lineCount - 1, 0));
        const text = doc.lineAt(line);
        const diagnostic = new vscode.Diagnostic(new vscode.Range(line, text.firstNonWhitespaceCharacterIndex, line, text.range.end.character), d.message, vscode.DiagnosticSeverity.Error);
        diagnostic.source = SOURCE;
        diagnostic.code = d.code;
        return diagnostic;
      }),
    );
    this.log.info(`Access tests ${name}: ${report.passed} passed, ${report.failed} failed, ${report.errors.length} problem(s) in the file.`);
    for (const r of report.results) for (const f of r.failures) this.log.info(`  ${name}:${f.line}: ${r.name}: ${f.message}`);
    if (!options.quiet) void this.summarize(report, name);
    return report;
  }

  private async summarize(report: AccessTestReport, name: string): Promise<void> {
    const total = report.results.length;
    let pick: string | undefined;
    if (report.errors.length)
      pick = await vscode.window.showErrorMessage(
        `${name} has ${report.errors.length} problem${report.errors.length === 1 ? '' : 's'} (${report.errors[0].path}, line ${report.errors[0].line}: ${report.errors[0].message})${total ? `; ${report.passed} of ${total} other tests passed` : ''}.`,
        'Show Problems',
      );
    else if (report.failed)
      pick = await vscode.window.showWarningMessage(`Access policy tests: ${report.failed} of ${total} failed. The failing lines are marked in ${name}.`, 'Show Problems', 'Show Access Matrix');
    else void vscode.window.showInformationMessage(`Access policy tests: all ${total} passed (${name}).`);
    if (pick === 'Show Problems') await vscode.commands.executeCommand('workbench.actions.view.problems');
    else if (pick === 'Show Access Matrix') await vscode.commands.executeCommand('mlspanner.showAccessMatrix');
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.tested.clear();
  }
}
