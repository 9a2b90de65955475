import type { IdentitySession } from '../auth/IdentitySession';
import { formatDuration } from '../format/duration';
import { BUILTIN_TARGETS, type TargetRegistry } from '../targets/TargetRegistry';
import type { AccessDecision, TargetDecision } from './decideAccess';
import { settingPath, type Environment, type ValueOrigin } from './Environment';

export { formatDuration };

/** The part of a session explain-access shows; undefined when signed out. */
export type ExplainSession = Pick<IdentitySession, 'issuer' | 'subject' | 'name' | 'groups'>;

function code(v: unknown): string {
  const text = Array.isArray(v) ? v.join(', ') : String(v);
  return '`' + text.replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
}

function origin(o: ValueOrigin | undefined): string {
  switch (o?.kind) {
    case 'own':
      return 'set in this environment';
    case 'inherited':
      return `inherited from ${code(o.from)}`;
    case 'bundle':
      return `from the bundle (${code(o.source)})`;
    case 'default':
      return 'default';
    default:
      return 'unknown';
  }
}

function verdict(d: TargetDecision): string {
  return d.granted ? 'granted' : 'denied';
}

function flatten(env: Environment, registry: TargetRegistry): [string, unknown][] {
  const rows: [string, unknown][] = [];
  const top: [string, unknown][] = [
    ['requiredGroups', env.requiredGroups],
    ['confirm', env.confirm],
    ['maxTtlSeconds', env.maxTtlSeconds],
  ];
  rows.push(...top);
  for (const { section } of registry.all()) {
    const s = env.sections[section];
    if (s) for (const [k, v] of Object.entries(s)) rows.push([`${section}.${k}`, v]);
  }
  return rows;
}

/**
 * A Markdown document answering "what can I get in this environment, why, for how long, and
 * which of my tokens goes where": the effective definition after `extends`, the origin of every
 * value, the decision per credential (the access gate's policy decision for the session's
 * groups), TTL caps and the token flow to each endpoint, for every registered target.
 */
export function explainAccess(env: Environment, session: ExplainSession | undefined, decision: AccessDecision, registry: TargetRegistry = BUILTIN_TARGETS): string {
  const out: string[] = [];
  out.push(`# Access to ${code(env.name)}`, '');
  if (env.chain.length > 1) out.push(`Inherits: ${env.chain.map(code).join(' → ')} (later values are overridden by earlier ones).`, '');
  if (session) {
    out.push(`Signed in as **${session.name || session.subject}** (subject ${code(session.subject)}, issuer ${code(session.issuer)}).`);
    out.push(`Your groups: ${session.groups.length ? session.groups.map(code).join(', ') : 'none'}.`, '');
  } else {
    out.push('**Not signed in**: every credential is denied until you sign in (command *ML Spanner: Sign In*).', '');
  }
  out.push(
    `**Environment access: ${session ? (decision.granted ? 'granted' : 'denied') : 'denied'}**: ${session ? decision.reason : 'not signed in'}.`,
    `Confirmation before use: ${env.confirm ? 'required (you give a reason, which goes into the access log)' : 'not required'}.`,
    `Every credential lives at most ${formatDuration(env.maxTtlSeconds)} (\`maxTtlSeconds\` ${env.maxTtlSeconds}), even when the service would issue a longer one.`,
    '',
  );

  out.push('## Credentials', '');
  const status = (t: TargetDecision) => (session ? `**${verdict(t)}**: ${t.reason}` : '**denied**: not signed in');
  for (const spec of registry.all()) {
    const d = decision.targets[spec.id];
    const settings = env.sections[spec.section];
    if (!settings || !d) {
      out.push(`### ${spec.service}: not configured`, '', `- ${d?.reason ?? `set ${settingPath(env.name, spec.section, spec.keyField)}`}.`, '');
      continue;
    }
    out.push(`### ${spec.service}: ${session ? verdict(d) : 'denied'}`, '', `- ${status(d)}.`, ...spec.explain(settings, env, d.ttlCapSeconds).map((l: string) => `- ${l}`), '');
  }

  out.push('## Effective definition', '', '| Setting | Value | Comes from |', '| --- | --- | --- |');
  for (const [key, value] of flatten(env, registry)) {
    out.push(`| ${code(settingPath(env.name, key))} | ${code(JSON.stringify(value) ?? '')} | ${origin(env.origins[key])} |`);
  }
  out.push('', 'Tokens are kept in memory only; the access log records fingerprints (`sha256:…`), never tokens.', '');
  return out.join('\n');
}
