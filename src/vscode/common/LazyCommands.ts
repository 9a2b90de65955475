import type * as vscode from 'vscode';
import { CommandRunner } from './CommandRunner';

type Handler = (...args: never[]) => unknown;
type Owned = { dispose(): unknown } | readonly { dispose(): unknown }[] | void;

/** A CommandRunner that keeps the handlers a feature registers instead of giving them to VS Code. */
class CapturingRunner extends CommandRunner {
  constructor(
    log: vscode.LogOutputChannel,
    private readonly declared: ReadonlySet<string>,
    private readonly handlers: Map<string, Handler>,
    private readonly undeclared: (id: string, fn: Handler) => vscode.Disposable,
  ) {
    super(log);
  }

  override register(id: string, fn: Handler): vscode.Disposable {
    // A command the feature did not declare still works; it is registered late (a bug to fix).
    if (!this.declared.has(id)) return this.undeclared(id, fn);
    this.handlers.set(id, fn);
    return { dispose: () => this.handlers.delete(id) };
  }
}

/**
 * Commands of a feature whose module is loaded on first use. The command ids are registered
 * with VS Code at once (through the shared CommandRunner, so errors take the one error path);
 * the first time one of them runs, `create` requires the feature and constructs it with a
 * runner that collects its handlers, and the call goes on to the feature's own handler.
 * `load()` constructs it without a command (for work after activation).
 */
export class LazyCommands implements vscode.Disposable {
  private readonly handlers = new Map<string, Handler>();
  private readonly placeholders: vscode.Disposable[];
  private owned: { dispose(): unknown }[] = [];
  private loaded = false;
  private disposed = false;

  constructor(
    private readonly runner: CommandRunner,
    private readonly log: vscode.LogOutputChannel,
    readonly ids: readonly string[],
    private readonly create: (commands: CommandRunner) => Owned,
  ) {
    this.placeholders = ids.map((id) => runner.register(id, (...args: never[]) => this.handler(id)(...args)));
  }

  /** True once the feature has been constructed. */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Constructs the feature now if it is not yet (idempotent). */
  load(): void {
    if (this.loaded || this.disposed) return;
    this.loaded = true;
    const undeclared = (id: string, fn: Handler) => {
      this.log.warn(`Command ${id} was registered late: it is not among the lazily registered commands of its feature.`);
      return this.runner.register(id, fn);
    };
    let owned: Owned;
    try {
      owned = this.create(new CapturingRunner(this.log, new Set(this.ids), this.handlers, undeclared));
    } catch (e) {
      // The next command tries again (and reports this error through the runner now).
      this.loaded = false;
      throw e;
    }
    this.owned = owned ? (Array.isArray(owned) ? [...(owned as readonly { dispose(): unknown }[])] : [owned as { dispose(): unknown }]) : [];
  }

  private handler(id: string): Handler {
    this.load();
    const fn = this.handlers.get(id);
    if (!fn) throw new Error(`The command ${id} is not available: its feature did not register it.`);
    return fn;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of [...this.placeholders, ...this.owned.reverse()]) {
      try {
        d.dispose();
      } catch {
        // One failing dispose must not keep the others alive.
      }
    }
    this.handlers.clear();
  }
}
