import * as vscode from 'vscode';
import { storeSecret, type SecretsApi } from '../../core/databricks/SecretsClient';
import { CancelledError, UserFacingError } from '../../core/errors';
import { SECRET_KINDS } from '../../core/secrets/SecretKind';
import { SECRET_NAME, secretScopeFix, secretValue, suggestedSecretKey } from '../../core/secrets/secretFixes';
import type { SecretFinding } from '../../core/secrets/scanSecrets';
import type { MoveSecretArgs } from './SecretCodeActions';
import { toWorkspaceEdit } from './SecretCodeActions';
import { scanDocument } from './SecretDiagnostics';

/** An environment with a Databricks workspace the user may use, for the pick. */
export interface DatabricksEnvironmentChoice {
  name: string;
  host: string;
  /** E.g. "asks for confirmation". */
  detail?: string;
}

/**
 * A Secrets API client for an environment's workspace, with an ephemeral token granted for
 * `purpose` by the access gate (which may ask for a confirmation and a reason first). Rejects
 * with a UserFacingError when access is denied and a CancelledError when the user cancels.
 */
export type GetSecretsClient = (environment: string, purpose: 'secretScope') => Promise<SecretsApi>;

export interface MoveSecretDeps {
  databricksEnvironments: () => DatabricksEnvironmentChoice[] | Promise<DatabricksEnvironmentChoice[]>;
  getSecretsClient: GetSecretsClient;
  docs: vscode.Uri;
  log?: vscode.LogOutputChannel;
}

const NEW_SCOPE = '$(add) Create a new scope…';

/**
 * "Move to a Databricks secret scope…": environment, scope and key are asked for; the value is
 * put with the environment's ephemeral token and checked to be listed; only then is the literal
 * replaced by a reference. The value itself is never logged or shown.
 */
export async function moveSecretToScope(deps: MoveSecretDeps, args: MoveSecretArgs | undefined): Promise<void> {
  if (!args || typeof args.uri !== 'string')
    throw new UserFacingError('config', 'Moving a secret starts from the secret itself.', 'Put the cursor on a hard-coded secret, open Quick Fix (Ctrl+.), and choose "Move to a Databricks secret scope…".');
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === args.uri);
  if (!document) throw new UserFacingError('config', 'The document with the secret is no longer open.', 'Open it again and use the quick fix from there.');
  const scanned = scanDocument(document);
  const finding = document.version === args.version ? scanned?.findings.find((f) => f.range.start === args.start) : undefined;
  if (!scanned || !finding) throw new UserFacingError('config', 'The document changed since the quick fix was offered.', 'Use the quick fix on the secret again.');
  const what = SECRET_KINDS[finding.kind].label;
  const value = secretValue(document.getText(), scanned.language, finding);

  const envs = await deps.databricksEnvironments();
  if (!envs.length) throw new UserFacingError('config', 'No environment with a Databricks workspace is available to you.', 'Add databricks.host to an environment in mlspanner.environments, or ask for access.');
  const env = await vscode.window.showQuickPick(
    envs.map((e) => ({ label: e.name, description: e.host, detail: e.detail, name: e.name })),
    { title: `Move the ${what} to a secret scope (1/3): workspace`, placeHolder: 'Environment whose Databricks workspace keeps the secret', ignoreFocusOut: true },
  );
  if (!env) throw new CancelledError();
  const client = await deps.getSecretsClient(env.name, 'secretScope');

  const scopes = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Listing secret scopes in ${env.name}…` }, () => client.listScopes());
  const scopePick = await vscode.window.showQuickPick([{ label: NEW_SCOPE, name: '' }, ...scopes.map((s) => ({ label: s.name, description: s.backend_type, name: s.name }))], {
    title: `Move the ${what} to a secret scope (2/3): scope in ${env.name}`,
    placeHolder: 'A scope you may write to, or a new one (you will manage it)',
    ignoreFocusOut: true,
  });
  if (!scopePick) throw new CancelledError();
  let scope = scopePick.name;
  const createScope = !scope;
  if (createScope) {
    const typed = await vscode.window.showInputBox({
      title: `Move the ${what} to a secret scope (2/3): new scope in ${env.name}`,
      prompt: 'Name of the new scope. You get MANAGE on it; grant others READ with the workspace UI or secrets/acls/put.',
      value: suggestedScope(document),
      ignoreFocusOut: true,
      validateInput: (v) => nameProblem(v, 'scope') ?? (scopes.some((s) => s.name.toLowerCase() === v.trim().toLowerCase()) ? `Scope ${v.trim()} already exists: pick it from the list instead.` : undefined),
    });
    if (typed === undefined) throw new CancelledError();
    scope = typed.trim();
  }

  const key = await vscode.window.showInputBox({
    title: `Move the ${what} to a secret scope (3/3): key in ${scope}`,
    prompt: 'Key of the secret in the scope',
    value: suggestedSecretKey(finding),
    ignoreFocusOut: true,
    validateInput: (v) => nameProblem(v, 'key'),
  });
  if (key === undefined) throw new CancelledError();
  if (!createScope) {
    const existing = await client.listSecrets(scope);
    if (existing.some((s) => s.key === key.trim())) {
      const ok = await vscode.window.showWarningMessage(`Scope ${scope} already has a secret named ${key.trim()}. Replace its value?`, { modal: true }, 'Replace');
      if (ok !== 'Replace') throw new CancelledError();
    }
  }

  const stored = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Storing the secret in ${scope}/${key.trim()} (${env.name})…` }, () =>
    storeSecret(client, { scope, key: key.trim(), value, createScope }),
  );
  deps.log?.info(`Stored a ${what} from ${vscode.workspace.asRelativePath(document.uri)} in secret scope ${stored.scope}, key ${stored.key}, of ${env.name}${stored.createdScope ? ' (new scope)' : ''}.`);

  const applied = await replaceLiteral(document, scanned.language, finding, value, stored.scope, stored.key, args.version);
  const rotate = finding.kind === 'highEntropySecret' ? 'Rotate it' : 'Revoke or rotate it';
  const message = applied
    ? `Moved to secret scope ${stored.scope} (key ${stored.key}) in ${env.name}. ${rotate}: the old value may still be in version control or a notebook's history.`
    : `Stored in secret scope ${stored.scope} (key ${stored.key}) in ${env.name}, but the document changed meanwhile: replace the literal with a secret reference yourself. ${rotate}.`;
  const pick = await vscode.window.showInformationMessage(message, 'Why and How');
  if (pick) await vscode.commands.executeCommand('vscode.open', deps.docs);
}

/** Applies the reference edit to the literal holding `value`: where it was, or found again after edits. */
async function replaceLiteral(document: vscode.TextDocument, language: Parameters<typeof secretScopeFix>[1], finding: SecretFinding, value: string, scope: string, key: string, version: number): Promise<boolean> {
  let target: SecretFinding | undefined = finding;
  if (document.version !== version) {
    const now = scanDocument(document);
    target = now?.findings.find((f) => f.kind === finding.kind && secretValue(document.getText(), language, f) === value);
  }
  if (!target) return false;
  const fix = secretScopeFix(document.getText(), language, target, scope, key);
  if (!fix) return false;
  return vscode.workspace.applyEdit(toWorkspaceEdit(document, fix.edits));
}

function nameProblem(v: string, what: 'scope' | 'key'): string | undefined {
  const t = v.trim();
  if (!t) return `Enter a ${what} name.`;
  return SECRET_NAME.test(t) ? undefined : 'Use letters, digits, -, _ and . (at most 128 characters).';
}

/** A scope name from the workspace folder: one scope per project is the usual layout. */
function suggestedScope(document: vscode.TextDocument): string {
  const folder = vscode.workspace.getWorkspaceFolder(document.uri)?.name ?? 'ml';
  const name = folder.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100);
  return name || 'ml';
}
