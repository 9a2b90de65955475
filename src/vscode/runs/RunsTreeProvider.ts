import * as vscode from 'vscode';
import { Disposables } from '../common/Disposables';
import { StandIns, VIEWS } from '../common/StandIns';
import type { RunsService, TrackedRun } from './RunsService';
import { runKey } from './RunsService';

/** The Runs view (`mlspanner.runs`): recent runs with state icons, run page links and cancel for active ones. */
export class RunsTreeProvider extends Disposables implements vscode.TreeDataProvider<TrackedRun> {
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly runs: RunsService) {
    super();
    this.register(runs.onDidChange(() => this.changed.fire()));
    this.register(StandIns.createTreeView('mlspanner.runs', { treeDataProvider: this, ...VIEWS['mlspanner.runs'] }));
  }

  getChildren(element?: TrackedRun): TrackedRun[] {
    return element ? [] : this.runs.list();
  }

  getTreeItem(t: TrackedRun): vscode.TreeItem {
    const r = t.record;
    const item = new vscode.TreeItem(r.name, vscode.TreeItemCollapsibleState.None);
    item.id = runKey(r);
    const when = new Date(r.startedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    item.description = `${r.environment} · ${t.error && !t.active ? 'error' : t.text} · ${when}`;
    const color =
      t.icon === 'pass' || t.icon === 'check'
        ? new vscode.ThemeColor('testing.iconPassed')
        : t.icon === 'error' || t.icon === 'close'
          ? new vscode.ThemeColor('testing.iconFailed')
          : undefined;
    item.iconPath = new vscode.ThemeIcon(t.icon, color);
    const md = new vscode.MarkdownString(`**${r.name}** (${r.kind}) in **${r.environment}**\n\nRun ${r.runId}${r.jobId ? ` of job ${r.jobId}` : ''} · ${t.text}\n\nStarted ${new Date(r.startedAt).toLocaleString()}${r.finishedAt ? ` · finished ${new Date(r.finishedAt).toLocaleString()}` : ''}`);
    if (t.error) md.appendMarkdown(`\n\n${t.error}`);
    item.tooltip = md;
    item.contextValue = t.active ? 'run.active' : 'run.done';
    item.command = t.result
      ? { command: 'mlspanner.showRunOutput', title: 'Show Output', arguments: [t] }
      : r.runPageUrl
        ? { command: 'mlspanner.openRunPage', title: 'Open Run Page', arguments: [t] }
        : undefined;
    return item;
  }

}
