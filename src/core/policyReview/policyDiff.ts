import { formatDuration } from '../format/duration';
import type { CredentialTarget, EnvironmentResolution } from '../policy/Environment';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import { ANY_USER, policySubjects, reaches, subjectCells, type IdentityMapping, type MatrixCell, type Subject } from './accessMatrix';
import { mdCode, mdText } from './renderMatrix';

export type ChangeDirection = 'widened' | 'narrowed';

/**
 * What changed for one group set, environment and credential:
 * - access: it is reached now and was not, or the reverse;
 * - confirm: a confirmation (with a reason in the access log) is no longer asked, or now is;
 * - ttl: the longest lifetime grew or shrank;
 * - identity: the credential acts as another principal (a role, service account, workspace);
 * - endpoint: tokens go to another host.
 * A new principal or host counts as widened: nothing here can tell that it may do less.
 */
export type ChangeKind = 'access' | 'confirm' | 'ttl' | 'identity' | 'endpoint';

export interface PolicyChange {
  direction: ChangeDirection;
  kind: ChangeKind;
  subject: Subject;
  environment: string;
  target: CredentialTarget;
  /** The cell before and after (absent where the environment did not or does not exist). */
  before?: MatrixCell;
  after?: MatrixCell;
  /** "ml-dev now reaches prod Databricks". */
  message: string;
  /** The message with `{credential}` for the service: changes alike for several credentials read as one line. */
  template: string;
}

const SLOT = '{credential}';

function describeIdentity(id: IdentityMapping | undefined): string {
  return id ? id.principal : 'nothing';
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

function fieldsKey(id: IdentityMapping | undefined): string {
  return JSON.stringify(id ? [id.principal, id.fields] : null);
}

/**
 * The decision diff between two policies over every group either names (each alone) and no
 * group: what a member of each now reaches that they did not (widened), and what they lost
 * (narrowed). Group sets need not be checked: membership is any-of, so a set reaches exactly
 * what its groups reach one by one. A change that every signed-in user gets is reported once,
 * for "any signed-in user", not again for each group.
 */
export function policyDiff(before: EnvironmentResolution, after: EnvironmentResolution, registry: TargetRegistry = BUILTIN_TARGETS): PolicyChange[] {
  const service = (t: CredentialTarget) => registry.get(t)?.service ?? t;
  const changes: PolicyChange[] = [];
  const subjects = policySubjects(before, after);
  for (const subject of subjects) {
    const key = (c: MatrixCell) => `${c.environment}\u0000${c.target}`;
    const was = new Map(subjectCells(before, subject.groups, registry).map((c) => [key(c), c]));
    const now = new Map(subjectCells(after, subject.groups, registry).map((c) => [key(c), c]));
    for (const k of new Set([...was.keys(), ...now.keys()])) {
      const b = was.get(k);
      const a = now.get(k);
      const cell = (a ?? b)!;
      const where = `${cell.environment} ${SLOT}`;
      const who = subject.label;
      const push = (direction: ChangeDirection, kind: ChangeKind, template: string) =>
        changes.push({ direction, kind, subject, environment: cell.environment, target: cell.target, before: b, after: a, template, message: template.split(SLOT).join(service(cell.target)) });
      const reachedBefore = b !== undefined && reaches(b.verdict);
      const reachesNow = a !== undefined && reaches(a.verdict);
      if (!reachedBefore && reachesNow) {
        push('widened', 'access', `${who} now reaches ${where}${a.verdict === 'confirm' ? ' (after a confirmation)' : ''}`);
        continue;
      }
      if (reachedBefore && !reachesNow) {
        push('narrowed', 'access', `${who} no longer reaches ${where}`);
        continue;
      }
      if (!reachedBefore || !a || !b) continue;
      if (b.verdict === 'confirm' && a.verdict === 'granted') push('widened', 'confirm', `${who} reaches ${where} without a confirmation now`);
      else if (b.verdict === 'granted' && a.verdict === 'confirm') push('narrowed', 'confirm', `${who} must confirm with a reason before using ${where} now`);
      if (a.ttlCapSeconds > b.ttlCapSeconds) push('widened', 'ttl', `${where} credentials for ${who} live up to ${formatDuration(a.ttlCapSeconds)} now (was ${formatDuration(b.ttlCapSeconds)})`);
      else if (a.ttlCapSeconds < b.ttlCapSeconds) push('narrowed', 'ttl', `${where} credentials for ${who} live at most ${formatDuration(a.ttlCapSeconds)} now (was ${formatDuration(b.ttlCapSeconds)})`);
      if (fieldsKey(a.identity) !== fieldsKey(b.identity)) {
        if (a.identity?.principal !== b.identity?.principal) push('widened', 'identity', `${who} reaches ${where} as ${describeIdentity(a.identity)} now (was ${describeIdentity(b.identity)})`);
        else push(onlyFewerScopes(b.identity, a.identity) ? 'narrowed' : 'widened', 'identity', `${where} for ${who}: ${describeFieldChange(b.identity, a.identity)}`);
      }
      // A new principal usually brings its own host (a workspace): one change says both.
      else if (!sameList(a.identity?.endpoints, b.identity?.endpoints)) {
        const added = (a.identity?.endpoints ?? []).filter((e) => !(b.identity?.endpoints ?? []).includes(e));
        if (added.length) push('widened', 'endpoint', `${where} tokens for ${who} are sent to ${added.join(', ')} now`);
      }
    }
  }
  return collapseEveryone(changes);
}

/** True when the only difference is a scope list that lost entries (and gained none). */
function onlyFewerScopes(b: IdentityMapping | undefined, a: IdentityMapping | undefined): boolean {
  const was = new Map((b?.fields ?? []).map((f) => [f.key, f.value]));
  const now = new Map((a?.fields ?? []).map((f) => [f.key, f.value]));
  const changed = [...new Set([...was.keys(), ...now.keys()])].filter((k) => was.get(k) !== now.get(k));
  return changed.every((k) => {
    if (!k.endsWith('.scopes') || was.get(k) === undefined || now.get(k) === undefined) return false;
    const before = new Set(was.get(k)!.split(' '));
    return now.get(k)!.split(' ').every((x) => before.has(x));
  });
}

function describeFieldChange(b: IdentityMapping | undefined, a: IdentityMapping | undefined): string {
  const was = new Map((b?.fields ?? []).map((f) => [f.key, f.value]));
  const now = new Map((a?.fields ?? []).map((f) => [f.key, f.value]));
  const parts: string[] = [];
  for (const k of new Set([...was.keys(), ...now.keys()])) {
    if (was.get(k) !== now.get(k)) parts.push(`${k}: ${was.get(k) ?? 'unset'} → ${now.get(k) ?? 'unset'}`);
  }
  return parts.join('; ');
}

/** A change that "any signed-in user" has is not repeated for every group that has it too. */
function collapseEveryone(changes: PolicyChange[]): PolicyChange[] {
  const sig = (c: PolicyChange) => JSON.stringify([c.direction, c.kind, c.environment, c.target, c.before?.verdict, c.after?.verdict, c.before?.ttlCapSeconds, c.after?.ttlCapSeconds]);
  const everyone = new Set(changes.filter((c) => c.subject.label === ANY_USER).map(sig));
  return changes.filter((c) => c.subject.label === ANY_USER || !everyone.has(sig(c)));
}

/**
 * One line per change, changes alike for several credentials of an environment joined:
 * "ml-dev now reaches prod Databricks, AWS". Widened first.
 */
export function summarizeChanges(changes: readonly PolicyChange[], registry: TargetRegistry = BUILTIN_TARGETS): { direction: ChangeDirection; text: string }[] {
  const groups = new Map<string, { direction: ChangeDirection; template: string; services: string[] }>();
  for (const c of [...widenings(changes), ...changes.filter((x) => x.direction === 'narrowed')]) {
    const key = `${c.direction}\u0000${c.template}`;
    const g = groups.get(key) ?? { direction: c.direction, template: c.template, services: [] };
    g.services.push(registry.get(c.target)?.service ?? c.target);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ direction: g.direction, text: g.template.split(SLOT).join(g.services.join(', ')) }));
}

export function widenings(changes: readonly PolicyChange[]): PolicyChange[] {
  return changes.filter((c) => c.direction === 'widened');
}

/** The diff as Markdown: widened first (what a reviewer must look at), then narrowed. */
export function policyDiffToMarkdown(changes: readonly PolicyChange[], options: { title?: string; before?: string; after?: string } = {}): string {
  const out = [`# ${options.title ?? 'Access policy change'}`, ''];
  if (options.before || options.after) out.push(`From ${mdText(options.before ?? 'the previous policy')} to ${mdText(options.after ?? 'the new policy')}.`, '');
  if (!changes.length) {
    out.push('No access decision changed: every group gets the same credentials, confirmations and lifetimes as before.', '');
    return out.join('\n');
  }
  const section = (title: string, list: readonly PolicyChange[]) => {
    if (!list.length) return;
    out.push(`## ${title} (${list.length})`, '', '| Who | Environment | Credential | Change | Before | After |', '| --- | --- | --- | --- | --- | --- |');
    for (const c of list) out.push(`| ${mdText(c.subject.label)} | ${mdCode(c.environment)} | ${mdText(c.target)} | ${mdText(c.message)} | ${state(c.before)} | ${state(c.after)} |`);
    out.push('');
  };
  section('Widened', widenings(changes));
  section(
    'Narrowed',
    changes.filter((c) => c.direction === 'narrowed'),
  );
  return out.join('\n');
}

function state(c: MatrixCell | undefined): string {
  if (!c) return '— no such environment';
  if (!c.configured) return '— not configured';
  if (c.verdict === 'denied') return 'denied';
  return `${c.verdict} · ${formatDuration(c.ttlCapSeconds)}${c.identity ? ` · ${mdCode(c.identity.principal)}` : ''}`;
}

/** The diff as plain lines for a terminal or the access log: "+ widened: …", "- narrowed: …". */
export function policyDiffToText(changes: readonly PolicyChange[]): string {
  if (!changes.length) return 'No access decision changed.\n';
  const lines = summarizeChanges(changes).map((l) => (l.direction === 'widened' ? `+ widened: ${l.text}` : `- narrowed: ${l.text}`));
  const w = widenings(changes).length;
  lines.push('', `${w} decision${w === 1 ? '' : 's'} widened, ${changes.length - w} narrowed.`);
  return lines.join('\n') + '\n';
}
