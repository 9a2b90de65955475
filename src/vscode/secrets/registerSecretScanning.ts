import * as vscode from 'vscode';
import { MOVE_TO_SECRET_SCOPE_COMMAND, SecretCodeActions, type MoveSecretArgs } from './SecretCodeActions';
import { SecretDiagnostics } from './SecretDiagnostics';
import { moveSecretToScope, type DatabricksEnvironmentChoice, type GetSecretsClient } from './MoveSecretToScope';
import { scanWorkspaceForSecrets } from './WorkspaceSecretScan';

export const SCAN_WORKSPACE_FOR_SECRETS_COMMAND = 'mlspanner.scanWorkspaceForSecrets';

/** The README section the diagnostics link to. */
export const SECRETS_DOCS_ANCHOR = 'hard-coded-secrets';

export interface SecretScanningDeps {
  /** The extension's folder (context.extensionUri): its README section explains the findings. */
  extensionUri: vscode.Uri;
  /** Registers a command behind the one error path (CommandRunner.register). */
  commands: { register(id: string, fn: (...args: never[]) => unknown): vscode.Disposable };
  /** Environments with a Databricks workspace the signed-in user may use (the move's first pick). */
  databricksEnvironments: () => DatabricksEnvironmentChoice[] | Promise<DatabricksEnvironmentChoice[]>;
  /** A Secrets API client with the environment's ephemeral token, granted by the access gate for `purpose`. */
  getSecretsClient: GetSecretsClient;
  log?: vscode.LogOutputChannel;
}

/** The languages (and `.env` files) the code actions apply to. */
const SELECTOR: vscode.DocumentSelector = [
  ...['python', 'scala', 'r', 'sql', 'yaml', 'json', 'jsonc', 'dotenv', 'properties'].map((language) => ({ language })),
  { pattern: '**/.env*' },
];

/**
 * Hard-coded secrets: live diagnostics in documents and notebook cells, quick fixes, the
 * workspace scan command and the move-to-secret-scope command. One disposable for the
 * composition root.
 */
export function registerSecretScanning(deps: SecretScanningDeps): vscode.Disposable {
  const docs = vscode.Uri.joinPath(deps.extensionUri, 'README.md').with({ fragment: SECRETS_DOCS_ANCHOR });
  const diagnostics = new SecretDiagnostics(docs);
  const disposables: vscode.Disposable[] = [
    diagnostics,
    vscode.languages.registerCodeActionsProvider(SELECTOR, new SecretCodeActions(), SecretCodeActions.metadata),
    deps.commands.register(SCAN_WORKSPACE_FOR_SECRETS_COMMAND, () => scanWorkspaceForSecrets(diagnostics)),
    deps.commands.register(MOVE_TO_SECRET_SCOPE_COMMAND, (args?: MoveSecretArgs) =>
      moveSecretToScope({ databricksEnvironments: deps.databricksEnvironments, getSecretsClient: deps.getSecretsClient, docs, log: deps.log }, args),
    ),
  ];
  return vscode.Disposable.from(...disposables);
}
