import * as path from 'node:path';
import * as vscode from 'vscode';
import { AccessLog } from '../core/audit/AccessLog';
import { isLoopbackHost } from '../core/auth/OidcClient';
import { SessionManager, actorOf, type IdpSettings } from '../core/auth/SessionManager';
import { CancelledError, UserFacingError, errorMessage } from '../core/errors';
import { redact } from '../core/redact';
import { AccessLogCommands } from './AccessLogCommands';
import { formatDiagnostics, runDiagnostics } from '../core/doctor/Doctor';
import { CommandRunner } from './CommandRunner';
import { CredentialBroker } from '../core/credentials/CredentialBroker';
import { CredentialCommands } from './CredentialCommands';
import { EnvironmentNodes, TARGET_LABEL } from './EnvironmentNodes';
import { EnvironmentsService } from './EnvironmentsService';
import { EnvironmentsTreeProvider } from './EnvironmentsTreeProvider';
import { JobCommands } from './JobCommands';
import { GlobalStateRunStore, RunsService } from './RunsService';
import { ReadOnlyDocuments } from './ReadOnlyDocuments';
import { RunsTreeProvider } from './RunsTreeProvider';
import { QueryCommands } from './QueryCommands';
import { ExpiryStatusBar } from './ExpiryStatusBar';
import { MlSpannerAuthProvider } from './MlSpannerAuthProvider';
import { Settings } from './Settings';
import { InteractiveSignIn } from './SignInUi';

/** The composition root: builds the services, wires them, registers every disposable. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('ML Spanner', { log: true });
  const settings = new Settings();
  const commands = new CommandRunner(log);

  const accessLog = new AccessLog(
    path.join(context.globalStorageUri.fsPath, 'access-log.jsonl'),
    () => {
      const s = sessionManager.current();
      return s ? { actor: actorOf(s) } : {};
    },
    Date.now,
    (e) => log.error(`Access log write failed: ${redact(errorMessage(e))}`),
  );

  const sessionManager: SessionManager = new SessionManager({
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
    onBackgroundError: (e) => log.warn(redact(errorMessage(e))),
  });

  const environments = new EnvironmentsService(settings);
  const broker = new CredentialBroker({ identity: sessionManager, environments: () => environments.resolution(), sink: accessLog });
  const environmentNodes = new EnvironmentNodes(environments, broker, (e) => log.warn(redact(errorMessage(e))));
  const tree = new EnvironmentsTreeProvider(() => sessionManager.current(), environmentNodes);
  const treeView = vscode.window.createTreeView('mlspanner.environments', { treeDataProvider: tree, showCollapseAll: true });
  const statusBar = new ExpiryStatusBar(
    () => {
      const s = sessionManager.current();
      if (!s) return undefined;
      const nearest = broker.nearestExpiry();
      return nearest
        ? { label: nearest.environment, expiresAt: nearest.expiresAt, what: TARGET_LABEL[nearest.target] }
        : { label: 'session', expiresAt: SessionManager.expiresAt(s), what: 'Sign-in session' };
    },
    () => settings.expiryWarningSeconds(),
  );

  const interactive = new InteractiveSignIn(sessionManager, log);
  const signIn = () => {
    if (!settings.isConfigured())
      throw new UserFacingError('config', 'ML Spanner Access is not configured: set mlspanner.idp.issuer and mlspanner.idp.clientId.', 'Open the settings and enter your identity provider.');
    return interactive.run();
  };
  const authProvider = new MlSpannerAuthProvider(sessionManager, signIn);

  let wasSignedIn = false;
  const onState = () => {
    const st = sessionManager.state;
    if (wasSignedIn && st.kind === 'signedOut') {
      // Sign-out (or a refused refresh): every exchanged credential is forgotten with it.
      broker.clear(st.reason ? 'session ended' : 'signed out');
      environmentNodes.reset();
    }
    wasSignedIn = st.kind === 'signedIn';
    if (wasSignedIn) resumeRuns();
    void vscode.commands.executeCommand('setContext', 'mlspanner.signedIn', st.kind === 'signedIn');
    void vscode.commands.executeCommand('setContext', 'mlspanner.signingIn', st.kind === 'signingIn');
    const device = interactive.current.device;
    treeView.message =
      st.kind === 'signingIn' && device
        ? `Enter the code ${device.userCode} at ${device.verificationUri}`
        : st.kind === 'signedOut' && st.reason
          ? st.reason
          : st.kind === 'signedIn' && st.refreshError
            ? `Refresh failed: ${st.refreshError}`
            : undefined;
    tree.refresh();
    statusBar.update();
  };
  const runs = new RunsService(
    environments,
    broker,
    new GlobalStateRunStore(context.globalState),
    accessLog,
    () => sessionManager.current()?.groups ?? [],
    () => {
      const s = sessionManager.current();
      return s && `${s.issuer}|${s.subject}`;
    },
    (signal) => waitForSignIn(sessionManager, signal),
    (e) => log.error(`Could not save run records: ${errorMessage(e)}`),
  );
  const runsTree = new RunsTreeProvider(runs);

  let idpBefore: IdpSettings = settings.idp();
  const accessLogCommands = new AccessLogCommands(accessLog, log);
  const documents = new ReadOnlyDocuments();
  const credentialCommands = new CredentialCommands(sessionManager, broker, environments, accessLog, documents);
  const queryCommands = new QueryCommands(environments, broker, credentialCommands, () => sessionManager.current()?.groups ?? [], documents, accessLog);
  const jobCommands = new JobCommands(runs, credentialCommands, log, () => sessionManager.current()?.groups ?? [], documents);
  // Runs that were in flight before a reload are watched again once the user is signed in.
  // Once per user and window: runs of whoever signs in that were in flight are watched again.
  const resumedFor = new Set<string>();
  const resumeRuns = () => {
    const s = sessionManager.current();
    runs.userChanged();
    if (!s || resumedFor.has(`${s.issuer}|${s.subject}`)) return;
    resumedFor.add(`${s.issuer}|${s.subject}`);
    jobCommands.resumeAll();
  };
  onState();
  // The tree shows time left in minutes (seconds near the end): a few seconds' resolution is enough.
  const treeTicker = setInterval(() => {
    if (sessionManager.current() && broker.peek().length) tree.refresh();
  }, 5000);

  context.subscriptions.push(
    log,
    treeView,
    tree,
    statusBar,
    authProvider,
    { dispose: () => sessionManager.dispose() },
    { dispose: () => clearInterval(treeTicker) },
    environments,
    documents,
    broker,
    broker.startAutoRefresh(),
    broker.onDidChange(() => {
      tree.refresh();
      statusBar.update();
    }),
    environments.onDidChange(() => tree.refresh()),
    sessionManager.onDidChange(onState),
    interactive.onDidChange(onState),
    commands.register('mlspanner.copySignInUrl', () => interactive.copyUrl()),
    commands.register('mlspanner.openSignInPageAgain', () => interactive.openAgain()),
    vscode.authentication.registerAuthenticationProvider('mlspanner', 'ML Spanner Access', authProvider, { supportsMultipleAccounts: false }),
    commands.register('mlspanner.signIn', async () => {
      const s = await signIn();
      log.info(`Signed in as ${s.name} (groups: ${s.groups.join(', ') || 'none'}).`);
    }),
    commands.register('mlspanner.cancelSignIn', () => sessionManager.cancelSignIn()),
    commands.register('mlspanner.signOut', async () => {
      const { revokeError } = await sessionManager.signOut();
      if (revokeError) void vscode.window.showWarningMessage(`Signed out. The identity provider could not revoke the session: ${revokeError}`);
    }),
    ...credentialCommands.register(commands),
    ...jobCommands.register(commands),
    ...queryCommands.register(commands),
    queryCommands,
    runsTree,
    { dispose: () => runs.dispose() },
    vscode.window.createTreeView('mlspanner.runs', { treeDataProvider: runsTree }),
    commands.register('mlspanner.showStatusActions', async () => {
      const pick = await vscode.window.showQuickPick(
        [
          { label: '$(refresh) Refresh Credentials', command: 'mlspanner.refreshCredentials' },
          { label: '$(output) Show Access Log', command: 'mlspanner.showAccessLog' },
          { label: '$(sign-out) Sign Out', command: 'mlspanner.signOut' },
        ],
        { title: 'ML Spanner' },
      );
      if (pick) await vscode.commands.executeCommand(pick.command);
    }),
    ...accessLogCommands.register(commands),
    commands.register('mlspanner.doctor', async () => {
      const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ML Spanner: checking sign-in and environments…' }, () =>
        runDiagnostics({
          idp: settings.idp(),
          session: sessionManager.current(),
          environments: environments.resolution(),
          credential: (env, target) => broker.get(env, target),
          verifyAccessLog: () => accessLog.verify(),
          workspaceTrusted: vscode.workspace.isTrusted,
        }),
      );
      for (const r of results) if (r.status === 'fail' || r.status === 'warn') log.warn(`doctor: ${r.area}: ${redact(r.message)}`);
      await documents.show('ML Spanner doctor.md', formatDiagnostics(results, new Date()), { preview: true });
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('mlspanner.idp')) {
        const before = idpBefore;
        idpBefore = settings.idp();
        void sessionManager.settingsChanged(before);
      }
      if (e.affectsConfiguration('mlspanner')) onState();
    }),
  );

  // Silent restore from the stored refresh token; never opens a browser.
  if (settings.isConfigured())
    sessionManager.restore().catch((e) => log.warn(`Could not restore the session: ${redact(errorMessage(e))}`));
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

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
