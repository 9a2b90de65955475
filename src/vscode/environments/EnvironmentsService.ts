import * as vscode from 'vscode';
import { parseBundleTargets, type BundleTargets } from '../../core/policy/parseBundleTargets';
import { resolveEnvironments } from '../../core/policy/resolveEnvironments';
import type { EnvironmentResolution } from '../../core/policy/Environment';
import type { Settings } from '../common/Settings';

/**
 * The effective environments: `mlspanner.environments` plus targets of a Databricks Asset
 * Bundle (`databricks.yml` at a workspace folder root). Re-resolved when either changes.
 * A bundle in an untrusted workspace is ignored: it would decide where tokens are sent.
 */
export class EnvironmentsService implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private bundle?: BundleTargets;
  private cached?: EnvironmentResolution;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly settings: Settings) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/databricks.yml');
    const reload = () => void this.loadBundle();
    this.disposables.push(
      watcher,
      watcher.onDidChange(reload),
      watcher.onDidCreate(reload),
      watcher.onDidDelete(reload),
      vscode.workspace.onDidGrantWorkspaceTrust(reload),
      vscode.workspace.onDidChangeWorkspaceFolders(reload),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('mlspanner.environments')) this.invalidate();
      }),
      this.changed,
    );
    void this.loadBundle();
  }

  resolution(): EnvironmentResolution {
    this.cached ??= resolveEnvironments(this.settings.environmentsRaw(), this.bundle);
    return this.cached;
  }

  /** The bundle in use (databricks.yml), for the doctor: its path and target names; undefined when none is read. */
  bundleSource(): { source: string; targets: string[] } | undefined {
    return this.bundle ? { source: this.bundle.source, targets: Object.keys(this.bundle.targets) } : undefined;
  }

  names(): string[] {
    return Object.keys(this.resolution().environments);
  }

  private invalidate(): void {
    this.cached = undefined;
    this.changed.fire();
  }

  private async loadBundle(): Promise<void> {
    let next: BundleTargets | undefined;
    if (vscode.workspace.isTrusted) {
      for (const folder of vscode.workspace.workspaceFolders ?? []) {
        const uri = vscode.Uri.joinPath(folder.uri, 'databricks.yml');
        try {
          const text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
          next = parseBundleTargets(text, vscode.workspace.asRelativePath(uri));
          break;
        } catch {
          // No bundle in this folder.
        }
      }
    }
    this.bundle = next;
    this.invalidate();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
