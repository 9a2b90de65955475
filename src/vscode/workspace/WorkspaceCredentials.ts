import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AccessGate, Grant } from '../../core/access/AccessGate';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import type * as EndpointsModule from '../../core/endpoints/CredentialEndpointServer';
import type { CredentialEndpointServer, EndpointConsumer, EndpointRegistration } from '../../core/endpoints/CredentialEndpointServer';
import { Remedies, UserFacingError, errorMessage } from '../../core/errors';
import type { AccessPrompt } from '../common/AccessPrompt';
import type { CommandRunner } from '../common/CommandRunner';
import { Disposables } from '../common/Disposables';
import type { EnvironmentPicker } from '../common/EnvironmentPicker';
import { nodeArgs } from '../environments/CredentialCommands';

interface Active {
  environment: string;
  grant: Grant;
  registration: EndpointRegistration;
  envFile?: string;
}

const ENDPOINT_TARGETS = new Set(['databricks', 'google', 'aws']);

/** The local credential endpoints load on first use (features.js), not at activation. */
function endpoints(): typeof EndpointsModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../core/endpoints/CredentialEndpointServer') as typeof EndpointsModule;
}

/**
 * Credentials for the user's own code: "Use Environment for This Workspace" gives new terminals
 * and tasks (environmentVariableCollection, not persisted), debug sessions (a debug
 * configuration provider for every type) and, if the user agrees, a git-ignored .env for
 * notebook kernels the variables of local credential endpoints, which renew themselves and
 * hold no token. Open Terminal with Credentials uses the same endpoints. All of them stop
 * working at Stop Using, sign-out and window close. The endpoint server is created the first
 * time an environment is used or a terminal opened.
 */
export class WorkspaceCredentials extends Disposables {
  private endpointServer?: CredentialEndpointServer;
  private readonly grants = new Map<string, Grant>();
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;
  private active?: Active;
  private readonly terminals = new Map<vscode.Terminal, EndpointRegistration>();
  private readonly debugSessions = new Map<string, EndpointRegistration>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly gate: AccessGate,
    private readonly prompt: AccessPrompt,
    private readonly picker: EnvironmentPicker,
    private readonly sink: AccessEventSink,
    private readonly log: vscode.LogOutputChannel,
    commands: CommandRunner,
  ) {
    super();
    context.environmentVariableCollection.persistent = false;
    this.register(commands.register('mlspanner.useEnvironment', (node?: unknown) => this.use(nodeArgs(node).environment)));
    this.register(commands.register('mlspanner.stopUsingEnvironment', () => this.stop('stopped using the environment')));
    this.register(commands.register('mlspanner.openTerminal', (node?: unknown) => this.openTerminal(nodeArgs(node).environment)));
    this.register(vscode.window.onDidCloseTerminal((t) => void this.terminals.get(t)?.revoke('terminal closed').finally(() => this.terminals.delete(t))));
    this.register(vscode.debug.registerDebugConfigurationProvider('*', { resolveDebugConfigurationWithSubstitutedVariables: (_f, config) => this.debugConfiguration(config) }));
    this.register(
      vscode.debug.onDidStartDebugSession((s) => {
        const reg = this.debugSessions.get(String(s.configuration.__mlspannerRegistration ?? ''));
        if (reg) this.debugSessions.set(s.id, reg);
      }),
    );
    this.register(vscode.debug.onDidTerminateDebugSession((s) => void this.debugSessions.get(s.id)?.revoke('debug session ended')));
  }

  /** The endpoint server, created on first use. */
  private get server(): CredentialEndpointServer {
    this.endpointServer ??= this.register(
      new (endpoints().CredentialEndpointServer)({
        credential: (environment, target, consumer) => {
          const grant = this.grants.get(this.key(environment, consumer));
          if (!grant) return Promise.reject(new UserFacingError('denied', `"${environment}" is not in use by ${consumer.name} any more.`));
          return this.gate.credential(grant, target);
        },
        environment: (name) => this.gate.environment(name),
        sink: this.sink,
        log: (m) => this.log.info(m),
      }),
    );
    return this.endpointServer;
  }

  /** The environment in use in this workspace, if any. */
  get current(): string | undefined {
    return this.active?.environment;
  }

  /** Sign-out, account change: every endpoint stops answering. */
  async signedOut(): Promise<void> {
    await this.stop('signed out');
    // No server yet: no endpoint was ever handed out.
    await this.endpointServer?.revokeAll('signed out');
    this.grants.clear();
    this.terminals.clear();
  }

  private key(environment: string, consumer: EndpointConsumer): string {
    return JSON.stringify([environment, consumer.kind, consumer.name]);
  }

  private async use(preferred?: string): Promise<void> {
    const environment = preferred ?? (await this.picker.pick('Use the credentials of an environment in this workspace', 'workspace', true));
    if (!environment) return;
    const grant = await this.prompt.grant({ environment, purpose: 'workspace', action: 'Use the credentials for terminals, tasks, debug sessions and notebooks' });
    if (!grant) return;
    await this.stop('switched environment');
    const consumer: EndpointConsumer = { kind: 'workspace', name: vscode.workspace.name ?? 'workspace' };
    this.grants.set(this.key(environment, consumer), grant);
    const registration = await this.server.register({ environment, consumer, warm: true });
    const coll = this.context.environmentVariableCollection;
    coll.clear();
    coll.description = `ML Spanner: credentials of ${environment} from local endpoints that renew themselves (no tokens).`;
    for (const [k, v] of Object.entries(this.variables(registration))) coll.replace(k, v);
    this.active = { environment, grant, registration };
    void vscode.commands.executeCommand('setContext', 'mlspanner.activeEnvironment', environment);
    this.changed.fire();
    const pick = await vscode.window.showInformationMessage(
      `New terminals, tasks and debug sessions in this workspace now use ${environment}. Notebook kernels read a .env file instead: write one with the endpoint variables (no tokens, git-ignored, removed when you stop)?`,
      'Write .env',
      'Not Now',
    );
    if (pick === 'Write .env') await this.writeEnvFile().catch((e) => void vscode.window.showWarningMessage(`Could not write the .env file: ${errorMessage(e)}`));
  }

  private async stop(reason: string): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    this.context.environmentVariableCollection.clear();
    this.grants.delete(this.key(a.environment, a.registration.consumer));
    await a.registration.revoke(reason).catch((e) => this.log.warn(errorMessage(e)));
    if (a.envFile) await vscode.workspace.fs.delete(vscode.Uri.file(a.envFile)).then(undefined, (e: unknown) => this.log.warn(`Could not remove ${a.envFile}: ${errorMessage(e)}`));
    void vscode.commands.executeCommand('setContext', 'mlspanner.activeEnvironment', undefined);
    this.changed.fire();
  }

  /** The variables a process gets: the endpoints, blanks for static tokens that would win, NO_PROXY. */
  private variables(reg: EndpointRegistration): Record<string, string> {
    const vars: Record<string, string> = { MLSPANNER_ENVIRONMENT: reg.environment, ...reg.env };
    for (const k of reg.blank) vars[k] = '';
    const np = endpoints().mergeNoProxy(process.env.NO_PROXY ?? process.env.no_proxy, reg.noProxy);
    vars.NO_PROXY = vars.no_proxy = np;
    return vars;
  }

  /** `python.envFile` (default .env) in the first folder, git-ignored; removed at Stop Using. */
  private async writeEnvFile(): Promise<void> {
    const a = this.active;
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!a || !folder) throw new UserFacingError('config', 'Open a folder first.');
    const configured = vscode.workspace.getConfiguration('python', folder.uri).get<string>('envFile', '${workspaceFolder}/.env');
    const file = configured.replace('${workspaceFolder}', folder.uri.fsPath);
    if (!path.isAbsolute(file) || !file.startsWith(folder.uri.fsPath)) throw new UserFacingError('config', `python.envFile points outside the workspace (${configured}).`);
    const uri = vscode.Uri.file(file);
    const exists = await vscode.workspace.fs.stat(uri).then(
      () => true,
      () => false,
    );
    if (exists) {
      const ok = await vscode.window.showWarningMessage(`${path.basename(file)} exists. Replace it with the endpoint variables of ${a.environment}?`, { modal: true }, 'Replace');
      if (ok !== 'Replace') return;
    }
    await vscode.workspace.fs.writeFile(uri, Buffer.from(endpoints().toDotEnv(a.registration), 'utf8'));
    a.envFile = file;
    await this.gitIgnore(folder.uri, path.relative(folder.uri.fsPath, file));
    void vscode.window.setStatusBarMessage(`ML Spanner: wrote ${path.basename(file)} for ${a.environment}; it is removed when you stop using the environment.`, 6000);
  }

  private async gitIgnore(folder: vscode.Uri, rel: string): Promise<void> {
    const ignore = vscode.Uri.joinPath(folder, '.gitignore');
    const text = await vscode.workspace.fs.readFile(ignore).then(
      (b) => Buffer.from(b).toString('utf8'),
      () => '',
    );
    const entry = '/' + rel.split(path.sep).join('/');
    if (text.split(/\r?\n/).some((l) => l.trim() === entry || l.trim() === rel)) return;
    await vscode.workspace.fs.writeFile(ignore, Buffer.from(`${text}${text && !text.endsWith('\n') ? '\n' : ''}# ML Spanner Access: local credential endpoints (no tokens)\n${entry}\n`, 'utf8'));
  }

  /** Open Terminal with Credentials: a terminal of its own, on endpoints revoked when it closes. */
  private async openTerminal(preferred?: string): Promise<void> {
    const environment = preferred ?? (await this.picker.pick('Open a terminal with the credentials of', 'terminal', true));
    if (!environment) return;
    const grant = await this.prompt.grant({ environment, purpose: 'terminal', action: 'Open a terminal with credentials' });
    if (!grant) return;
    const consumer: EndpointConsumer = { kind: 'terminal', name: `ML Spanner: ${environment} #${this.terminals.size + 1}` };
    this.grants.set(this.key(environment, consumer), grant);
    const env: Record<string, string | null> = {};
    const endpointTargets = grant.targets.filter((t) => ENDPOINT_TARGETS.has(t));
    let registration: EndpointRegistration | undefined;
    if (endpointTargets.length) {
      registration = await this.server.register({ environment, consumer, targets: endpointTargets as never, warm: true });
      Object.assign(env, this.variables(registration));
      for (const k of registration.unset) env[k] = null;
    }
    // Targets without a local endpoint protocol get their static variables (their spec says which).
    const definition = this.gate.environment(environment);
    for (const t of grant.targets.filter((x) => !ENDPOINT_TARGETS.has(x))) {
      const spec = this.gate.targets.spec(t);
      const c = await this.gate.credential(grant, t);
      if (definition?.sections[spec.section]) Object.assign(env, spec.processEnv(c, definition.sections[spec.section], definition));
    }
    const terminal = vscode.window.createTerminal({
      name: consumer.name.replace(/ #\d+$/, ''),
      env,
      isTransient: true,
      iconPath: new vscode.ThemeIcon('key'),
      message: `Credentials for ${environment} come from local endpoints that renew them while VS Code runs; they stop when this terminal closes or you sign out.`,
    });
    if (registration) this.terminals.set(terminal, registration);
    terminal.show();
    this.sink.record({ type: 'terminalOpened', outcome: 'success', environment, target: grant.targets.join(','), purpose: 'terminal', reason: grant.reason, detail: registration ? 'local credential endpoints' : undefined });
  }

  /** Every debug session of the workspace gets the active environment's endpoints. */
  private async debugConfiguration(config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration> {
    const a = this.active;
    if (!a) return config;
    const consumer: EndpointConsumer = { kind: 'debug', name: `${config.name ?? config.type} (${Date.now().toString(36)})` };
    this.grants.set(this.key(a.environment, consumer), a.grant);
    try {
      const reg = await this.server.register({ environment: a.environment, consumer, warm: true });
      this.debugSessions.set(reg.id, reg);
      return { ...config, env: { ...(config.env as Record<string, string> | undefined), ...this.variables(reg) }, __mlspannerRegistration: reg.id };
    } catch (e) {
      void vscode.window.showWarningMessage(`The debug session starts without ${a.environment} credentials: ${errorMessage(e)}`, Remedies.explainAccess(a.environment).title);
      return config;
    }
  }
}
