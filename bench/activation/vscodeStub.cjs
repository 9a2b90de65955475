// A stand-in for the `vscode` module, enough for activate() to run outside VS Code: real
// EventEmitter, Disposable, Uri, TreeItem and friends; configuration answers its defaults; every
// other API is a no-op. Members nobody implemented are answered by an inert proxy and listed
// (globalThis.__vscodeStubMisses) so the benchmark can show what it did not model.
'use strict';
const path = require('node:path');
const { URL, pathToFileURL } = require('node:url');

const misses = new Set();
globalThis.__vscodeStubMisses = misses;

function inert(name) {
  const target = function () {};
  return new Proxy(target, {
    get(_t, prop) {
      if (prop === 'then') return undefined;
      if (prop === Symbol.toPrimitive) return () => '';
      if (prop === Symbol.iterator) return function* () {};
      if (prop === 'length') return 0;
      if (typeof prop === 'symbol') return undefined;
      return inert(`${name}.${prop}`);
    },
    apply() {
      misses.add(`${name}()`);
      return inert(`${name}()`);
    },
    construct() {
      misses.add(`new ${name}`);
      return inert(`new ${name}`);
    },
    set() {
      return true;
    },
  });
}

/** An object whose unknown members fall back to inert proxies (and are recorded). */
function partial(name, known) {
  return new Proxy(known, {
    get(t, prop, receiver) {
      if (prop in t || typeof prop === 'symbol' || prop === '__esModule') return Reflect.get(t, prop, receiver);
      misses.add(`${name}.${String(prop)}`);
      return inert(`${name}.${String(prop)}`);
    },
  });
}

class Disposable {
  constructor(fn) {
    this._fn = fn;
  }
  static from(...items) {
    return new Disposable(() => items.forEach((d) => d && d.dispose && d.dispose()));
  }
  dispose() {
    if (this._fn) this._fn();
    this._fn = undefined;
  }
}

class EventEmitter {
  constructor() {
    this._listeners = new Set();
    this.event = (listener, thisArg, disposables) => {
      const l = thisArg ? listener.bind(thisArg) : listener;
      this._listeners.add(l);
      const d = new Disposable(() => this._listeners.delete(l));
      if (Array.isArray(disposables)) disposables.push(d);
      return d;
    };
  }
  fire(e) {
    for (const l of [...this._listeners]) l(e);
  }
  dispose() {
    this._listeners.clear();
  }
}

const noEvent = () => new Disposable();

class Uri {
  constructor(scheme, authority, p, query, fragment) {
    this.scheme = scheme;
    this.authority = authority || '';
    this.path = p || '';
    this.query = query || '';
    this.fragment = fragment || '';
  }
  get fsPath() {
    return this.path;
  }
  static file(p) {
    return new Uri('file', '', p);
  }
  static parse(s) {
    const u = new URL(s);
    return new Uri(u.protocol.replace(/:$/, ''), u.host, decodeURIComponent(u.pathname), u.search.replace(/^\?/, ''), u.hash.replace(/^#/, ''));
  }
  static joinPath(base, ...parts) {
    return new Uri(base.scheme, base.authority, path.posix.join(base.path, ...parts), base.query, base.fragment);
  }
  static from(c) {
    return new Uri(c.scheme, c.authority, c.path, c.query, c.fragment);
  }
  with(c) {
    return new Uri(c.scheme ?? this.scheme, c.authority ?? this.authority, c.path ?? this.path, c.query ?? this.query, c.fragment ?? this.fragment);
  }
  toString() {
    return this.scheme === 'file' ? pathToFileURL(this.path).href : `${this.scheme}://${this.authority}${this.path}${this.query ? `?${this.query}` : ''}${this.fragment ? `#${this.fragment}` : ''}`;
  }
  toJSON() {
    return this.toString();
  }
}

class ThemeIcon {
  constructor(id, color) {
    this.id = id;
    this.color = color;
  }
}
ThemeIcon.File = new ThemeIcon('file');
ThemeIcon.Folder = new ThemeIcon('folder');
class ThemeColor {
  constructor(id) {
    this.id = id;
  }
}
class TreeItem {
  constructor(labelOrUri, collapsibleState) {
    if (typeof labelOrUri === 'string' || (labelOrUri && labelOrUri.label !== undefined)) this.label = labelOrUri;
    else this.resourceUri = labelOrUri;
    this.collapsibleState = collapsibleState;
  }
}
class MarkdownString {
  constructor(value = '', supportThemeIcons = false) {
    this.value = value;
    this.supportThemeIcons = supportThemeIcons;
  }
  appendMarkdown(v) {
    this.value += v;
    return this;
  }
  appendText(v) {
    this.value += v;
    return this;
  }
  appendCodeblock(v, lang = '') {
    this.value += `\n\`\`\`${lang}\n${v}\n\`\`\`\n`;
    return this;
  }
}
class CancellationTokenSource {
  constructor() {
    const emitter = new EventEmitter();
    this._emitter = emitter;
    this.token = { isCancellationRequested: false, onCancellationRequested: emitter.event };
  }
  cancel() {
    this.token.isCancellationRequested = true;
    this._emitter.fire();
  }
  dispose() {}
}
class RelativePattern {
  constructor(base, pattern) {
    this.base = base;
    this.pattern = pattern;
  }
}
class Range {
  constructor(a, b, c, d) {
    this.start = { line: a, character: b };
    this.end = { line: c, character: d };
  }
}
class Selection extends Range {}
class Location {
  constructor(uri, range) {
    this.uri = uri;
    this.range = range;
  }
}
class Diagnostic {
  constructor(range, message, severity) {
    this.range = range;
    this.message = message;
    this.severity = severity;
  }
}
class DiagnosticRelatedInformation {
  constructor(location, message) {
    this.location = location;
    this.message = message;
  }
}
class CodeActionKind {
  constructor(value) {
    this.value = value;
  }
  append(part) {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
}
CodeActionKind.Empty = new CodeActionKind('');
CodeActionKind.QuickFix = new CodeActionKind('quickfix');
CodeActionKind.Refactor = new CodeActionKind('refactor');
CodeActionKind.Source = new CodeActionKind('source');
class CodeAction {
  constructor(title, kind) {
    this.title = title;
    this.kind = kind;
  }
}
class WorkspaceEdit {
  constructor() {
    this._edits = [];
  }
  replace(uri, range, newText) {
    this._edits.push({ uri, range, newText });
  }
  insert(uri, position, newText) {
    this._edits.push({ uri, range: new Range(position.line, position.character, position.line, position.character), newText });
  }
}
class LanguageModelTextPart {
  constructor(value) {
    this.value = value;
  }
}
class LanguageModelToolResult {
  constructor(content) {
    this.content = content;
  }
}
class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
}

function logChannel(name) {
  const noop = () => undefined;
  return partial(`OutputChannel(${name})`, {
    name,
    logLevel: 2,
    onDidChangeLogLevel: noEvent,
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    append: noop,
    appendLine: noop,
    replace: noop,
    clear: noop,
    show: noop,
    hide: noop,
    dispose: noop,
  });
}

function configuration(section) {
  return partial(`WorkspaceConfiguration(${section})`, {
    get: (_key, fallback) => fallback,
    has: () => false,
    inspect: () => undefined,
    update: async () => undefined,
  });
}

const commandsRegistered = new Map();
// What the extension registered and reported, for bench/activation/exercise.cjs.
const record = { views: [], tools: [], authenticationProviders: [], errors: [], warnings: [] };
globalThis.__vscodeStubRecord = Object.assign(record, { commands: commandsRegistered });
const vscode = {
  version: '1.100.3',
  Disposable,
  EventEmitter,
  Uri,
  ThemeIcon,
  ThemeColor,
  TreeItem,
  MarkdownString,
  CancellationTokenSource,
  RelativePattern,
  Range,
  Selection,
  Position,
  Location,
  Diagnostic,
  DiagnosticRelatedInformation,
  CodeActionKind,
  CodeAction,
  WorkspaceEdit,
  LanguageModelTextPart,
  LanguageModelToolResult,
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  UIKind: { Desktop: 1, Web: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
  FileType: { Unknown: 0, File: 1, Directory: 2, SymbolicLink: 64 },
  EndOfLine: { LF: 1, CRLF: 2 },
  TextEditorRevealType: { Default: 0, InCenter: 1 },
  TerminalLocation: { Panel: 1, Editor: 2 },
  l10n: { t: (message, ...args) => (typeof message === 'string' ? message.replace(/\{(\d+)\}/g, (_m, i) => String(args[Number(i)])) : message.message) },
  env: partial('env', {
    appName: 'Visual Studio Code',
    appHost: 'desktop',
    uiKind: 1,
    remoteName: undefined,
    language: 'en',
    machineId: 'bench',
    sessionId: 'bench',
    clipboard: { writeText: async () => undefined, readText: async () => '' },
    openExternal: async () => true,
    asExternalUri: async (u) => u,
  }),
  commands: partial('commands', {
    registerCommand: (id, fn) => {
      commandsRegistered.set(id, fn);
      return new Disposable(() => commandsRegistered.delete(id));
    },
    executeCommand: async (id, ...args) => {
      const fn = commandsRegistered.get(id);
      return fn ? fn(...args) : undefined;
    },
    getCommands: async () => [...commandsRegistered.keys()],
  }),
  window: partial('window', {
    activeTextEditor: undefined,
    visibleTextEditors: [],
    state: { focused: true, active: true },
    onDidChangeActiveTextEditor: noEvent,
    onDidChangeWindowState: noEvent,
    onDidOpenTerminal: noEvent,
    onDidCloseTerminal: noEvent,
    terminals: [],
    createOutputChannel: (name) => logChannel(name),
    createStatusBarItem: () =>
      partial('StatusBarItem', { text: '', tooltip: undefined, command: undefined, color: undefined, backgroundColor: undefined, name: undefined, show() {}, hide() {}, dispose() {} }),
    createTreeView: (id) => {
      record.views.push(id);
      return partial(`TreeView(${id})`, {
        message: undefined,
        description: undefined,
        title: undefined,
        badge: undefined,
        visible: false,
        selection: [],
        onDidChangeVisibility: noEvent,
        onDidChangeSelection: noEvent,
        onDidExpandElement: noEvent,
        onDidCollapseElement: noEvent,
        reveal: async () => undefined,
        dispose() {},
      });
    },
    registerTreeDataProvider: (id) => (record.views.push(id), new Disposable()),
    registerUriHandler: () => new Disposable(),
    registerWebviewViewProvider: () => new Disposable(),
    showInformationMessage: async () => undefined,
    // Recorded as "message | button | …" (an option object is left out).
    showWarningMessage: async (m, ...items) => void record.warnings.push([m, ...items.filter((i) => typeof i === 'string')].join(' | ')),
    showErrorMessage: async (m, ...items) => void record.errors.push([m, ...items.filter((i) => typeof i === 'string')].join(' | ')),
    showQuickPick: async () => undefined,
    showInputBox: async () => undefined,
    showTextDocument: async () => undefined,
    withProgress: async (_o, task) => task({ report() {} }, new CancellationTokenSource().token),
    createTerminal: () => partial('Terminal', { show() {}, dispose() {} }),
  }),
  workspace: partial('workspace', {
    isTrusted: true,
    workspaceFolders: undefined,
    name: undefined,
    textDocuments: [],
    notebookDocuments: [],
    onDidChangeTextDocument: noEvent,
    onDidOpenNotebookDocument: noEvent,
    onDidChangeNotebookDocument: noEvent,
    onDidCloseNotebookDocument: noEvent,
    getConfiguration: (section) => configuration(section),
    onDidChangeConfiguration: noEvent,
    onDidGrantWorkspaceTrust: noEvent,
    onDidChangeWorkspaceFolders: noEvent,
    onDidSaveTextDocument: noEvent,
    onDidOpenTextDocument: noEvent,
    onDidCloseTextDocument: noEvent,
    createFileSystemWatcher: () =>
      partial('FileSystemWatcher', { onDidChange: noEvent, onDidCreate: noEvent, onDidDelete: noEvent, dispose() {} }),
    registerTextDocumentContentProvider: () => new Disposable(),
    findFiles: async () => [],
    openTextDocument: async () => partial('TextDocument', { getText: () => '', uri: Uri.file('/untitled') }),
    fs: partial('workspace.fs', { readFile: async () => new Uint8Array(), stat: async () => ({ type: 1, size: 0, ctime: 0, mtime: 0 }) }),
  }),
  authentication: partial('authentication', {
    registerAuthenticationProvider: (id) => (record.authenticationProviders.push(id), new Disposable()),
    getSession: async () => undefined,
    onDidChangeSessions: noEvent,
  }),
  languages: partial('languages', {
    createDiagnosticCollection: (name) =>
      partial(`DiagnosticCollection(${name})`, { name, set() {}, delete() {}, clear() {}, forEach() {}, get: () => undefined, has: () => false, dispose() {} }),
    registerCodeActionsProvider: () => new Disposable(),
    onDidChangeDiagnostics: noEvent,
  }),
  lm: partial('lm', { registerTool: (name) => (record.tools.push(name), new Disposable()), tools: [] }),
  debug: partial('debug', {
    registerDebugConfigurationProvider: () => new Disposable(),
    onDidStartDebugSession: noEvent,
    onDidTerminateDebugSession: noEvent,
  }),
  extensions: partial('extensions', { getExtension: () => undefined, all: [], onDidChange: noEvent }),
};

module.exports = partial('vscode', vscode);
