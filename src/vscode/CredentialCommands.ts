import * as vscode from 'vscode';
import type { IdentitySession } from '../core/auth/IdentitySession';
import type { SessionManager } from '../core/auth/SessionManager';
import type { AccessEventSink } from '../core/audit/AccessLog';
import type { CredentialBroker } from '../core/credentials/CredentialBroker';
import type { Credential } from '../core/credentials/Credential';
import { decideAccess } from '../core/policy/decideAccess';
import { explainAccess } from '../core/policy/explainAccess';
import { CREDENTIAL_TARGETS, type CredentialTarget } from '../core/policy/Environment';
import { UserFacingError, errorMessage } from '../core/errors';
import type { CommandRunner } from './CommandRunner';
import type { EnvironmentsService } from './EnvironmentsService';
import type { ReadOnlyDocuments } from './ReadOnlyDocuments';
import type { TreeNode } from './EnvironmentsTreeProvider';
import { TARGET_LABEL } from './EnvironmentNodes';

/** Arguments a tree node passes to a context-menu command. */
function nodeArgs(node: unknown): { environment?: string; target?: CredentialTarget } {
  const args = (node as TreeNode | undefined)?.args;
  return { environment: typeof args?.environment === 'string' ? args.environment : undefined, target: args?.target as CredentialTarget | undefined };
}

/** Refresh, revoke, explain and terminal commands over the broker and the environments. */
export class CredentialCommands {
  constructor(
    private readonly sessions: SessionManager,
    private readonly broker: CredentialBroker,
    private readonly environments: EnvironmentsService,
    private readonly sink: AccessEventSink,
    private readonly documents: ReadOnlyDocuments,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
      commands.register('mlspanner.refreshCredentials', (node?: unknown) => this.refresh(node)),
      commands.register('mlspanner.revokeCredential', (node?: unknown) => this.revoke(node)),
      commands.register('mlspanner.explainAccess', (node?: unknown) => this.explain(node)),
      commands.register('mlspanner.openTerminal', (node?: unknown) => this.openTerminal(node)),
    ];
  }

  private session(): IdentitySession {
    const s = this.sessions.current();
    if (!s) throw new UserFacingError('auth', 'You are not signed in to ML Spanner Access.', 'Sign in from the ML Spanner sidebar.');
    return s;
  }

  /** Asks for an environment; `grantedOnly` hides the ones the user may not use. */
  async pickEnvironment(title: string, grantedOnly: boolean, preferred?: string): Promise<string | undefined> {
    const session = this.session();
    const envs = Object.values(this.environments.resolution().environments);
    if (!envs.length) throw new UserFacingError('config', 'No environments are configured.', 'Add them to the setting mlspanner.environments or a databricks.yml bundle.');
    const items = envs
      .map((env) => ({ env, decision: decideAccess(env, session.groups) }))
      .filter((x) => !grantedOnly || x.decision.granted)
      .map(({ env, decision }) => ({
        label: `${decision.granted ? '$(server-environment)' : '$(lock)'} ${env.name}`,
        name: env.name,
        description: decision.granted ? (decision.confirm ? 'asks for confirmation' : '') : 'denied',
        detail: decision.reason,
        picked: env.name === preferred,
      }));
    if (!items.length) throw new UserFacingError('denied', `None of your groups (${session.groups.join(', ') || 'none'}) grants access to any environment.`, 'Ask for access, or run "ML Spanner: Explain Access…".');
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Environment' });
    return pick?.name;
  }

  private async refresh(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    if (environment) {
      const env = this.environments.resolution().environments[environment];
      const targets = target ? [target] : CREDENTIAL_TARGETS.filter((t) => env && decideAccess(env, this.session().groups).targets[t].granted);
      await this.issueAll(targets.map((t) => [environment, t] as const), true);
      return;
    }
    // Everything: the sign-in session first (the subject token of every exchange), then
    // every credential already in use.
    await this.sessions.refresh();
    const inUse = this.broker.peek().map((c) => [c.environment, c.target] as const);
    await this.issueAll(inUse, true);
    void vscode.window.setStatusBarMessage(`$(check) ML Spanner: refreshed the session${inUse.length ? ` and ${inUse.length} credential${inUse.length > 1 ? 's' : ''}` : ''}.`, 4000);
  }

  private async issueAll(pairs: ReadonlyArray<readonly [string, CredentialTarget]>, forceRefresh: boolean): Promise<Credential[]> {
    const results = await Promise.allSettled(pairs.map(([e, t]) => this.broker.get(e, t, { forceRefresh })));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${TARGET_LABEL[pairs[i][1]]} for ${pairs[i][0]}: ${errorMessage(r.reason)}`] : []));
    if (failures.length === 1 && results.length === 1) throw (results[0] as PromiseRejectedResult).reason;
    if (failures.length) void vscode.window.showErrorMessage(`${failures.length} of ${results.length} credentials could not be refreshed. ${failures.join(' · ')}`);
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  private async revoke(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    const env = environment ?? (await this.pickEnvironment('Forget the credentials of an environment', false));
    if (!env) return;
    const n = this.broker.revoke(env, target);
    void vscode.window.setStatusBarMessage(`ML Spanner: forgot ${n} credential${n === 1 ? '' : 's'} of ${env}.`, 4000);
  }

  private async explain(node?: unknown): Promise<void> {
    const environment = nodeArgs(node).environment ?? (await this.pickEnvironment('Explain access to an environment', false));
    if (!environment) return;
    const env = this.environments.resolution().environments[environment];
    if (!env) throw new UserFacingError('config', `The environment "${environment}" is not configured.`, 'Check mlspanner.environments.');
    await this.documents.show(`Access to ${environment}.md`, explainAccess(env, this.sessions.current()), { preview: true });
  }

  /**
   * A terminal whose environment carries the environment's short-lived credentials, in the
   * variables each CLI reads (Databricks CLI, gcloud, AWS CLI). Transient: VS Code does not
   * persist or revive it, so the tokens never outlive the process.
   */
  private async openTerminal(node?: unknown): Promise<void> {
    const environment = nodeArgs(node).environment ?? (await this.pickEnvironment('Open a terminal with the credentials of', true));
    if (!environment) return;
    const env = this.environments.resolution().environments[environment];
    const decision = decideAccess(env, this.session().groups);
    if (!decision.granted) throw new UserFacingError('denied', `Access to ${environment} is denied: ${decision.reason}.`);
    const targets = CREDENTIAL_TARGETS.filter((t) => decision.targets[t].granted);
    if (!targets.length) throw new UserFacingError('config', `${environment} has no credentials configured.`, 'Add databricks, spanner or aws to its definition.');
    const creds = await this.issueAll(targets.map((t) => [environment, t] as const), false);
    const vars: Record<string, string> = { MLSPANNER_ENVIRONMENT: environment };
    for (const c of creds) {
      if (c.target === 'aws') {
        vars.AWS_ACCESS_KEY_ID = c.accessKeyId;
        vars.AWS_SECRET_ACCESS_KEY = c.secretAccessKey;
        vars.AWS_SESSION_TOKEN = c.sessionToken;
        if (env.aws?.region) vars.AWS_REGION = vars.AWS_DEFAULT_REGION = env.aws.region;
      } else if (c.target === 'databricks') {
        vars.DATABRICKS_HOST = env.databricks!.host;
        vars.DATABRICKS_TOKEN = c.accessToken;
        vars.DATABRICKS_AUTH_TYPE = 'pat'; // the CLI's name for "use DATABRICKS_TOKEN as a bearer token"
      } else {
        vars.CLOUDSDK_AUTH_ACCESS_TOKEN = c.accessToken; // gcloud
        vars.GOOGLE_OAUTH_ACCESS_TOKEN = c.accessToken; // Terraform, some client libraries
        if (env.spanner?.project) vars.CLOUDSDK_CORE_PROJECT = vars.GOOGLE_CLOUD_PROJECT = env.spanner.project;
      }
    }
    const expires = Math.min(...creds.map((c) => c.expiresAt));
    const terminal = vscode.window.createTerminal({
      name: `ML Spanner: ${environment}`,
      env: vars,
      isTransient: true,
      iconPath: new vscode.ThemeIcon('key'),
      message: `Credentials for ${environment} (${creds.map((c) => TARGET_LABEL[c.target]).join(', ')}) expire at ${new Date(expires).toLocaleTimeString()}. Open a new terminal after that.`,
    });
    terminal.show();
    this.sink.record({
      type: 'terminalOpened',
      outcome: 'success',
      environment,
      target: creds.map((c) => c.target).join(','),
      tokenFingerprint: creds.map((c) => c.fingerprint).join(','),
    });
  }
}
