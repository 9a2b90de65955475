/**
 * A small fake of the `vscode` API surface the shell's logic uses (commands, context keys, tree
 * views, quick picks, messages), so shell classes run under mocha. Loaded for `require('vscode')`
 * by fakes/registerVscode.ts. Every UI call is recorded in `ui.calls`; answers come from
 * `ui.answers` (first match by method, in order).
 */
type Answer = { method: string; value: unknown };

export const ui = {
  calls: [] as { method: string; args: unknown[] }[],
  answers: [] as Answer[],
  contexts: new Map<string, unknown>(),
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as { id: string; args: unknown[] }[],
  authProviders: new Map<string, unknown>(),
  reset(): void {
    this.authProviders.clear();
    this.calls = [];
    this.answers = [];
    this.contexts.clear();
    this.commands.clear();
    this.executed = [];
  },
  answer(method: string, value: unknown): void {
    this.answers.push({ method, value });
  },
};

function respond(method: string, args: unknown[]): unknown {
  ui.calls.push({ method, args });
  const i = ui.answers.findIndex((a) => a.method === method);
  if (i < 0) return undefined;
  const [a] = ui.answers.splice(i, 1);
  return typeof a.value === 'function' ? (a.value as (...x: unknown[]) => unknown)(...args) : a.value;
}

export class EventEmitter<T> {
  private listeners = new Set<(v: T) => void>();
  readonly event = (l: (v: T) => void) => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(v: T): void {
    for (const l of [...this.listeners]) l(v);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}
export class ThemeColor {
  constructor(readonly id: string) {}
}
export class MarkdownString {
  isTrusted?: unknown;
  constructor(
    public value = '',
    public supportThemeIcons = false,
  ) {}
  appendMarkdown(s: string): this {
    this.value += s;
    return this;
  }
}
export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}
export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  command?: unknown;
  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}
export enum ProgressLocation {
  Notification = 15,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export const Uri = {
  parse: (s: string) => ({ toString: () => s, fsPath: s }),
  file: (s: string) => ({ toString: () => `file://${s}`, fsPath: s }),
};

export const window = {
  showWarningMessage: (...args: unknown[]) => Promise.resolve(respond('showWarningMessage', args)),
  showErrorMessage: (...args: unknown[]) => Promise.resolve(respond('showErrorMessage', args)),
  showInformationMessage: (...args: unknown[]) => Promise.resolve(respond('showInformationMessage', args)),
  showInputBox: (...args: unknown[]) => Promise.resolve(respond('showInputBox', args)),
  showQuickPick: (...args: unknown[]) => Promise.resolve(respond('showQuickPick', args)),
  setStatusBarMessage: (...args: unknown[]) => (respond('setStatusBarMessage', args), { dispose: () => undefined }),
  createTreeView: (id: string, options: unknown) => {
    const expand = new EventEmitter<{ element: unknown }>();
    const visibility = new EventEmitter<{ visible: boolean }>();
    const view = { id, options, visible: true, message: undefined as string | undefined, description: undefined as string | undefined, onDidExpandElement: expand.event, onDidChangeVisibility: visibility.event, expand, dispose: () => undefined };
    respond('createTreeView', [id, options]);
    return view;
  },
  createStatusBarItem: () => ({ text: '', show: () => undefined, hide: () => undefined, dispose: () => undefined }),
  createOutputChannel: (name: string) => {
    const lines: string[] = [];
    const put = (level: string) => (m: string) => void lines.push(`[${level}] ${m}`);
    respond('createOutputChannel', [name]);
    return { name, lines, info: put('info'), warn: put('warn'), error: put('error'), debug: put('debug'), trace: put('trace'), appendLine: put('line'), show: () => undefined, dispose: () => undefined };
  },
};

export const authentication = {
  registerAuthenticationProvider: (id: string, label: string, provider: unknown, options?: unknown) => {
    respond('registerAuthenticationProvider', [id, label, provider, options]);
    ui.authProviders.set(id, provider);
    return { dispose: () => ui.authProviders.get(id) === provider && ui.authProviders.delete(id) };
  },
};

export const commands = {
  registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
    ui.commands.set(id, fn);
    return { dispose: () => ui.commands.delete(id) };
  },
  executeCommand: async (id: string, ...args: unknown[]) => {
    ui.executed.push({ id, args });
    if (id === 'setContext') ui.contexts.set(args[0] as string, args[1]);
    return ui.commands.get(id)?.(...args);
  },
};

export const workspace = {
  getConfiguration: (_section?: string, _scope?: unknown) => ({ get: <T>(_k: string, d?: T) => d, inspect: (_k: string): unknown => undefined }),
  onDidChangeConfiguration: () => ({ dispose: () => undefined }),
  isTrusted: true,
  workspaceFile: undefined as { scheme: string; path: string } | undefined,
  workspaceFolders: undefined as { name: string; uri: unknown }[] | undefined,
};

export const env = { remoteName: undefined as string | undefined };

export const extensions = { getExtension: (_id: string): { packageJSON: unknown } | undefined => undefined };
