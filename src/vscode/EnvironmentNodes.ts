import * as vscode from 'vscode';
import type { IdentitySession } from '../core/auth/IdentitySession';
import type { CredentialBroker, CredentialInfo } from '../core/credentials/CredentialBroker';
import { decideAccess } from '../core/policy/decideAccess';
import { CREDENTIAL_TARGETS, formatProblem, type CredentialTarget, type Environment } from '../core/policy/Environment';
import { formatRemaining } from '../core/format/countdown';

/** Minutes while there are many (the tree refreshes every few seconds), seconds near the end. */
function timeLeft(ms: number): string {
  return ms >= 120_000 ? `${Math.floor(ms / 60_000)} min left` : `${formatRemaining(ms)} left`;
}
import type { EnvironmentNodesSource, TreeNode } from './EnvironmentsTreeProvider';
import type { EnvironmentsService } from './EnvironmentsService';

export const TARGET_LABEL: Record<CredentialTarget, string> = {
  databricks: 'Databricks token',
  google: 'Google token (ML Spanner)',
  aws: 'AWS session',
};

const SOURCE_LABEL: Record<string, string> = {
  federation: 'token federation',
  sts: 'Google STS',
  impersonation: 'STS + impersonation',
  'assume-role-with-web-identity': 'AssumeRoleWithWebIdentity',
};

function configured(env: Environment, target: CredentialTarget): boolean {
  return target === 'databricks' ? Boolean(env.databricks) : target === 'google' ? Boolean(env.spanner) : Boolean(env.aws);
}

/**
 * Environment and credential nodes: each environment with the access decision, each credential
 * with its state, scopes, source and time left. Expanding a granted environment issues its
 * credentials (they are then "in use" and kept fresh); nothing is issued for denied ones.
 */
export class EnvironmentNodes implements EnvironmentNodesSource {
  private readonly requested = new Set<string>();

  constructor(
    private readonly environments: EnvironmentsService,
    private readonly broker: CredentialBroker,
    private readonly onError: (e: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  nodes(session: IdentitySession): TreeNode[] {
    const { environments, problems } = this.environments.resolution();
    const nodes: TreeNode[] = Object.values(environments).map((env) => this.environmentNode(env, session));
    if (problems.length)
      nodes.push({
        id: 'problems',
        label: `Settings problems (${problems.length})`,
        icon: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
        tooltip: problems.map(formatProblem).join('\n'),
        contextValue: 'problems',
        expanded: true,
        children: () =>
          problems.map((p, i) => ({
            id: `problems/${i}`,
            label: p.message,
            description: p.path,
            tooltip: formatProblem(p),
            icon: new vscode.ThemeIcon('circle-small'),
            command: { command: 'workbench.action.openSettingsJson', title: 'Open Settings (JSON)' },
          })),
      });
    if (!nodes.length)
      nodes.push({
        id: 'no-environments',
        label: 'No environments configured',
        description: 'add mlspanner.environments',
        icon: new vscode.ThemeIcon('info'),
        command: { command: 'workbench.action.openSettings', title: 'Open Settings', arguments: ['mlspanner.environments'] },
      });
    return nodes;
  }

  private environmentNode(env: Environment, session: IdentitySession): TreeNode {
    const decision = decideAccess(env, session.groups);
    const targets = CREDENTIAL_TARGETS.filter((t) => configured(env, t));
    const tip = new vscode.MarkdownString(
      `**${env.name}**${env.chain.length > 1 ? ` (extends ${env.chain.slice(1).join(' → ')})` : ''}\n\n${decision.reason}\n\nCredentials live at most ${env.maxTtlSeconds} s.${decision.confirm ? '\n\nProd-like: every use asks for confirmation and a reason.' : ''}`,
    );
    if (!decision.granted)
      return {
        id: `env/${env.name}`,
        label: env.name,
        description: `denied: ${decision.reason}`,
        tooltip: tip,
        icon: new vscode.ThemeIcon('lock', new vscode.ThemeColor('disabledForeground')),
        contextValue: 'environment.denied',
        args: { environment: env.name },
      };
    return {
      id: `env/${env.name}`,
      label: env.name,
      description: [decision.confirm ? 'confirm' : undefined, targets.length ? `${targets.length} credential${targets.length > 1 ? 's' : ''}` : 'no credentials configured'].filter(Boolean).join(' · '),
      tooltip: tip,
      icon: new vscode.ThemeIcon(decision.confirm ? 'shield' : 'server-environment'),
      contextValue: decision.confirm ? 'environment.granted.confirm' : 'environment.granted',
      args: { environment: env.name },
      children: () => {
        this.ensureIssued(env, targets.filter((t) => decision.targets[t].granted));
        return targets.map((t) => this.credentialNode(env, t, decision.targets[t].granted ? undefined : decision.targets[t].reason));
      },
    };
  }

  /** Issues the credentials of an environment once, when the user first looks at them. */
  private ensureIssued(env: Environment, targets: CredentialTarget[]): void {
    for (const t of targets) {
      const key = `${env.name}/${t}`;
      if (this.requested.has(key)) continue;
      this.requested.add(key);
      this.broker.get(env.name, t).catch((e) => this.onError(e));
    }
  }

  /** Forget what was requested (sign-out): the next look issues again. */
  reset(): void {
    this.requested.clear();
  }

  private credentialNode(env: Environment, target: CredentialTarget, deniedReason: string | undefined): TreeNode {
    const info: CredentialInfo | undefined = this.broker.peek().find((c) => c.environment === env.name && c.target === target);
    const base = { id: `env/${env.name}/${target}`, label: TARGET_LABEL[target], args: { environment: env.name, target } };
    if (deniedReason) return { ...base, description: `denied: ${deniedReason}`, icon: new vscode.ThemeIcon('lock'), contextValue: 'credential.denied' };
    if (!info || (!info.expiresAt && !info.error))
      return { ...base, description: info?.refreshing ? 'issuing…' : 'not issued', icon: new vscode.ThemeIcon(info?.refreshing ? 'loading~spin' : 'key'), contextValue: 'credential.none' };
    const left = info.expiresAt ? info.expiresAt - this.now() : 0;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${TARGET_LABEL[target]}** for **${env.name}**\n\n`);
    md.appendMarkdown(`- Principal: \`${info.principal}\`\n`);
    if (info.source) md.appendMarkdown(`- Source: ${SOURCE_LABEL[info.source] ?? info.source}\n`);
    if (info.scopes?.length) md.appendMarkdown(`- Scopes: ${info.scopes.join(', ')}\n`);
    if (info.expiresAt) md.appendMarkdown(`- Expires: ${new Date(info.expiresAt).toLocaleTimeString()}\n`);
    if (info.fingerprint) md.appendMarkdown(`- Fingerprint: \`${info.fingerprint}\`\n`);
    if (info.error) md.appendMarkdown(`\n$(error) ${info.error}\n`);
    md.supportThemeIcons = true;
    const state = info.refreshing ? 'refreshing…' : info.state === 'failed' ? `failed: ${info.error ?? 'unknown error'}` : info.state === 'expired' ? 'expired' : timeLeft(left);
    const icon =
      info.state === 'failed'
        ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
        : info.state === 'expired'
          ? new vscode.ThemeIcon('key', new vscode.ThemeColor('errorForeground'))
          : info.state === 'expiring'
            ? new vscode.ThemeIcon('key', new vscode.ThemeColor('editorWarning.foreground'))
            : new vscode.ThemeIcon('key', new vscode.ThemeColor('testing.iconPassed'));
    const scopes = info.scopes?.length ? ` · ${info.scopes.join(' ')}` : '';
    return {
      ...base,
      description: `${state}${info.state === 'failed' ? '' : ` · ${info.source ? (SOURCE_LABEL[info.source] ?? info.source) : ''}${scopes}`}`,
      tooltip: md,
      icon,
      contextValue: info.state === 'failed' ? 'credential.failed' : 'credential.active',
    };
  }
}

