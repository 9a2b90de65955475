import type * as vscode from 'vscode';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import type { EnvironmentResolution } from '../../core/policy/Environment';
import type { TargetRegistry } from '../../core/targets/TargetRegistry';
import type { CommandRunner } from '../common/CommandRunner';
import { AccessMatrixCommands } from './AccessMatrixCommands';
import { AccessTestsCommand } from './AccessTestsCommand';
import { PolicyChangeWatcher } from './PolicyChangeWatcher';

export interface PolicyReviewDeps {
  /** The effective environments (settings + databricks.yml), as the access gate sees them. */
  environments: { resolution(): EnvironmentResolution; onDidChange: vscode.Event<void> };
  registry: TargetRegistry;
  /** The access log: `policyChanged` entries. */
  sink: AccessEventSink;
  /** Read-only documents for the matrix and the diff (ReadOnlyDocuments). */
  documents: { show(name: string, text: string, options?: { preview?: boolean }): Promise<void> };
  log: vscode.LogOutputChannel;
  commands: CommandRunner;
}

/**
 * Access policy review in the editor: Show Access Matrix…, Export Access Matrix…, Test Access
 * Policy (diagnostics on the test file's lines), and the change watcher that records every
 * policy change in the access log and tells the user when access widened.
 */
export function registerPolicyReview(deps: PolicyReviewDeps): vscode.Disposable {
  const resolution = () => deps.environments.resolution();
  const tests = new AccessTestsCommand(resolution, deps.environments.onDidChange, deps.registry, deps.log);
  const watcher = new PolicyChangeWatcher({
    resolution,
    onDidChange: (l) => deps.environments.onDidChange(l),
    registry: deps.registry,
    sink: deps.sink,
    documents: deps.documents,
    log: deps.log,
  });
  const disposables: { dispose(): unknown }[] = [tests, watcher, ...new AccessMatrixCommands(resolution, deps.registry, deps.documents).register(deps.commands), ...tests.register(deps.commands)];
  return { dispose: () => disposables.forEach((d) => d.dispose()) };
}
