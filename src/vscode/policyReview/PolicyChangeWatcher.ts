import * as vscode from 'vscode';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import type { EnvironmentResolution } from '../../core/policy/Environment';
import { accessMatrix } from '../../core/policyReview/accessMatrix';
import { policyDiff, policyDiffToMarkdown, summarizeChanges, widenings, type PolicyChange } from '../../core/policyReview/policyDiff';
import { matrixToMarkdown } from '../../core/policyReview/renderMatrix';
import type { TargetRegistry } from '../../core/targets/TargetRegistry';

/** Where a value of mlspanner.environments is set. */
export type SettingScope = 'global' | 'workspace' | 'workspaceFolder';

export type SettingValues = Partial<Record<SettingScope, unknown>>;

/** Reads and writes mlspanner.environments per configuration target (a seam for tests). */
export interface EnvironmentsSettingStore {
  values(): SettingValues;
  update(scope: SettingScope, value: unknown): Thenable<void>;
}

export function vscodeSettingStore(): EnvironmentsSettingStore {
  const targets: Record<SettingScope, vscode.ConfigurationTarget> = {
    global: vscode.ConfigurationTarget.Global,
    workspace: vscode.ConfigurationTarget.Workspace,
    workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
  };
  return {
    values: () => {
      const i = vscode.workspace.getConfiguration('mlspanner').inspect<unknown>('environments');
      return { global: i?.globalValue, workspace: i?.workspaceValue, workspaceFolder: i?.workspaceFolderValue };
    },
    update: (scope, value) => vscode.workspace.getConfiguration('mlspanner').update('environments', value, targets[scope]),
  };
}

const SCOPE_NAMES: Record<SettingScope, string> = { global: 'User', workspace: 'Workspace', workspaceFolder: 'Workspace Folder' };

/** At most this many lines of a diff go into one access-log entry. */
const DETAIL_LINES = 20;

export interface PolicyChangeWatcherDeps {
  resolution(): EnvironmentResolution;
  onDidChange: (listener: () => void) => { dispose(): void };
  registry: TargetRegistry;
  sink: AccessEventSink;
  documents: { show(name: string, text: string, options?: { preview?: boolean }): Promise<void> };
  log: Pick<vscode.LogOutputChannel, 'info' | 'warn'>;
  store?: EnvironmentsSettingStore;
  window?: Pick<typeof vscode.window, 'showWarningMessage'>;
  /** Quiet period after the last change before comparing (settings saves and the bundle come in bursts). */
  settleMs?: number;
}

interface Snapshot {
  resolution: EnvironmentResolution;
  settings: SettingValues;
}

/**
 * Watches the effective policy. When it changes (settings edited, databricks.yml changed), the
 * decision diff over every group either policy names is recorded in the access log as
 * `policyChanged`; when access widened, the user is told once, with Review (the diff and the new
 * matrix) and Revert Setting (the previous value of mlspanner.environments, at the same
 * configuration target, after a confirmation).
 */
export class PolicyChangeWatcher {
  private baseline?: Snapshot;
  private timer?: ReturnType<typeof setTimeout>;
  private readonly subscription: { dispose(): void };
  private readonly store: EnvironmentsSettingStore;
  private readonly window: Pick<typeof vscode.window, 'showWarningMessage'>;
  private disposed = false;

  constructor(private readonly deps: PolicyChangeWatcherDeps) {
    this.store = deps.store ?? vscodeSettingStore();
    this.window = deps.window ?? vscode.window;
    this.subscription = deps.onDidChange(() => this.schedule());
    // The first resolution may still be waiting for databricks.yml: the baseline is taken once
    // the burst of start-up changes has settled.
    this.schedule();
  }

  private schedule(): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, this.deps.settleMs ?? 750);
  }

  /** Compares the policy with the last one seen; returns the changes (for tests). */
  async check(): Promise<PolicyChange[]> {
    // A copy: what Revert Setting restores must not follow later edits of the same object.
    const now: Snapshot = { resolution: this.deps.resolution(), settings: JSON.parse(JSON.stringify(this.store.values())) as SettingValues };
    const before = this.baseline;
    this.baseline = now;
    if (!before) return [];
    const changes = policyDiff(before.resolution, now.resolution, this.deps.registry);
    if (!changes.length) return changes;
    const changedScopes = (Object.keys(SCOPE_NAMES) as SettingScope[]).filter((s) => JSON.stringify(before.settings[s]) !== JSON.stringify(now.settings[s]));
    const lines = summarizeChanges(changes, this.deps.registry).map((l) => `${l.direction}: ${l.text}`);
    const widened = widenings(changes);
    this.deps.sink.record({
      type: 'policyChanged',
      outcome: 'success',
      detail: lines.slice(0, DETAIL_LINES).join('\n') + (lines.length > DETAIL_LINES ? `\n… and ${lines.length - DETAIL_LINES} more` : ''),
      source: changedScopes.length ? `settings (${changedScopes.map((s) => SCOPE_NAMES[s]).join(', ')})` : 'databricks.yml',
      widened: widened.length,
      narrowed: changes.length - widened.length,
    });
    this.deps.log.info(`Access policy changed: ${widened.length} decision(s) widened, ${changes.length - widened.length} narrowed.`);
    if (widened.length) void this.notify(changes, before, now, changedScopes);
    return changes;
  }

  private async notify(changes: PolicyChange[], before: Snapshot, now: Snapshot, changedScopes: SettingScope[]): Promise<void> {
    const widenedLines = summarizeChanges(widenings(changes), this.deps.registry).map((l) => l.text);
    const more = widenedLines.length > 1 ? ` (and ${widenedLines.length - 1} more widening${widenedLines.length > 2 ? 's' : ''})` : '';
    // Only a change in one configuration target can be put back unambiguously.
    const scope = changedScopes.length === 1 ? changedScopes[0] : undefined;
    const actions = scope ? ['Review', 'Revert Setting'] : ['Review'];
    const pick = await this.window.showWarningMessage(`Access widened: ${widenedLines[0]}${more}.`, ...actions);
    if (pick === 'Review') await this.review(changes, now);
    else if (pick === 'Revert Setting' && scope) await this.revert(scope, before.settings[scope], widenedLines[0]);
  }

  private async review(changes: PolicyChange[], now: Snapshot): Promise<void> {
    const diff = policyDiffToMarkdown(changes, { before: 'the previous policy', after: 'the policy now in effect' });
    const matrix = matrixToMarkdown(accessMatrix(now.resolution, undefined, this.deps.registry), { generatedAt: new Date().toISOString() });
    await this.deps.documents.show('Access Policy Change.md', `${diff}\n---\n\n${matrix.replace(/^# Access matrix/, '# Access matrix now')}`, { preview: true });
  }

  private async revert(scope: SettingScope, previous: unknown, what: string): Promise<void> {
    const where = `${SCOPE_NAMES[scope]} settings`;
    const ok = await this.window.showWarningMessage(
      `Restore mlspanner.environments in ${where} to its value before this change?`,
      { modal: true, detail: `${what}. Restoring undoes every edit to mlspanner.environments in ${where} since then.` },
      'Restore',
    );
    if (ok !== 'Restore') return;
    await this.store.update(scope, previous);
    this.deps.log.info(`Restored mlspanner.environments in ${where} to its previous value.`);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
  }
}
