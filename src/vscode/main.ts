import * as path from 'node:path';
import * as vscode from 'vscode';
import { AccessGate } from '../core/access/AccessGate';
import { AccessLog } from '../core/audit/AccessLog';
import { isLoopbackHost } from '../core/auth/OidcClient';
import { SessionLifecycle, environmentsMessage } from '../core/auth/SessionLifecycle';
import { SessionManager, actorOf } from '../core/auth/SessionManager';
import type * as SecretsClientModule from '../core/databricks/SecretsClient';
import { CancelledError, UserFacingError, errorMessage } from '../core/errors';
import { redact } from '../core/redact';
import { AgentTools } from './agents/AgentTools';
import { AuditForwarding } from './audit/AuditForwarding';
import type * as AccessLogCommandsModule from './audit/AccessLogCommands';
import { AccessPrompt } from './common/AccessPrompt';
import { CommandRunner } from './common/CommandRunner';
import { EnvironmentPicker } from './common/EnvironmentPicker';
import { hostTrustFor, manageTrustedHosts } from './common/HostTrustStore';
import { LazyCommands } from './common/LazyCommands';
import { ReadOnlyDocuments } from './common/ReadOnlyDocuments';
import { StandIns, contributionsOf } from './common/StandIns';
import { Settings } from './common/Settings';
import type * as DoctorCommandModule from './doctor/DoctorCommand';
import { CredentialCommands } from './environments/CredentialCommands';
import { EnvironmentsService } from './environments/EnvironmentsService';
import { EnvironmentsTreeProvider, sessionRefreshProblem } from './environments/EnvironmentsTreeProvider';
import { ExpiryStatusBar } from './environments/ExpiryStatusBar';
import type * as QueryCommandsModule from './query/QueryCommands';
import type * as JobCommandsModule from './runs/JobCommands';
import { GlobalStateRunStore, RunsService } from './runs/RunsService';
import { RunsTreeProvider } from './runs/RunsTreeProvider';
import type * as PolicyReviewModule from './policyReview/registerPolicyReview';
import type * as SecretScanningModule from './secrets/registerSecretScanning';
import { SignInCommands } from './signin/SignInCommands';
import { WorkspaceCredentials } from './workspace/WorkspaceCredentials';

/**
 * The composition root: builds the services and wires them; each owns its subscriptions. Runs on
 * first use of the extension (src/vscode/extension.ts): the commands, views, tools and the
 * authentication provider are registered by stand-ins that these services attach to.
 */
export function compose(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  const settings = new Settings();
  // Commands take the place of their stand-ins; the one error path stays CommandRunner's.
  const commands = new CommandRunner(log, vscode.window, StandIns.commands);
  const warn = (e: unknown) => log.warn(redact(errorMessage(e)));

  const accessLog = new AccessLog(
    path.join(context.globalStorageUri.fsPath, 'access-log.jsonl'),
    () => {
      const s = sessions.current();
      return s ? { actor: actorOf(s) } : {};
    },
    Date.now,
    (e) => {
      log.error(`Access log write failed: ${redact(errorMessage(e))}`);
      void vscode.window.showErrorMessage(`ML Spanner could not write to its access log: ${redact(errorMessage(e))}`, 'Show Log').then((p) => p && log.show(true));
    },
    // The head and the seal key live in SecretStorage: truncation and a recomputed chain show.
    { anchor: context.secrets, onWarning: (m) => log.warn(redact(m)) },
  );
  const sessions: SessionManager = new SessionManager({
    // This window's name in the refresh lease: unique among windows sharing the secret store,
    // and made without node:crypto (which activation would otherwise load for it alone).
    windowId: `${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`,
    settings: () => settings.idp(),
    secrets: context.secrets,
    sink: accessLog,
    signInTimeoutMs: settings.signInTimeoutMs(),
    flowContext: async () => {
      const ctx = {
        remoteName: vscode.env.remoteName,
        uiKind: vscode.env.uiKind === vscode.UIKind.Web ? ('web' as const) : ('desktop' as const),
        browserOnThisMachine: await browserOnThisMachine(),
      };
      log.info(`Sign-in window: ui ${ctx.uiKind}, remote ${ctx.remoteName ?? 'none'}, browser on this machine: ${ctx.browserOnThisMachine}.`);
      return ctx;
    },
    onBackgroundError: warn,
    log: (level, m) => log[level](redact(m)),
  });

  const environments = new EnvironmentsService(settings);
  const gate = new AccessGate({
    identity: sessions,
    environments: () => environments.resolution(),
    sink: accessLog,
    rememberConfirmationMs: () => settings.rememberConfirmationMs(),
    hostTrust: hostTrustFor(context, (m) => log.warn(m)),
  });
  const prompt = new AccessPrompt(gate);
  const picker = new EnvironmentPicker(gate, environments);
  const documents = new ReadOnlyDocuments();
  const workspace = new WorkspaceCredentials(context, gate, prompt, picker, accessLog, log, commands);
  const tree = new EnvironmentsTreeProvider(() => sessions.current(), gate, environments, warn, () => workspace.current, Date.now, () => sessionRefreshProblem(sessions.state), () => (sessions.state.kind === 'signingIn' ? signIn.pending.device : undefined));
  const statusBar = new ExpiryStatusBar(
    () => {
      const s = sessions.current();
      if (!s) return undefined;
      // The environment in use for this workspace is the one the status bar follows.
      const nearest = gate.credentials.nearestExpiry(workspace.current);
      if (nearest) {
        const failed = gate.credentials.peek().some((c) => c.environment === nearest.environment && c.target === nearest.target && c.lastError);
        return { label: nearest.environment, expiresAt: nearest.expiresAt, what: `${gate.targets.get(nearest.target)?.label ?? nearest.target}${failed ? ' (refresh failed)' : ''}` };
      }
      return { label: 'session', expiresAt: SessionManager.expiresAt(s), what: 'Sign-in session' };
    },
    () => settings.expiryWarningSeconds(),
  );
  const runs = new RunsService(
    gate,
    new GlobalStateRunStore(context.globalState),
    accessLog,
    () => lifecycle.currentUser,
    (signal) => waitForSignIn(sessions, signal),
    (e) => log.error(`Could not save run records: ${errorMessage(e)}`),
  );
  const auditForwarding = new AuditForwarding(context, accessLog, log, commands);
  const credentialCommands = new CredentialCommands(sessions, gate, prompt, picker, documents);
  // Features required on first use (dist/features.js): their commands are registered now.
  /* eslint-disable @typescript-eslint/no-require-imports */
  let jobs: JobCommandsModule.JobCommands | undefined;
  const jobCommands = new LazyCommands(commands, log, JOB_COMMANDS, (c) => {
    jobs = new (require('./runs/JobCommands') as typeof JobCommandsModule).JobCommands(runs, gate, prompt, picker, log, documents);
    return jobs.register(c);
  });
  const queryCommands = new LazyCommands(commands, log, ['mlspanner.runSpannerQuery'], (c) => {
    const query = new (require('./query/QueryCommands') as typeof QueryCommandsModule).QueryCommands(gate, prompt, picker, documents, accessLog);
    return [query, ...query.register(c)];
  });
  const accessLogCommands = new LazyCommands(commands, log, ['mlspanner.showAccessLog', 'mlspanner.verifyAccessLog', 'mlspanner.exportAccessLog'], (c) =>
    new (require('./audit/AccessLogCommands') as typeof AccessLogCommandsModule).AccessLogCommands(accessLog, log, documents).register(c),
  );
  const doctor = new LazyCommands(commands, log, ['mlspanner.doctor'], (c) =>
    new (require('./doctor/DoctorCommand') as typeof DoctorCommandModule).DoctorCommand(settings, sessions, environments, gate, accessLog, documents, log, auditForwarding).register(c),
  );
  // Loaded right after activation: the policy watcher records changes from start-up on.
  const policyReview = new LazyCommands(commands, log, ['mlspanner.showAccessMatrix', 'mlspanner.exportAccessMatrix', 'mlspanner.testAccessPolicy'], (c) =>
    (require('./policyReview/registerPolicyReview') as typeof PolicyReviewModule).registerPolicyReview({ environments, registry: gate.targets, sink: accessLog, documents, log, commands: c }),
  );
  // Loaded right after activation: diagnostics for the documents already open.
  const secrets = new LazyCommands(commands, log, ['mlspanner.scanWorkspaceForSecrets', 'mlspanner.moveSecretToScope'], (c) => secretScanning(context, c, log, environments, gate, prompt));
  /* eslint-enable @typescript-eslint/no-require-imports */
  const signIn = new SignInCommands(sessions, settings, log, commands);

  const lifecycle = new SessionLifecycle({
    signedOut: (reason) => {
      // Sign-out (or a refused refresh): every issued credential and confirmation is forgotten.
      void workspace.signedOut();
      gate.credentials.clear(reason ? 'session ended' : 'signed out');
      gate.forgetConfirmations();
      tree.reset();
    },
    signedIn: (_session, firstTime) => {
      runs.userChanged();
      // Runs of this user that were in flight before a reload are watched again, once.
      if (firstTime && runs.unfinished().length) {
        jobCommands.load();
        jobs?.resumeAll();
      }
    },
    userChanged: () => {
      void workspace.signedOut();
      gate.credentials.clear('account changed');
      gate.forgetConfirmations();
    },
  });
  const onState = () => {
    const st = sessions.state;
    lifecycle.update(st);
    void vscode.commands.executeCommand('setContext', 'mlspanner.signedIn', st.kind === 'signedIn');
    void vscode.commands.executeCommand('setContext', 'mlspanner.signingIn', st.kind === 'signingIn');
    void vscode.commands.executeCommand('setContext', 'mlspanner.signingInWithCode', st.kind === 'signingIn' && Boolean(signIn.pending.device));
    const canRunInStaging = gate.environment('staging') !== undefined && gate.evaluate({ environment: 'staging', purpose: 'job', targets: ['databricks'] }).kind !== 'denied';
    void vscode.commands.executeCommand('setContext', 'mlspanner.canRunInStaging', canRunInStaging);
    tree.view.message = environmentsMessage(st);
    const device = st.kind === 'signingIn' ? signIn.pending.device : undefined;
    tree.view.description = device ? `code ${device.userCode}` : undefined;
    tree.refresh();
    statusBar.update();
  };

  context.subscriptions.push(
    environments,
    gate,
    gate.startAutoRefresh(),
    tree,
    statusBar,
    documents,
    signIn,
    workspace,
    workspace.onDidChange(() => (tree.refresh(), statusBar.update())),
    // Opening the sidebar catches up with a sign-in or sign-out in another window, also where
    // the host sends no secret events across windows and no focus change (code-server tabs).
    tree.view.onDidChangeVisibility((e) => e.visible && void sessions.resync()),
    { dispose: () => sessions.dispose() },
    { dispose: () => runs.dispose() },
    gate.credentials.onDidChange(() => statusBar.update()),
    environments.onDidChange(onState),
    sessions.onDidChange(onState),
    signIn.onDidChange(onState),
    new RunsTreeProvider(runs),
    new AgentTools(gate, environments, sessions, accessLog, contributionsOf(context)?.tools ?? []),
    policyReview,
    secrets,
    ...credentialCommands.register(commands),
    jobCommands,
    queryCommands,
    accessLogCommands,
    doctor,
    auditForwarding,
    commands.register('mlspanner.manageTrustedHosts', async () => {
      await manageTrustedHosts(gate);
      tree.refresh();
    }),
    commands.register('mlspanner.showStatusActions', () => showStatusActions()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('mlspanner')) onState();
    }),
  );
  // The first state push (context keys, tree, status bar), the secret diagnostics of open
  // documents and the policy watcher's baseline.
  for (const [what, run] of [['state', onState], ['secret diagnostics', () => secrets.load()], ['policy watcher', () => policyReview.load()]] as const) {
    try {
      run();
    } catch (e) {
      log.error(`Start-up (${what}) failed: ${redact(errorMessage(e))}`);
    }
  }
}

/** The commands of JobCommands.register(). */
const JOB_COMMANDS = ['mlspanner.runJobInStaging', 'mlspanner.runJob', 'mlspanner.runNotebook', 'mlspanner.cancelRun', 'mlspanner.openRunPage', 'mlspanner.showRunOutput'];

/** Hard-coded secret diagnostics and fixes; moving a secret into a scope goes through the gate. */
function secretScanning(context: vscode.ExtensionContext, commands: CommandRunner, log: vscode.LogOutputChannel, environments: EnvironmentsService, gate: AccessGate, prompt: AccessPrompt): vscode.Disposable {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./secrets/registerSecretScanning') as typeof SecretScanningModule).registerSecretScanning({
    extensionUri: context.extensionUri,
    commands,
    log,
    databricksEnvironments: () =>
      Object.values(environments.resolution().environments).flatMap((env) => {
        const d = gate.evaluate({ environment: env.name, purpose: 'secretScope', targets: ['databricks'] });
        if (d.kind === 'denied' || !env.databricks?.host) return [];
        return [{ name: env.name, host: env.databricks.host, detail: d.kind === 'confirm' ? 'asks for a reason' : undefined }];
      }),
    getSecretsClient: async (environment, purpose) => {
      const grant = await prompt.grant({ environment, purpose, targets: ['databricks'], action: 'Move a hard-coded secret to a secret scope' });
      if (!grant) throw new CancelledError();
      const host = gate.environment(environment)?.databricks?.host;
      if (!host) throw new UserFacingError('config', `"${environment}" has no Databricks workspace.`);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { SecretsClient } = require('../core/databricks/SecretsClient') as typeof SecretsClientModule;
      return new SecretsClient(host, gate.tokenSource(grant, 'databricks'));
    },
  });
}

async function showStatusActions(): Promise<void> {
  const pick = await vscode.window.showQuickPick(
    [
      { label: '$(refresh) Refresh Credentials', command: 'mlspanner.refreshCredentials' },
      { label: '$(output) Show Access Log', command: 'mlspanner.showAccessLog' },
      { label: '$(sign-out) Sign Out', command: 'mlspanner.signOut' },
    ],
    { title: 'ML Spanner' },
  );
  if (pick) await vscode.commands.executeCommand(pick.command);
}

/** Resolves when the user is signed in again; rejects on abort. Shows one prompt meanwhile. */
function waitForSignIn(sessions: SessionManager, signal?: AbortSignal): Promise<void> {
  if (sessions.current()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const sub = sessions.onDidChange((st) => {
      if (st.kind !== 'signedIn') return;
      sub.dispose();
      resolve();
    });
    signal?.addEventListener('abort', () => {
      sub.dispose();
      reject(new CancelledError('Stopped waiting for sign-in.'));
    });
    void vscode.window
      .showWarningMessage('A Databricks run is waiting: your session ended. Sign in again to keep watching it (the run itself goes on).', 'Sign In')
      .then((pick) => {
        if (pick) void vscode.commands.executeCommand('mlspanner.signIn');
      });
  });
}

/** In a web window: does the browser reach this server on a loopback address? */
async function browserOnThisMachine(): Promise<boolean> {
  if (vscode.env.uiKind !== vscode.UIKind.Web) return false;
  try {
    const external = await vscode.env.asExternalUri(vscode.Uri.parse('http://127.0.0.1:1/'));
    return isLoopbackHost(external.authority.replace(/:\d+$/, ''));
  } catch {
    return false;
  }
}

