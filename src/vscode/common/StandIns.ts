import * as vscode from 'vscode';

type Handler = (...args: never[]) => unknown;

/** The sidebar views and the options they are created with. */
export const VIEWS: Readonly<Record<string, { showCollapseAll?: boolean }>> = {
  'mlspanner.environments': { showCollapseAll: true },
  'mlspanner.runs': {},
};

/** The authentication provider this extension contributes. */
export const AUTH_PROVIDER = { id: 'mlspanner', label: 'ML Spanner Access', options: { supportsMultipleAccounts: false } } as const;

/** What package.json contributes and activation registers at once. */
export interface Contributions {
  commands: readonly string[];
  tools: readonly string[];
}

/** The command ids and tool names of package.json, as the host passes it (undefined: no manifest). */
export function contributionsOf(context: Pick<vscode.ExtensionContext, 'extension'>): Contributions | undefined {
  const c = (context.extension?.packageJSON as { contributes?: { commands?: { command: string }[]; languageModelTools?: { name: string }[] } } | undefined)?.contributes;
  if (!c) return undefined;
  return { commands: (c.commands ?? []).map((x) => x.command), tools: (c.languageModelTools ?? []).map((t) => t.name) };
}

/** A tree data provider that asks for the services on first use and then renders theirs. */
class DeferredTreeData<T> implements vscode.TreeDataProvider<T> {
  private readonly changed = new vscode.EventEmitter<T | T[] | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;
  target?: vscode.TreeDataProvider<T>;
  private sub?: vscode.Disposable;

  constructor(private readonly load: () => void) {}

  attach(target: vscode.TreeDataProvider<T>): vscode.Disposable {
    this.target = target;
    this.sub = target.onDidChangeTreeData?.((e) => this.changed.fire(e ?? undefined));
    this.changed.fire(undefined);
    return { dispose: () => (this.sub?.dispose(), (this.target = undefined)) };
  }

  getChildren(element?: T): vscode.ProviderResult<T[]> {
    this.load();
    return this.target ? this.target.getChildren(element) : [];
  }

  getTreeItem(element: T): vscode.TreeItem | Thenable<vscode.TreeItem> {
    if (!this.target) throw new Error('The view is not ready.');
    return this.target.getTreeItem(element);
  }

  dispose(): void {
    this.sub?.dispose();
    this.changed.dispose();
  }
}

/** The authentication provider, answered by the sign-in service once it exists. */
class DeferredAuthProvider implements vscode.AuthenticationProvider {
  private readonly changed = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  readonly onDidChangeSessions = this.changed.event;
  target?: vscode.AuthenticationProvider;

  constructor(private readonly load: () => void) {}

  private get ready(): vscode.AuthenticationProvider {
    this.load();
    if (!this.target) throw new Error('ML Spanner Access could not start its sign-in service: see the ML Spanner output.');
    return this.target;
  }

  attach(target: vscode.AuthenticationProvider): vscode.Disposable {
    this.target = target;
    const sub = target.onDidChangeSessions((e) => this.changed.fire(e));
    return { dispose: () => (sub.dispose(), (this.target = undefined)) };
  }

  getSessions(scopes: readonly string[] | undefined, options: vscode.AuthenticationProviderSessionOptions): Thenable<vscode.AuthenticationSession[]> {
    return this.ready.getSessions(scopes, options);
  }

  createSession(scopes: readonly string[], options: vscode.AuthenticationProviderSessionOptions): Thenable<vscode.AuthenticationSession> {
    return this.ready.createSession(scopes, options);
  }

  removeSession(sessionId: string): Thenable<void> {
    return this.ready.removeSession(sessionId);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/**
 * Activation registers every contributed command, view, tool and the authentication provider at
 * once, as stand-ins; the services behind them are built on first use (`load`, which activation
 * also queues right after it returns). A stand-in asks for the services and hands the call on to
 * what they attached: command handlers, tree data providers, the auth provider, tools.
 *
 * The services register through the functions below (createTreeView, registerTool,
 * registerAuthenticationProvider, `commands`): with stand-ins in place they attach to them;
 * without (unit tests, a host that passed no manifest) they register with VS Code as usual.
 */
export class StandIns implements vscode.Disposable {
  private static active?: StandIns;
  private readonly handlers = new Map<string, Handler>();
  private readonly declared: ReadonlySet<string>;
  private readonly views = new Map<string, { view: vscode.TreeView<unknown>; data: DeferredTreeData<unknown> }>();
  private readonly tools = new Map<string, { target?: vscode.LanguageModelTool<unknown> }>();
  private readonly auth: DeferredAuthProvider;
  private readonly owned: vscode.Disposable[] = [];

  constructor(
    contributions: Contributions,
    private readonly load: () => void,
  ) {
    StandIns.active = this;
    this.declared = new Set(contributions.commands);
    for (const id of contributions.commands) this.owned.push(vscode.commands.registerCommand(id, (...args: unknown[]) => this.run(id, args)));
    for (const [id, options] of Object.entries(VIEWS)) {
      const data = new DeferredTreeData<unknown>(load);
      const view = vscode.window.createTreeView(id, { treeDataProvider: data, ...options });
      this.views.set(id, { view, data });
      this.owned.push(view, data);
    }
    this.auth = new DeferredAuthProvider(load);
    this.owned.push(this.auth, vscode.authentication.registerAuthenticationProvider(AUTH_PROVIDER.id, AUTH_PROVIDER.label, this.auth, AUTH_PROVIDER.options));
    if (vscode.lm?.registerTool)
      for (const name of contributions.tools) {
        const slot: { target?: vscode.LanguageModelTool<unknown> } = {};
        this.tools.set(name, slot);
        const ready = () => {
          load();
          if (!slot.target) throw new Error(`The tool ${name} is not available.`);
          return slot.target;
        };
        this.owned.push(
          vscode.lm.registerTool(name, {
            prepareInvocation: (options, token) => ready().prepareInvocation?.(options, token),
            invoke: (options, token) => ready().invoke(options, token),
          }),
        );
      }
  }

  private run(id: string, args: unknown[]): unknown {
    this.load();
    const fn = this.handlers.get(id);
    if (!fn) throw new Error(`The command ${id} is not available: ML Spanner Access could not start (see the ML Spanner output).`);
    return (fn as (...a: unknown[]) => unknown)(...args);
  }

  /** registerCommand for the services: a contributed command takes its stand-in's place. */
  static readonly commands: Pick<typeof vscode.commands, 'registerCommand' | 'executeCommand'> = {
    registerCommand: (id, fn) => {
      const s = StandIns.active;
      if (!s?.declared.has(id)) return vscode.commands.registerCommand(id, fn);
      s.handlers.set(id, fn as Handler);
      return { dispose: () => s.handlers.get(id) === fn && s.handlers.delete(id) };
    },
    executeCommand: (id, ...args) => vscode.commands.executeCommand(id, ...args),
  };

  dispose(): void {
    if (StandIns.active === this) StandIns.active = undefined;
    for (const d of this.owned.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // One failing dispose must not keep the others alive.
      }
    }
    this.handlers.clear();
  }

  static createTreeView<T>(id: string, options: vscode.TreeViewOptions<T>): vscode.TreeView<T> {
    const slot = StandIns.active?.views.get(id);
    if (!slot) return vscode.window.createTreeView(id, options);
    const attached = slot.data.attach(options.treeDataProvider as vscode.TreeDataProvider<unknown>);
    // The view lives as long as the stand-ins; disposing the service detaches its data. (A proxy
    // over an empty object: the host's TreeView is frozen, so its own `dispose` cannot be replaced.)
    const view = slot.view as vscode.TreeView<T>;
    return new Proxy({} as vscode.TreeView<T>, {
      get: (_t, p) => {
        if (p === 'dispose') return () => attached.dispose();
        const v = Reflect.get(view, p) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(view) : v;
      },
      set: (_t, p, v) => Reflect.set(view, p, v),
    });
  }

  static registerAuthenticationProvider(provider: vscode.AuthenticationProvider): vscode.Disposable {
    const s = StandIns.active;
    if (!s) return vscode.authentication.registerAuthenticationProvider(AUTH_PROVIDER.id, AUTH_PROVIDER.label, provider, AUTH_PROVIDER.options);
    return s.auth.attach(provider);
  }

  static registerTool<T>(name: string, tool: vscode.LanguageModelTool<T>): vscode.Disposable {
    const slot = StandIns.active?.tools.get(name);
    if (!slot) return vscode.lm.registerTool(name, tool);
    slot.target = tool as vscode.LanguageModelTool<unknown>;
    return { dispose: () => slot.target === tool && (slot.target = undefined) };
  }
}
