import type { IdentitySession } from '../auth/IdentitySession';
import { OidcClient, validateIssuer, type OidcApi } from '../auth/OidcClient';
import { SessionManager, type IdpSettings } from '../auth/SessionManager';
import type { VerifyResult } from '../audit/AccessLog';
import { errorMessage } from '../errors';
import type { AccessGate } from '../access/AccessGate';
import { formatProblem, type EnvironmentResolution } from '../policy/Environment';
import { describeProxy, type ProxyInputs } from './proxy';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  area: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warning or failure. */
  action?: string;
}

export interface DoctorDeps {
  idp: IdpSettings;
  session: IdentitySession | undefined;
  environments: EnvironmentResolution;
  /** Decides and issues: the doctor checks credentials only where the gate grants them without asking. */
  gate: Pick<AccessGate, 'evaluate' | 'credential' | 'targets'>;
  verifyAccessLog: () => Promise<VerifyResult>;
  workspaceTrusted: boolean;
  discover?: (s: IdpSettings) => Promise<OidcApi & { deviceFlowSupported: boolean; revocationSupported: boolean }>;
  /** VS Code's proxy settings and the extension host's environment: the doctor names the proxy. */
  proxy?: ProxyInputs;
  now?: () => number;
}

/**
 * Checks everything between the user and a working credential, in the order it is needed:
 * settings, the identity provider, the client registration, the session and its groups, each
 * environment and credential, and the access log. Never throws: every failure is a result.
 */
export async function runDiagnostics(deps: DoctorDeps): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const now = deps.now ?? Date.now;
  const { idp } = deps;

  let idpOk = false;
  if (!idp.issuer || !idp.clientId) {
    out.push({ area: 'Settings', status: 'fail', message: 'mlspanner.idp.issuer and mlspanner.idp.clientId must both be set.', action: 'Enter your identity provider in the settings.' });
  } else {
    try {
      validateIssuer(idp.issuer);
      out.push({ area: 'Settings', status: 'ok', message: `Issuer ${idp.issuer}, client ${idp.clientId}, scopes "${idp.scopes.join(' ')}", flow ${idp.flow}.` });
      idpOk = true;
    } catch (e) {
      out.push({ area: 'Settings', status: 'fail', message: errorMessage(e) });
    }
  }
  if (idpOk && !idp.scopes.includes('offline_access'))
    out.push({ area: 'Settings', status: 'warn', message: 'mlspanner.idp.scopes has no offline_access: the session will not survive a reload.', action: 'Add offline_access unless your provider issues refresh tokens without it.' });

  if (deps.proxy) {
    const hosts = [
      ...(idpOk ? [{ label: 'identity provider', url: idp.issuer }] : []),
      ...Object.values(deps.environments.environments).flatMap((env) =>
        deps.gate.targets.all().flatMap((t) => (env.sections[t.section] ? t.endpoints(env.sections[t.section]).map((url) => ({ label: `${env.name} ${t.label}`, url })) : [])),
      ),
    ];
    out.push({ area: 'Network', ...describeProxy(deps.proxy, hosts) });
  }

  if (idpOk) {
    try {
      const client = await (deps.discover ?? OidcClient.discover)(idp);
      out.push({
        area: 'Identity provider',
        status: 'ok',
        message: `Discovery answered. Device code flow: ${client.deviceFlowSupported ? 'offered' : 'not offered'}; revocation: ${client.revocationSupported ? 'offered' : 'not offered'}.`,
      });
      try {
        await client.checkClientKnown();
        out.push({ area: 'Identity provider', status: 'ok', message: `The provider knows the client ${idp.clientId}.` });
      } catch (e) {
        out.push({ area: 'Identity provider', status: 'fail', message: errorMessage(e) });
      }
    } catch (e) {
      out.push({ area: 'Identity provider', status: 'fail', message: errorMessage(e) });
    }
  }

  const s = deps.session;
  if (!s) {
    out.push({ area: 'Session', status: 'skip', message: 'Not signed in: credentials are not checked.', action: 'Sign in, then run the doctor again.' });
  } else {
    const left = Math.round((SessionManager.expiresAt(s) - now()) / 1000);
    out.push({ area: 'Session', status: left > 0 ? 'ok' : 'warn', message: `Signed in as ${s.name} (${s.subject}); tokens valid for ${Math.max(0, left)} s.` });
    if (s.groups.length) out.push({ area: 'Session', status: 'ok', message: `Groups from the claim "${idp.groupsClaim}": ${s.groups.join(', ')}.` });
    else
      out.push({
        area: 'Session',
        status: 'warn',
        message: `The ID token has no groups in the claim "${idp.groupsClaim}" (claims present: ${Object.keys(s.claims).sort().join(', ')}).`,
        action: 'Set mlspanner.idp.groupsClaim to the claim your provider uses, or ask for the groups claim to be added to the ID token.',
      });
  }

  if (!deps.workspaceTrusted)
    out.push({ area: 'Environments', status: 'warn', message: 'This workspace is not trusted: databricks.yml and workspace settings that decide where tokens go are ignored.', action: 'Trust the workspace if you want its bundle targets.' });
  for (const p of deps.environments.problems) out.push({ area: 'Environments', status: 'fail', message: formatProblem(p) });
  const envs = Object.values(deps.environments.environments);
  if (!envs.length && !deps.environments.problems.length)
    out.push({ area: 'Environments', status: 'warn', message: 'No environments are configured.', action: 'Add mlspanner.environments or a databricks.yml bundle.' });

  for (const env of envs) {
    const area = `Environment ${env.name}`;
    const hosts = [...new Set(deps.gate.targets.all().flatMap((t) => (env.sections[t.section] ? t.endpoints(env.sections[t.section]).map((u) => hostOf(u)) : [])))];
    if (hosts.length) out.push({ area, status: 'ok', message: `Tokens for ${env.name} go to: ${hosts.join(', ')}.` });
    for (const t of deps.gate.targets.all()) {
      const settings = env.sections[t.section];
      if (settings) for (const c of t.check?.(settings, env) ?? []) out.push({ area, ...c });
    }
    if (!s) {
      out.push({ area, status: 'skip', message: `Requires one of: ${env.requiredGroups.join(', ') || 'any signed-in user'}.` });
      continue;
    }
    const d = deps.gate.evaluate({ environment: env.name, purpose: 'doctor' });
    if (d.kind === 'denied') {
      out.push({ area, status: d.error.kind === 'config' ? 'warn' : 'skip', message: d.reason });
      continue;
    }
    if (d.kind === 'confirm') {
      out.push({ area, status: 'skip', message: d.hosts?.length ? `Credentials not checked: ${d.why}` : 'Credentials not checked: this environment asks for a confirmation with a reason before any use.', action: 'Issue them from the Environments view to check them.' });
      continue;
    }
    const results = await Promise.all(
      d.grant.targets.map(async (t): Promise<CheckResult> => {
        const label = deps.gate.targets.spec(t).label;
        try {
          const c = await deps.gate.credential(d.grant, t);
          return { area, status: 'ok', message: `${label} for ${c.principal}, valid for ${Math.round((c.expiresAt - now()) / 1000)} s.` };
        } catch (e) {
          return { area, status: 'fail', message: `${label}: ${errorMessage(e)}` };
        }
      }),
    );
    out.push(...results);
  }

  try {
    const v = await deps.verifyAccessLog();
    out.push(
      v.ok
        ? { area: 'Access log', status: 'ok', message: `${v.count} entries, hash chain intact.` }
        : { area: 'Access log', status: 'fail', message: `Chain broken at line ${v.brokenAt?.line}: ${v.brokenAt?.reason}.`, action: 'Export the log for review; new entries keep being appended.' },
    );
  } catch (e) {
    out.push({ area: 'Access log', status: 'fail', message: errorMessage(e) });
  }
  return out;
}

// Words, not emoji: an editor without an emoji font shows those as empty boxes.
const MARK: Record<CheckStatus, string> = { ok: '**OK**', warn: '**WARNING**', fail: '**FAILED**', skip: '*skipped*' };

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function formatDiagnostics(results: CheckResult[], at: Date): string {
  const counts = (['fail', 'warn', 'ok'] as const).map((k) => `${results.filter((r) => r.status === k).length} ${k}`).join(', ');
  const lines = [`# ML Spanner Access: doctor`, '', `${at.toISOString()} · ${counts}`, ''];
  let area = '';
  for (const r of results) {
    if (r.area !== area) {
      area = r.area;
      lines.push('', `## ${area}`, '');
    }
    lines.push(`- ${MARK[r.status]} ${r.message}${r.action ? ` *${r.action}*` : ''}`);
  }
  return lines.join('\n') + '\n';
}
