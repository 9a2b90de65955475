import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import { TOOLTIP_COMMANDS, changedRoots, deviceCodeView, environmentView, type PendingDeviceCode, type SessionRefreshProblem, type ViewNode } from '../../core/access/environmentView';
import type { IdentitySession } from '../../core/auth/IdentitySession';
import { SessionManager, type SessionState } from '../../core/auth/SessionManager';
import { errorMessage } from '../../core/errors';
import { Disposables } from '../common/Disposables';
import { StandIns, VIEWS } from '../common/StandIns';
import type { EnvironmentsService } from './EnvironmentsService';

/** The session's refresh problem for the view: signed in, and the last renewal failed. */
export function sessionRefreshProblem(state: SessionState): SessionRefreshProblem | undefined {
  return state.kind === 'signedIn' && state.refreshError ? { message: state.refreshError, expiresAt: SessionManager.expiresAt(state.session) } : undefined;
}

/** What context-menu commands receive from a node: its `args`. */
export type TreeNode = Pick<ViewNode, 'id' | 'args'>;

/** The rows of a model by id, and each top-level row's rendering, to tell which rows changed. */
interface Model {
  roots: ViewNode[];
  byId: Map<string, ViewNode>;
}

/**
 * Renders the environments view model (src/core/access/environmentView.ts). Expanding a granted
 * environment issues its credentials (purpose "view", through the gate); a `confirm`
 * environment issues nothing until the user confirms with a reason (Issue…). The countdown
 * ticks only while the view is visible and a credential is live.
 *
 * A change refreshes only the top-level rows whose rendering changed (one environment when its
 * credential is issued, nothing when a countdown's text did not change); the whole tree only
 * when rows were added, removed or moved. A row the user is expanding is never re-rendered by a
 * change elsewhere, so it does not snap shut.
 */
export class EnvironmentsTreeProvider extends Disposables implements vscode.TreeDataProvider<ViewNode> {
  private readonly changed = this.register(new vscode.EventEmitter<ViewNode | ViewNode[] | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private readonly requested = new Set<string>();
  private ticker?: ReturnType<typeof setInterval>;
  /** What VS Code was last given: the model, and the top-level node objects it knows (for element refreshes). */
  private model?: Model;
  private readonly shown = new Map<string, ViewNode>();
  readonly view: vscode.TreeView<ViewNode>;

  constructor(
    private readonly session: () => IdentitySession | undefined,
    private readonly gate: AccessGate,
    private readonly environments: EnvironmentsService,
    private readonly onError: (e: unknown) => void,
    private readonly active: () => string | undefined = () => undefined,
    private readonly now: () => number = Date.now,
    /** The sign-in session's renewal is failing: shown on the account and environment rows. */
    private readonly sessionProblem: () => SessionRefreshProblem | undefined = () => undefined,
    /** A device-code sign-in waiting for the user: its code and actions replace the welcome view. */
    private readonly pendingDevice: () => PendingDeviceCode | undefined = () => undefined,
  ) {
    super();
    this.view = this.register(StandIns.createTreeView('mlspanner.environments', { treeDataProvider: this, ...VIEWS['mlspanner.environments'] }));
    this.register(this.view.onDidExpandElement((e) => this.issueOnExpand(e.element)));
    this.register(this.view.onDidChangeVisibility(() => this.tick()));
    this.register(gate.credentials.onDidChange(() => this.refresh()));
    this.register(environments.onDidChange(() => this.refresh()));
    this.register({ dispose: () => clearInterval(this.ticker) });
  }

  /** Re-renders what changed since VS Code last read the view. */
  refresh(): void {
    const before = this.model;
    if (!before) {
      this.changed.fire(undefined);
    } else {
      const after = (this.model = this.build());
      const changed = changedRoots(before.roots, after.roots);
      if (changed === 'all') {
        this.shown.clear();
        this.changed.fire(undefined);
      } else {
        const known = changed.map((id) => this.shown.get(id)).filter((n): n is ViewNode => n !== undefined);
        // A changed row VS Code has no object for yet is read fresh when it asks for the root.
        if (known.length < changed.length) this.changed.fire(undefined);
        else if (known.length) this.changed.fire(known);
      }
    }
    this.tick();
  }

  /** Sign-out: the next look issues again. */
  reset(): void {
    this.requested.clear();
    this.refresh();
  }

  getChildren(node?: ViewNode): ViewNode[] {
    if (node) {
      const current = this.latest(node);
      // Opening a granted environment (also when VS Code restores it expanded) issues its
      // credentials; the gate keeps a confirm environment's for its Issue… button.
      if (current.contextValue === 'environment.granted' || current.contextValue === 'environment.granted.active') queueMicrotask(() => this.issueOnExpand(current));
      return current.children ?? [];
    }
    this.model = this.build();
    this.shown.clear();
    for (const n of this.model.roots) this.shown.set(n.id, n);
    return this.model.roots;
  }

  private build(): Model {
    const roots = this.roots();
    const byId = new Map<string, ViewNode>();
    const walk = (nodes: readonly ViewNode[]) => {
      for (const n of nodes) {
        byId.set(n.id, n);
        if (n.children) walk(n.children);
      }
    };
    walk(roots);
    return { roots, byId };
  }

  private roots(): ViewNode[] {
    const s = this.session();
    if (!s) {
      const device = this.pendingDevice();
      return device ? deviceCodeView(device, this.now()) : []; // else the welcome view with Sign In shows
    }
    return environmentView(this.gate, () => this.environments.resolution(), s, this.now(), this.active(), this.sessionProblem());
  }

  /** The node as the latest model renders it (VS Code hands back the object it was given earlier). */
  private latest(node: ViewNode): ViewNode {
    return this.model?.byId.get(node.id) ?? node;
  }

  getTreeItem(element: ViewNode): vscode.TreeItem {
    const node = this.latest(element);
    const state = node.children ? (node.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    if (node.tooltip) {
      const md = new vscode.MarkdownString(node.tooltip, true);
      // Retry, Explain Access and Open Settings links in failure tooltips; nothing else runs.
      md.isTrusted = { enabledCommands: [...TOOLTIP_COMMANDS] };
      item.tooltip = md;
    }
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
    item.contextValue = node.contextValue;
    if (node.command) item.command = { command: node.command.command, title: node.command.title, arguments: node.command.arguments };
    return item;
  }

  /** Issues an environment's credentials once, when the user first opens it (never in a confirm environment). */
  private issueOnExpand(node: ViewNode): void {
    const environment = node.args?.environment;
    if (typeof environment !== 'string' || !/^environment\.granted(\.active)?$/.test(node.contextValue ?? '') || this.requested.has(environment)) return;
    const d = this.gate.request({ environment, purpose: 'view' });
    if (d.kind !== 'granted') return;
    this.requested.add(environment);
    for (const t of d.grant.targets) this.gate.credential(d.grant, t).catch((e) => this.onError(new Error(`${environment}/${t}: ${errorMessage(e)}`)));
  }

  /** A 5-second tick while the view is visible and something counts down. */
  private tick(): void {
    const live = this.view.visible && this.session() !== undefined && this.gate.credentials.peek().some((c) => c.expiresAt !== undefined);
    if (live && !this.ticker) this.ticker = setInterval(() => this.refresh(), 5000);
    else if (!live && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }
}
