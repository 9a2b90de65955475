import type { IdentitySession } from '../auth/IdentitySession';
import type { CredentialInfo } from '../credentials/CredentialBroker';
import { formatRemaining } from '../format/countdown';
import { formatProblem, type Environment } from '../policy/Environment';
import type { AccessGate } from './AccessGate';

/** A codicon id and an optional theme colour id: the shell turns it into a ThemeIcon. */
export interface ViewIcon {
  id: string;
  color?: string;
}

/** A node of the Environments view as plain data: the shell renders it, tests read it. */
export interface ViewNode {
  id: string;
  label: string;
  description?: string;
  /** Markdown (with $(codicon) references). */
  tooltip?: string;
  icon?: ViewIcon;
  /** Drives the `when` clauses of the view's menus. */
  contextValue?: string;
  /** Passed to context-menu commands as the node's `args`. */
  args?: Record<string, unknown>;
  /** Run on click. */
  command?: { command: string; title: string; arguments?: unknown[] };
  children?: ViewNode[];
  expanded?: boolean;
}

/** Minutes while there are many (the view ticks every few seconds), seconds near the end. */
export function timeLeft(ms: number): string {
  return ms >= 120_000 ? `${Math.floor(ms / 60_000)} min left` : `${formatRemaining(ms)} left`;
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function md(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}

function accountNode(s: IdentitySession): ViewNode {
  const groups = s.groups.length ? s.groups.join(', ') : 'none';
  let host = s.issuer;
  try {
    host = new URL(s.issuer).host;
  } catch {
    // keep the issuer as given
  }
  return {
    id: 'account',
    label: s.name,
    description: s.email,
    tooltip: `**${md(s.name)}**${s.email ? ` · ${md(s.email)}` : ''}\n\nIssuer: \`${s.issuer}\`\n\nSubject: \`${s.subject}\`\n\nGroups: ${md(groups)}`,
    icon: { id: 'account' },
    contextValue: 'account',
    expanded: false,
    children: [
      { id: 'account/groups', label: 'Groups', description: groups, icon: { id: 'organization' }, tooltip: md(groups) },
      { id: 'account/issuer', label: 'Identity provider', description: host, icon: { id: 'shield' }, tooltip: md(s.issuer) },
    ],
  };
}

/**
 * The Environments view as the access gate and the issued credentials say it is: the account,
 * every environment with the decision for viewing it, and the credentials of granted ones. O(n):
 * the issued credentials are read once. Building it issues nothing; a `confirm` environment's
 * credentials show as "not issued — Issue…" until the user confirms.
 */
export function environmentView(
  gate: Pick<AccessGate, 'evaluate' | 'targets' | 'credentials'>,
  environments: () => { environments: Readonly<Record<string, Environment>>; problems: { path: string; message: string }[] },
  session: IdentitySession,
  now: number,
  /** The environment in use for this workspace's terminals, tasks and debug sessions. */
  active?: string,
): ViewNode[] {
  const issued = new Map<string, CredentialInfo>();
  for (const c of gate.credentials.peek()) issued.set(`${c.environment}\u0000${c.target}`, c);
  const { environments: envs, problems } = environments();
  const nodes: ViewNode[] = [accountNode(session)];
  for (const env of Object.values(envs)) {
    const node = environmentNode(gate, env, issued, now);
    if (env.name === active) {
      node.description = `in use · ${node.description ?? ''}`;
      node.icon = { id: 'pass-filled', color: 'testing.iconPassed' };
      node.contextValue = `${node.contextValue}.active`;
    }
    nodes.push(node);
  }
  if (problems.length)
    nodes.push({
      id: 'problems',
      label: `Settings problems (${problems.length})`,
      icon: { id: 'warning', color: 'problemsWarningIcon.foreground' },
      tooltip: problems.map((p) => md(formatProblem(p))).join('\n\n'),
      contextValue: 'problems',
      expanded: true,
      children: problems.map((p, i) => ({
        id: `problems/${i}`,
        label: p.message,
        description: p.path,
        tooltip: md(formatProblem(p)),
        icon: { id: 'circle-small' },
        command: { command: 'workbench.action.openSettingsJson', title: 'Open Settings (JSON)' },
      })),
    });
  if (nodes.length === 1)
    nodes.push({
      id: 'no-environments',
      label: 'No environments configured',
      description: 'add mlspanner.environments',
      icon: { id: 'info' },
      command: { command: 'workbench.action.openSettings', title: 'Open Settings', arguments: ['mlspanner.environments'] },
    });
  return nodes;
}

function environmentNode(gate: Pick<AccessGate, 'evaluate' | 'targets'>, env: Environment, issued: Map<string, CredentialInfo>, now: number): ViewNode {
  const d = gate.evaluate({ environment: env.name, purpose: 'view' });
  const chain = env.chain.length > 1 ? ` (extends ${env.chain.slice(1).join(' → ')})` : '';
  const args = { environment: env.name };
  const base = { id: `env/${env.name}`, label: env.name, args };
  if (d.kind === 'denied') {
    const groupDenied = d.decision && !d.decision.granted;
    const short = groupDenied && env.requiredGroups.length && env.definedBy === 'settings' ? `denied · needs ${env.requiredGroups.join(' or ')}` : groupDenied ? 'denied' : 'no credentials configured';
    return {
      ...base,
      description: short,
      tooltip: `**${md(env.name)}**${md(chain)}\n\n${md(d.reason)}`,
      icon: groupDenied ? { id: 'lock', color: 'disabledForeground' } : { id: 'server-environment' },
      contextValue: groupDenied ? 'environment.denied' : 'environment.granted',
    };
  }
  const confirm = d.kind === 'confirm';
  const targets = d.kind === 'granted' ? d.grant.targets : d.targets;
  const children = targets.map((t) => credentialNode(gate, env, t, issued.get(`${env.name}\u0000${t}`), confirm, now));
  return {
    ...base,
    description: [confirm ? 'asks for a reason' : undefined, `${targets.length} credential${targets.length === 1 ? '' : 's'}`].filter(Boolean).join(' · '),
    tooltip: `**${md(env.name)}**${md(chain)}\n\n${md(d.decision.reason)}\n\nCredentials live at most ${env.maxTtlSeconds} s.${confirm ? '\n\nProd-like: every use asks for confirmation and a reason.' : ''}`,
    icon: { id: confirm ? 'shield' : 'server-environment' },
    contextValue: confirm ? 'environment.granted.confirm' : 'environment.granted',
    children,
  };
}

function credentialNode(gate: Pick<AccessGate, 'targets'>, env: Environment, target: string, info: CredentialInfo | undefined, confirm: boolean, now: number): ViewNode {
  const spec = gate.targets.spec(target);
  const base = { id: `env/${env.name}/${target}`, label: spec.label, args: { environment: env.name, target } };
  const sourceLabel = (s?: string) => (s ? (spec.sourceLabels?.[s] ?? s) : '');
  if (!info || (!info.expiresAt && !info.error)) {
    if (info?.refreshing) return { ...base, description: 'issuing…', icon: { id: 'loading~spin' }, contextValue: 'credential.none' };
    return confirm
      ? {
          ...base,
          description: 'not issued — Issue…',
          tooltip: `Not issued yet: ${md(env.name)} asks for a confirmation with a reason first. Click to issue.`,
          icon: { id: 'key' },
          contextValue: 'credential.none.confirm',
          command: { command: 'mlspanner.issueCredentials', title: 'Issue…', arguments: [{ args: { environment: env.name, target } }] },
        }
      : { ...base, description: 'not issued', icon: { id: 'key' }, contextValue: 'credential.none' };
  }
  const lines = [`**${md(spec.label)}** for **${md(env.name)}**`, '', `- Principal: \`${info.principal}\``];
  if (info.source) lines.push(`- Source: ${md(sourceLabel(info.source))}`);
  if (info.scopes?.length) lines.push(`- Scopes: ${info.scopes.map((s) => `\`${s}\``).join(', ')}`);
  if (info.expiresAt) lines.push(`- Expires: ${clock(info.expiresAt)}`);
  if (info.fingerprint) lines.push(`- Fingerprint: \`${info.fingerprint}\``);
  if (info.error) lines.push('', `$(error) ${md(info.error)}`);
  const tooltip = lines.join('\n');
  const live = info.expiresAt !== undefined && info.expiresAt > now;
  if (info.refreshing) return { ...base, description: 'refreshing…', tooltip, icon: { id: 'loading~spin' }, contextValue: 'credential.active' };
  if (info.error && live)
    return {
      ...base,
      description: `refresh failed · valid until ${clock(info.expiresAt!)}`,
      tooltip,
      icon: { id: 'warning', color: 'editorWarning.foreground' },
      contextValue: 'credential.failed',
    };
  if (info.state === 'failed') return { ...base, description: `failed: ${info.error ?? 'unknown error'}`, tooltip, icon: { id: 'error', color: 'errorForeground' }, contextValue: 'credential.failed' };
  if (info.state === 'expired') return { ...base, description: 'expired', tooltip, icon: { id: 'key', color: 'errorForeground' }, contextValue: 'credential.active' };
  return {
    ...base,
    description: `${timeLeft(info.expiresAt! - now)} · ${sourceLabel(info.source)}`,
    tooltip,
    icon: { id: 'key', color: info.state === 'expiring' ? 'editorWarning.foreground' : 'testing.iconPassed' },
    contextValue: 'credential.active',
  };
}
