/**
 * The slice of the `vscode` API the secret-scanning shell uses, in memory, so its flows run in
 * plain mocha: documents, diagnostics, code actions, edits, quick picks and input boxes that
 * answer from a script, progress, commands. Installed under the module name `vscode` by
 * `installFakeVscode()` before the shell modules are loaded.
 */
import Module from 'node:module';

type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (l: Listener<T>) => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T) {
    for (const l of [...this.listeners]) l(e);
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
    readonly fragment = '',
  ) {}
  static file(path: string) {
    return new Uri('file', path);
  }
  static parse(s: string) {
    const m = /^([\w-]+):(.*?)(?:#(.*))?$/.exec(s);
    return new Uri(m?.[1] ?? 'file', m?.[2] ?? s, m?.[3] ?? '');
  }
  static joinPath(base: Uri, ...parts: string[]) {
    return new Uri(base.scheme, [base.path.replace(/\/$/, ''), ...parts].join('/'));
  }
  get fsPath() {
    return this.path;
  }
  with(change: { fragment?: string }) {
    return new Uri(this.scheme, this.path, change.fragment ?? this.fragment);
  }
  toString() {
    return `${this.scheme}:${this.path}${this.fragment ? `#${this.fragment}` : ''}`;
  }
}

export class FakeTextDocument {
  version = 1;
  isClosed = false;
  isDirty = false;
  constructor(
    readonly uri: Uri,
    readonly languageId: string,
    private text: string,
  ) {}
  get fileName() {
    return this.uri.path;
  }
  getText() {
    return this.text;
  }
  setText(text: string) {
    this.text = text;
    this.version++;
  }
  private starts() {
    const s = [0];
    for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) s.push(i + 1);
    return s;
  }
  get lineCount() {
    return this.starts().length;
  }
  positionAt(offset: number) {
    const s = this.starts();
    let line = 0;
    while (line + 1 < s.length && s[line + 1] <= offset) line++;
    return new Position(line, offset - s[line]);
  }
  offsetAt(p: Position) {
    return this.starts()[p.line] + p.character;
  }
  lineAt(line: number) {
    const s = this.starts();
    const end = line + 1 < s.length ? s[line + 1] - 1 : this.text.length;
    return { text: this.text.slice(s[line], end), range: new Range(new Position(line, 0), new Position(line, end - s[line])) };
  }
}

export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
}

export class Diagnostic {
  source?: string;
  code?: string | { value: string; target: Uri };
  relatedInformation?: unknown[];
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: DiagnosticSeverity,
  ) {}
}

export class DiagnosticRelatedInformation {
  constructor(
    readonly location: unknown,
    readonly message: string,
  ) {}
}

export class Location {
  constructor(
    readonly uri: Uri,
    readonly range: Range,
  ) {}
}

export class CodeActionKind {
  static readonly QuickFix = new CodeActionKind('quickfix');
  constructor(readonly value: string) {}
}

export class CodeAction {
  edit?: WorkspaceEdit;
  command?: { command: string; title: string; arguments?: unknown[] };
  diagnostics?: Diagnostic[];
  isPreferred?: boolean;
  constructor(
    readonly title: string,
    readonly kind: CodeActionKind,
  ) {}
}

export class WorkspaceEdit {
  readonly edits: { uri: Uri; range: Range; newText: string }[] = [];
  replace(uri: Uri, range: Range, newText: string) {
    this.edits.push({ uri, range, newText });
  }
}

export class Disposable {
  constructor(private readonly fn: () => void) {}
  static from(...ds: { dispose(): unknown }[]) {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  dispose() {
    this.fn();
  }
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

/** What the fake window and workspace were asked and answered, for assertions. */
export interface FakeState {
  documents: FakeTextDocument[];
  diagnostics: Map<string, Diagnostic[]>;
  /** Answers for showQuickPick: a function choosing an item (or undefined: dismissed). */
  quickPicks: ((items: { label: string }[]) => { label: string } | undefined)[];
  inputBoxes: ((options: { value?: string; validateInput?: (v: string) => string | undefined }) => string | undefined)[];
  messages: { level: 'info' | 'warning' | 'error'; text: string; items: unknown[] }[];
  /** Answer for the next message with buttons (e.g. 'Replace'). */
  messageAnswers: (string | undefined)[];
  commands: Map<string, (...args: unknown[]) => unknown>;
  executed: { command: string; args: unknown[] }[];
  files: Map<string, string>;
  progressTitles: string[];
}

export const state: FakeState = {
  documents: [],
  diagnostics: new Map(),
  quickPicks: [],
  inputBoxes: [],
  messages: [],
  messageAnswers: [],
  commands: new Map(),
  executed: [],
  files: new Map(),
  progressTitles: [],
};

export const events = {
  open: new EventEmitter<FakeTextDocument>(),
  save: new EventEmitter<FakeTextDocument>(),
  change: new EventEmitter<{ document: FakeTextDocument; contentChanges: unknown[] }>(),
  close: new EventEmitter<FakeTextDocument>(),
  openNotebook: new EventEmitter<unknown>(),
  changeNotebook: new EventEmitter<unknown>(),
  closeNotebook: new EventEmitter<unknown>(),
};

export function resetFake(): void {
  state.documents.length = 0;
  state.diagnostics.clear();
  state.quickPicks.length = 0;
  state.inputBoxes.length = 0;
  state.messages.length = 0;
  state.messageAnswers.length = 0;
  state.executed.length = 0;
  state.files.clear();
  state.progressTitles.length = 0;
}

/** Applies a WorkspaceEdit to the fake documents (what `workspace.applyEdit` does). */
export function applyEdit(edit: WorkspaceEdit): boolean {
  const byDoc = new Map<FakeTextDocument, { start: number; end: number; newText: string }[]>();
  for (const e of edit.edits) {
    const doc = state.documents.find((d) => d.uri.toString() === e.uri.toString());
    if (!doc) return false;
    byDoc.set(doc, [...(byDoc.get(doc) ?? []), { start: doc.offsetAt(e.range.start), end: doc.offsetAt(e.range.end), newText: e.newText }]);
  }
  for (const [doc, edits] of byDoc) {
    let text = doc.getText();
    for (const e of edits.sort((a, b) => b.start - a.start)) text = text.slice(0, e.start) + e.newText + text.slice(e.end);
    doc.setText(text);
  }
  return true;
}

const fake = {
  EventEmitter,
  Position,
  Range,
  Uri,
  Diagnostic,
  DiagnosticSeverity,
  DiagnosticRelatedInformation,
  Location,
  CodeAction,
  CodeActionKind,
  WorkspaceEdit,
  Disposable,
  ProgressLocation,
  languages: {
    createDiagnosticCollection: () => ({
      set: (uri: Uri, ds: Diagnostic[]) => void state.diagnostics.set(uri.toString(), ds),
      get: (uri: Uri) => state.diagnostics.get(uri.toString()),
      delete: (uri: Uri) => void state.diagnostics.delete(uri.toString()),
      dispose: () => state.diagnostics.clear(),
    }),
    registerCodeActionsProvider: () => new Disposable(() => undefined),
    getDiagnostics: (uri: Uri) => state.diagnostics.get(uri.toString()) ?? [],
  },
  workspace: {
    get textDocuments() {
      return state.documents;
    },
    notebookDocuments: [] as unknown[],
    workspaceFolders: [{ name: 'Churn Model', uri: Uri.file('/ws') }],
    onDidOpenTextDocument: events.open.event,
    onDidSaveTextDocument: events.save.event,
    onDidChangeTextDocument: events.change.event,
    onDidCloseTextDocument: events.close.event,
    onDidOpenNotebookDocument: events.openNotebook.event,
    onDidChangeNotebookDocument: events.changeNotebook.event,
    onDidCloseNotebookDocument: events.closeNotebook.event,
    getWorkspaceFolder: () => ({ name: 'Churn Model' }),
    asRelativePath: (uri: Uri) => uri.path.replace(/^\/ws\//, ''),
    applyEdit: async (edit: WorkspaceEdit) => applyEdit(edit),
    findFiles: async () => [...state.files.keys()].map((p) => Uri.file(p)),
    fs: {
      stat: async (uri: Uri) => ({ size: state.files.get(uri.path)?.length ?? 0 }),
      readFile: async (uri: Uri) => new TextEncoder().encode(state.files.get(uri.path) ?? ''),
    },
  },
  window: {
    showQuickPick: async (items: { label: string }[]) => {
      const answer = state.quickPicks.shift();
      if (!answer) throw new Error('unexpected quick pick');
      return answer(items);
    },
    showInputBox: async (options: { value?: string; validateInput?: (v: string) => string | undefined }) => {
      const answer = state.inputBoxes.shift();
      if (!answer) throw new Error('unexpected input box');
      return answer(options);
    },
    showInformationMessage: async (text: string, ...items: unknown[]) => {
      state.messages.push({ level: 'info', text, items });
      return items.length ? state.messageAnswers.shift() : undefined;
    },
    showWarningMessage: async (text: string, ...items: unknown[]) => {
      state.messages.push({ level: 'warning', text, items });
      return items.some((i) => typeof i === 'string') ? state.messageAnswers.shift() : undefined;
    },
    withProgress: async <T>(options: { title?: string }, task: (p: { report(): void }, token: { isCancellationRequested: boolean }) => Promise<T>) => {
      state.progressTitles.push(options.title ?? '');
      return task({ report: () => undefined }, { isCancellationRequested: false });
    },
  },
  commands: {
    registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
      state.commands.set(id, fn);
      return new Disposable(() => state.commands.delete(id));
    },
    executeCommand: async (command: string, ...args: unknown[]) => {
      state.executed.push({ command, args });
    },
  },
};

let installed = false;

/**
 * Makes `require('vscode')` from the secret-scanning shell (src/vscode/secrets) return this fake
 * (idempotent). Other shell modules keep the unit tests' shared fake (fakes/registerVscode.ts).
 */
export function installFakeVscode(): void {
  if (installed) return;
  installed = true;
  const m = Module as unknown as { _load: (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown };
  const original = m._load;
  m._load = function (request: string, parent: { filename?: string } | undefined, isMain: boolean) {
    if (request === 'vscode' && /[\\/]src[\\/]vscode[\\/]secrets[\\/]/.test(parent?.filename ?? '')) return fake;
    return original.call(this, request, parent, isMain);
  };
}

/** Opens a document in the fake workspace and fires onDidOpenTextDocument. */
export function openDocument(path: string, languageId: string, text: string): FakeTextDocument {
  const doc = new FakeTextDocument(Uri.file(path), languageId, text);
  state.documents.push(doc);
  events.open.fire(doc);
  return doc;
}
