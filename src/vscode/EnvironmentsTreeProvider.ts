import * as vscode from 'vscode';
import type { IdentitySession } from '../core/auth/IdentitySession';

/** A node of the Environments view. Kinds map to `contextValue` for the `when` clauses of menus. */
export interface TreeNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string | vscode.MarkdownString;
  icon?: vscode.ThemeIcon;
  contextValue?: string;
  command?: vscode.Command;
  children?: () => TreeNode[];
  expanded?: boolean;
  /** Arguments passed to context-menu commands. */
  args?: Record<string, unknown>;
}

/** The part of the environments model the tree renders (the account comes from the session). */
export interface EnvironmentNodesSource {
  nodes(session: IdentitySession): TreeNode[];
}

function accountNode(s: IdentitySession): TreeNode {
  const groups = s.groups.length ? s.groups.join(', ') : 'none';
  const tip = new vscode.MarkdownString(`**${s.name}**${s.email ? ` · ${s.email}` : ''}\n\nIssuer: \`${s.issuer}\`\n\nSubject: \`${s.subject}\`\n\nGroups: ${groups}`);
  return {
    id: 'account',
    label: s.name,
    description: s.email,
    tooltip: tip,
    icon: new vscode.ThemeIcon('account'),
    contextValue: 'account',
    expanded: false,
    children: () => [
      { id: 'account/groups', label: 'Groups', description: groups, icon: new vscode.ThemeIcon('organization'), tooltip: groups },
      { id: 'account/issuer', label: 'Identity provider', description: new URL(s.issuer).host, icon: new vscode.ThemeIcon('shield'), tooltip: s.issuer },
    ],
  };
}

/** Renders the signed-in account and, through the source, environments and their credentials. */
export class EnvironmentsTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly session: () => IdentitySession | undefined,
    private readonly environments?: EnvironmentNodesSource,
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (node) return node.children?.() ?? [];
    const s = this.session();
    if (!s) return []; // the welcome view with Sign In shows instead
    return [accountNode(s), ...(this.environments?.nodes(s) ?? [])];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const state = node.children ? (node.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.iconPath = node.icon;
    item.contextValue = node.contextValue;
    item.command = node.command;
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
