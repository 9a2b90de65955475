import type { IdentitySession, SubjectTokenKind } from '../auth/IdentitySession';
import { decideAccess, type TargetDecision } from './decideAccess';
import { settingPath, type Environment, type ValueOrigin } from './Environment';

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

function tokenName(kind: SubjectTokenKind): string {
  return kind === 'idToken' ? 'ID token' : 'access token';
}

export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function verdict(d: TargetDecision): string {
  return d.granted ? 'granted' : 'denied';
}

function flatten(env: Environment): [string, unknown][] {
  const rows: [string, unknown][] = [];
  const top: [string, unknown][] = [
    ['requiredGroups', env.requiredGroups],
    ['confirm', env.confirm],
    ['maxTtlSeconds', env.maxTtlSeconds],
  ];
  rows.push(...top);
  for (const section of ['databricks', 'spanner', 'aws'] as const) {
    const s = env[section];
    if (s) for (const [k, v] of Object.entries(s)) rows.push([`${section}.${k}`, v]);
  }
  return rows;
}

/**
 * A Markdown document answering "what can I get in this environment, why, for how long, and
 * which of my tokens goes where": the effective definition after `extends`, the origin of every
 * value, the decision per credential, TTL caps and the token flow to each endpoint.
 */
export function explainAccess(env: Environment, session: ExplainSession | undefined): string {
  const decision = decideAccess(env, session?.groups ?? []);
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
  const d = decision.targets;
  const status = (t: TargetDecision) => (session ? `**${verdict(t)}**: ${t.reason}` : '**denied**: not signed in');
  if (env.databricks) {
    const s = env.databricks;
    out.push(
      `### Databricks: ${session ? verdict(d.databricks) : 'denied'}`,
      '',
      `- ${status(d.databricks)}.`,
      `- Lifetime: at most ${formatDuration(d.databricks.ttlCapSeconds)}; refreshed with at least 60 s to spare (the workspace rejects tokens in their last 30 s).`,
      `- Your IdP **${tokenName(s.subjectToken)}** is sent to the workspace token endpoint found at ${code(s.host + '/oidc/.well-known/oauth-authorization-server')} (normally ${code(s.host + '/oidc/v1/token')}) in an RFC 8693 token exchange, scopes ${code(s.scopes.join(' '))}${s.clientId ? `, service principal ${code(s.clientId)}` : ''}.`,
      `- The Databricks token is sent only to ${code(s.host)}.`,
      '',
    );
  } else out.push(`### Databricks: not configured`, '', `- ${d.databricks.reason}.`, '');
  if (env.spanner) {
    const s = env.spanner;
    out.push(
      `### Google (ML Spanner): ${session ? verdict(d.google) : 'denied'}`,
      '',
      `- ${status(d.google)}.`,
      `- Lifetime: at most ${formatDuration(d.google.ttlCapSeconds)}${s.serviceAccount ? ` (impersonation asks for ${Math.min(d.google.ttlCapSeconds, 3600)} s)` : ''}.`,
      `- Your IdP **${tokenName(s.subjectToken)}** is sent to Google STS ${code(s.stsEndpoint + '/v1/token')} with audience ${code(s.workloadIdentityAudience)}.`,
      s.serviceAccount
        ? `- The STS token is sent to ${code(`${s.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${s.serviceAccount}:generateAccessToken`)} to impersonate ${code(s.serviceAccount)}.`
        : '- The STS token is used directly (no service account impersonation).',
      `- The Google token is sent only to ${code(s.endpoint)} for database ${code(`projects/${s.project}/instances/${s.instance}/databases/${s.database}`)}.`,
      '',
    );
  } else out.push(`### Google (ML Spanner): not configured`, '', `- ${d.google.reason}.`, '');
  if (env.aws) {
    const s = env.aws;
    out.push(
      `### AWS: ${session ? verdict(d.aws) : 'denied'}`,
      '',
      `- ${status(d.aws)}.`,
      `- Lifetime: at most ${formatDuration(d.aws.ttlCapSeconds)} (AWS issues at least 15 min; a shorter cap is enforced by expiring the session early).`,
      `- Your IdP **${tokenName(s.subjectToken)}** is sent to AWS STS ${code(s.stsEndpoint)} (AssumeRoleWithWebIdentity) for role ${code(s.roleArn)}${s.region ? ` in ${code(s.region)}` : ''}.`,
      '',
    );
  } else out.push(`### AWS: not configured`, '', `- ${d.aws.reason}.`, '');

  out.push('## Effective definition', '', '| Setting | Value | Comes from |', '| --- | --- | --- |');
  for (const [key, value] of flatten(env)) {
    out.push(`| ${code(settingPath(env.name, key))} | ${code(JSON.stringify(value) ?? '')} | ${origin(env.origins[key])} |`);
  }
  out.push('', 'Tokens are kept in memory only; the access log records fingerprints (`sha256:…`), never tokens.', '');
  return out.join('\n');
}
