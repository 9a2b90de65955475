import type { IdentitySession } from '../auth/IdentitySession';
import type { CredentialFailure, CredentialInfo } from '../credentials/CredentialBroker';
import { formatRemaining } from '../format/countdown';
import { formatProblem, type Environment } from '../policy/Environment';
import { redact, redactMemo } from '../redact';
import type { AccessGate } from './AccessGate';
import { clock, clockSeconds, failureReason, failureSubject, type FailureSubject } from './refreshFailure';

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

/** Commands the view's Markdown tooltips may run (the shell trusts exactly these). */
export const TOOLTIP_COMMANDS = ['mlspanner.refreshCredentials', 'mlspanner.explainAccess', 'workbench.action.openSettings'] as const;

/** The sign-in session's own refresh is failing: the identity provider did not renew it. */
export interface SessionRefreshProblem {
  /** What the session said (redacted here again before it is shown). */
  message: string;
  /** When the session's tokens expire (epoch ms). */
  expiresAt: number;
}

function md(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}

/** Inline code that cannot be broken out of. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function commandLink(title: string, command: string, args: unknown[]): string {
  return `[${title}](command:${command}?${encodeURIComponent(JSON.stringify(args))})`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url; // keep it as given
  }
}

function accountNode(s: IdentitySession, now: number, problem?: SessionRefreshProblem): ViewNode {
  const groups = s.groups.length ? s.groups.join(', ') : 'none';
  const host = hostOf(s.issuer);
  const tooltip = [`**${md(s.name)}**${s.email ? ` · ${md(s.email)}` : ''}`, `Issuer: \`${s.issuer}\``, `Subject: \`${s.subject}\``, `Groups: ${md(groups)}`];
  const node: ViewNode = {
    id: 'account',
    label: s.name,
    description: s.email,
    icon: { id: 'account' },
    contextValue: 'account',
    expanded: false,
    children: [
      { id: 'account/groups', label: 'Groups', description: groups, icon: { id: 'organization' }, tooltip: md(groups) },
      { id: 'account/issuer', label: 'Identity provider', description: host, icon: { id: 'shield' }, tooltip: md(s.issuer) },
    ],
  };
  if (problem) {
    const live = problem.expiresAt > now;
    node.description = live ? `refresh failed · valid until ${clock(problem.expiresAt)}` : 'refresh failed · expired';
    node.icon = live ? { id: 'warning', color: 'editorWarning.foreground' } : { id: 'error', color: 'errorForeground' };
    node.contextValue = 'account.refreshFailed';
    tooltip.unshift(
      `$(${live ? 'warning' : 'error'}) **The sign-in session could not be renewed** by the identity provider at ${code(host)}.`,
      md(redact(problem.message)),
      live
        ? `It stays valid until ${clock(problem.expiresAt)}; after that no credential can be issued or refreshed until it is renewed. It is retried automatically.`
        : `It expired at ${clock(problem.expiresAt)}: no credential can be issued or refreshed until it is renewed. It is retried automatically.`,
      `${commandLink('$(refresh) Retry now', 'mlspanner.refreshCredentials', [])}`,
      '---',
    );
  }
  node.tooltip = tooltip.join('\n\n');
  return node;
}

/** Which top-level rows differ between two builds: `'all'` when the rows themselves changed (added, removed, moved). */
export function changedRoots(before: readonly ViewNode[], after: readonly ViewNode[]): 'all' | string[] {
  if (before.length !== after.length || before.some((n, i) => n.id !== after[i].id)) return 'all';
  return after.filter((n, i) => JSON.stringify(n) !== JSON.stringify(before[i])).map((n) => n.id);
}

/**
 * The Environments view as the access gate and the issued credentials say it is: the account,
 * every environment with the decision for viewing it, and the credentials of granted ones. O(n):
 * the issued credentials are read once. Building it issues nothing; a `confirm` environment's
 * credentials show as "not issued — Issue…" until the user confirms. A failed issue or refresh
 * shows on its row (short) and in its tooltip (what, where, when the next retry is); a failed
 * renewal of the sign-in session shows on the account row and the environments.
 */
export function environmentView(
  gate: Pick<AccessGate, 'evaluate' | 'targets' | 'credentials'>,
  environments: () => { environments: Readonly<Record<string, Environment>>; problems: { path: string; message: string }[] },
  session: IdentitySession,
  now: number,
  /** The environment in use for this workspace's terminals, tasks and debug sessions. */
  active?: string,
  /** The sign-in session's refresh is failing. */
  sessionProblem?: SessionRefreshProblem,
): ViewNode[] {
  const issued = new Map<string, CredentialInfo>();
  for (const c of gate.credentials.peek()) issued.set(`${c.environment}\u0000${c.target}`, c);
  const { environments: envs, problems } = environments();
  const nodes: ViewNode[] = [accountNode(session, now, sessionProblem)];
  for (const env of Object.values(envs)) {
    const node = environmentNode(gate, env, issued, now, session.issuer, sessionProblem);
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

function environmentNode(
  gate: Pick<AccessGate, 'evaluate' | 'targets'>,
  env: Environment,
  issued: Map<string, CredentialInfo>,
  now: number,
  issuer: string,
  sessionProblem: SessionRefreshProblem | undefined,
): ViewNode {
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
  const children = targets.map((t) => credentialNode(gate, env, t, issued.get(`${env.name}\u0000${t}`), confirm, now, issuer));
  const failed = targets.filter((t) => issued.get(`${env.name}\u0000${t}`)?.lastError).length;
  const tooltip = [`**${md(env.name)}**${md(chain)}`, md(d.decision.reason), `Credentials live at most ${env.maxTtlSeconds} s.`];
  if (confirm) tooltip.push('Prod-like: every use asks for confirmation and a reason.');
  if (failed) tooltip.push(`$(warning) ${failed === 1 ? 'One credential' : `${failed} credentials`} could not be refreshed: see ${failed === 1 ? 'its row' : 'their rows'}.`);
  if (sessionProblem) tooltip.push('$(warning) The sign-in session could not be renewed: credentials here cannot be issued or refreshed until it is (see the account row).');
  return {
    ...base,
    description: [
      confirm ? (d.kind === 'confirm' && d.hosts?.length ? 'asks to trust a host' : 'asks for a reason') : undefined,
      `${targets.length} credential${targets.length === 1 ? '' : 's'}`,
      failed ? (targets.length === 1 ? 'refresh failed' : `${failed} of ${targets.length} refresh failed`) : undefined,
      sessionProblem ? 'sign-in not renewed' : undefined,
    ]
      .filter(Boolean)
      .join(' · '),
    tooltip: tooltip.join('\n\n'),
    icon: failed || sessionProblem ? { id: 'warning', color: 'editorWarning.foreground' } : { id: confirm ? 'shield' : 'server-environment' },
    contextValue: confirm ? 'environment.granted.confirm' : 'environment.granted',
    children,
  };
}

/** Tooltip paragraphs about a failure: what happened, where, when, the token's state, the next try, and links. */
function failureTooltip(f: FailureSubject, now: number): string[] {
  const { info } = f;
  const e = info.lastError;
  const issuedBefore = info.expiresAt !== undefined;
  const live = issuedBefore && info.expiresAt! > now;
  const where = e.stage === 'identity' ? `renewing the sign-in session at ${f.host ? code(f.host) : 'the identity provider'}` : `the token exchange with ${md(f.service)}${f.host ? ` at ${code(f.host)}` : ''}`;
  const out = [
    `$(${live ? 'warning' : 'error'}) **${issuedBefore ? 'Refresh' : 'Issue'} failed** at ${clockSeconds(e.at)}${e.attempts > 1 ? ` (attempt ${e.attempts}, failing since ${clockSeconds(e.since)})` : ''}: ${where}.`,
    md(e.message),
  ];
  if (e.action) out.push(`*${md(e.action)}*`);
  if (issuedBefore) out.push(live ? `The token in hand stays valid until ${clock(info.expiresAt!)}.` : `The token expired at ${clock(info.expiresAt!)}.`);
  out.push(e.nextAttemptAt !== undefined ? `Next automatic retry at ${clockSeconds(e.nextAttemptAt)}.` : 'No automatic retry is planned: use Retry.');
  const links = [commandLink('$(refresh) Retry', 'mlspanner.refreshCredentials', [{ args: { environment: info.environment, target: info.target } }])];
  if (f.setting) links.push(commandLink('$(gear) Open Settings', 'workbench.action.openSettings', [f.setting]));
  links.push(commandLink('$(question) Explain Access', 'mlspanner.explainAccess', [{ args: { environment: info.environment } }]));
  out.push(links.join(' · '));
  return out;
}

function credentialNode(gate: Pick<AccessGate, 'targets'>, env: Environment, target: string, info: CredentialInfo | undefined, confirm: boolean, now: number, issuer: string): ViewNode {
  const spec = gate.targets.spec(target);
  const base = { id: `env/${env.name}/${target}`, label: spec.label, args: { environment: env.name, target } };
  const sourceLabel = (s?: string) => (s ? (spec.sourceLabels?.[s] ?? s) : '');
  const failure = info?.lastError ? failureSubject(info as CredentialInfo & { lastError: CredentialFailure }, gate.targets, env, issuer) : undefined;
  if (!info || (!info.expiresAt && !info.error && !failure)) {
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
  const lines = [`**${md(spec.label)}** for **${md(env.name)}**`];
  if (failure) lines.push(...failureTooltip(failure, now), '---');
  const facts = [`- Principal: \`${info.principal}\``];
  if (info.source) facts.push(`- Source: ${md(sourceLabel(info.source))}`);
  if (info.scopes?.length) facts.push(`- Scopes: ${info.scopes.map((s) => `\`${s}\``).join(', ')}`);
  if (info.expiresAt) facts.push(`- Expires: ${clock(info.expiresAt)}`);
  if (info.fingerprint) facts.push(`- Fingerprint: \`${info.fingerprint}\``);
  lines.push(facts.join('\n'));
  if (info.error && !failure) lines.push(`$(error) ${md(redact(info.error))}`);
  // Nothing token-shaped reaches the view, whatever a service put in an error.
  const tooltip = redactMemo(lines.join('\n\n'));
  const live = info.expiresAt !== undefined && info.expiresAt > now;
  if (info.refreshing)
    return {
      ...base,
      description: failure ? `retrying… · ${live ? `valid until ${clock(info.expiresAt!)}` : info.expiresAt ? 'expired' : failureReason(failure.info.lastError, failure.service)}` : 'refreshing…',
      tooltip,
      icon: { id: 'loading~spin' },
      contextValue: live ? 'credential.active' : 'credential.failed',
    };
  if (failure || info.error) {
    if (live)
      return {
        ...base,
        description: `refresh failed · valid until ${clock(info.expiresAt!)}`,
        tooltip,
        icon: { id: 'warning', color: 'editorWarning.foreground' },
        // Still a usable credential: it can be revoked as well as retried.
        contextValue: 'credential.active.failed',
      };
    const reason = failure ? failureReason(failure.info.lastError, failure.service) : 'see the tooltip';
    return {
      ...base,
      description: info.expiresAt !== undefined ? 'refresh failed · expired' : `failed · ${reason}`,
      tooltip,
      icon: { id: 'error', color: 'errorForeground' },
      contextValue: 'credential.failed',
    };
  }
  if (info.state === 'expired') return { ...base, description: 'expired', tooltip, icon: { id: 'key', color: 'errorForeground' }, contextValue: 'credential.active' };
  return {
    ...base,
    description: `${timeLeft(info.expiresAt! - now)} · ${sourceLabel(info.source)}`,
    tooltip,
    icon: { id: 'key', color: info.state === 'expiring' ? 'editorWarning.foreground' : 'testing.iconPassed' },
    contextValue: 'credential.active',
  };
}

/** A device-code sign-in in progress: what the view shows in place of the welcome. */
export interface PendingDeviceCode {
  userCode: string;
  verificationUri: string;
  /** When the code stops working (epoch ms), when known. */
  expiresAt?: number;
}

/**
 * While a device-code sign-in waits, the Environments view shows the code itself, where to enter
 * it, and Copy Code / Open Sign-In Page / Cancel as rows: a welcome view cannot show a value, and
 * the view title's description is hidden when the sidebar shows one view.
 */
export function deviceCodeView(p: PendingDeviceCode, now: number): ViewNode[] {
  let where = p.verificationUri;
  try {
    where = new URL(p.verificationUri).host;
  } catch {
    // shown as given
  }
  const left = p.expiresAt !== undefined ? ` · valid ${timeLeft(Math.max(0, p.expiresAt - now)).replace(/ left$/, '')}` : '';
  return [
    {
      id: 'device.code',
      label: p.userCode,
      description: `your sign-in code${left}`,
      tooltip: `Enter **${md(p.userCode)}** at ${md(p.verificationUri)}, on this or any other device, and approve the sign-in there. Click to copy the code.`,
      icon: { id: 'key' },
      contextValue: 'device.code',
      command: { command: 'mlspanner.copySignInUrl', title: 'Copy Code' },
    },
    {
      id: 'device.open',
      label: 'Open Sign-In Page',
      description: where,
      tooltip: md(p.verificationUri),
      icon: { id: 'link-external' },
      contextValue: 'device.open',
      command: { command: 'mlspanner.openSignInPageAgain', title: 'Open Sign-In Page' },
    },
    { id: 'device.copy', label: 'Copy Code', icon: { id: 'copy' }, contextValue: 'device.copy', command: { command: 'mlspanner.copySignInUrl', title: 'Copy Code' } },
    { id: 'device.cancel', label: 'Cancel Sign-In', icon: { id: 'close' }, contextValue: 'device.cancel', command: { command: 'mlspanner.cancelSignIn', title: 'Cancel Sign-In' } },
  ];
}
