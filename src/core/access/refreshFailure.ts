import type { CredentialFailure, CredentialInfo } from '../credentials/CredentialBroker';
import { Remedies, UserFacingError, type ErrorKind, type Remedy } from '../errors';
import { settingPath, type Environment } from '../policy/Environment';
import { redact } from '../redact';
import type { TargetRegistry } from '../targets/TargetRegistry';

/**
 * What the Environments view, the notifications and the log say about a credential that could
 * not be issued or refreshed: a short reason for a row or a toast, the setting to open for a
 * configuration error, the host involved, the full detail for a tooltip and the log, and which
 * failure episodes deserve a notification (one per episode, never one per retry).
 */

/** `14:02`, local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** `14:02:30`, local time: retries are seconds apart. */
export function clockSeconds(ms: number): string {
  return `${clock(ms)}:${String(new Date(ms).getSeconds()).padStart(2, '0')}`;
}

/** A credential that has (or had) a value: a refresh failed, as opposed to a first issue. */
function wasIssued(info: Pick<CredentialInfo, 'expiresAt'>): boolean {
  return info.expiresAt !== undefined;
}

/** The credential in hand is still usable. */
export function stillValid(info: Pick<CredentialInfo, 'expiresAt'>, now: number): boolean {
  return info.expiresAt !== undefined && info.expiresAt > now;
}

/** Who failed, in a few words: "Databricks", "the identity provider". */
function who(f: Pick<CredentialFailure, 'stage' | 'service'>, service: string): string {
  return f.stage === 'identity' ? 'identity provider' : (f.service ?? service);
}

/** A few words for a row or a toast: "Databricks unreachable", "a setting is wrong". */
export function failureReason(f: Pick<CredentialFailure, 'kind' | 'stage' | 'service'>, service: string): string {
  const w = who(f, service);
  const reasons: Record<ErrorKind, string> = {
    network: `${w} unreachable`,
    auth: f.stage === 'identity' ? 'sign-in not renewed' : `${w} refused the sign-in`,
    denied: `${w} denied permission`,
    config: 'a setting is wrong',
    protocol: `unexpected answer from ${w}`,
    service: `${w} answered with an error`,
    cancelled: 'cancelled',
  };
  return reasons[f.kind];
}

function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * Where the failure happened: the identity provider's host for a sign-in failure, else the
 * host the message names, else the hosts the target sends the token to.
 */
export function failureHost(f: Pick<CredentialFailure, 'stage' | 'message'>, env: Environment | undefined, targetSection: string | undefined, endpoints: ((settings: never) => string[]) | undefined, issuer: string | undefined): string | undefined {
  if (f.stage === 'identity') return issuer ? hostOf(issuer) : undefined;
  const named = /\bhttps?:\/\/[^\s/)"'`,;]+/i.exec(f.message);
  if (named) return hostOf(named[0]);
  const settings = env && targetSection ? env.sections[targetSection] : undefined;
  if (!settings || !endpoints) return undefined;
  const hosts = [...new Set(endpoints(settings as never).map(hostOf))];
  return hosts.length ? hosts.join(', ') : undefined;
}

/**
 * The setting to open for a configuration error: the one the error names (its Open Settings
 * remedy, or a `mlspanner.…` key in its text), followed to the environment it is inherited
 * from, else the environment's own definition. Undefined for other kinds of failure.
 */
export function failureSetting(f: Pick<CredentialFailure, 'kind' | 'message' | 'action' | 'remedies'>, env: Pick<Environment, 'name' | 'origins'>): string | undefined {
  if (f.kind !== 'config') return undefined;
  const fromRemedy = f.remedies.find((r) => r.command === 'workbench.action.openSettings' && typeof r.args?.[0] === 'string')?.args?.[0] as string | undefined;
  const named = fromRemedy ?? /\bmlspanner\.[A-Za-z0-9_.-]*[A-Za-z0-9_]/.exec(`${f.message} ${f.action ?? ''}`)?.[0];
  const own = settingPath(env.name);
  if (!named) return own;
  if (!named.startsWith(`${own}.`)) return named;
  const field = named.slice(own.length + 1);
  const origin = env.origins[field];
  // A value inherited through `extends` is fixed where it is set.
  return origin?.kind === 'inherited' ? settingPath(origin.from, field) : named;
}

/** A credential row's failure, with what the view and the notifications need to say about it. */
export interface FailureSubject {
  info: CredentialInfo & { lastError: CredentialFailure };
  /** "Databricks token" */
  label: string;
  /** "Databricks" */
  service: string;
  host?: string;
  /** The setting to open (configuration errors). */
  setting?: string;
}

/** Describes a failed credential of the gate's registry in its environment (for view and toasts). */
export function failureSubject(info: CredentialInfo & { lastError: CredentialFailure }, registry: TargetRegistry, env: Environment | undefined, issuer: string | undefined): FailureSubject {
  const spec = registry.get(info.target);
  return {
    info,
    label: spec?.label ?? info.target,
    service: spec?.service ?? info.target,
    host: failureHost(info.lastError, env, spec?.section, spec?.endpoints, issuer),
    setting: env ? failureSetting(info.lastError, env) : undefined,
  };
}

function tokenState(info: CredentialInfo, now: number): string {
  if (!wasIssued(info)) return 'never issued';
  return stillValid(info, now) ? `valid until ${clock(info.expiresAt!)}` : `expired at ${clock(info.expiresAt!)}`;
}

/** Lines for the log (Show Log): what, where, when, what to do, the token's state and the next try. */
export function failureDetail(s: FailureSubject, now: number): string {
  const { info } = s;
  const f = info.lastError;
  const what = wasIssued(info) ? 'refresh failed' : 'issue failed';
  const lines = [
    `${s.label} for ${info.environment}: ${what} at ${clockSeconds(f.at)}${f.attempts > 1 ? ` (attempt ${f.attempts} since ${clockSeconds(f.since)})` : ''}.`,
    `  Where: ${f.stage === 'identity' ? 'renewing the sign-in session at the identity provider' : `the token exchange with ${s.service}`}${s.host ? ` (${s.host})` : ''}.`,
    `  What: ${f.message}`,
  ];
  if (f.action) lines.push(`  Do: ${f.action}`);
  if (s.setting) lines.push(`  Setting: ${s.setting}`);
  lines.push(`  Token: ${tokenState(info, now)}.`);
  lines.push(`  Next automatic retry: ${f.nextAttemptAt !== undefined ? clockSeconds(f.nextAttemptAt) : 'none (use Refresh)'}.`);
  return redact(lines.join('\n'));
}

/** One sentence for a notification about one or more failed credentials. */
export function failureSentence(subjects: readonly FailureSubject[], now: number): string {
  if (subjects.length === 1) {
    const [s] = subjects;
    const reason = failureReason(s.info.lastError, s.service);
    if (!wasIssued(s.info)) return `${s.label} for ${s.info.environment} could not be issued (${reason}).`;
    return stillValid(s.info, now)
      ? `${s.label} for ${s.info.environment} could not be refreshed (${reason}); it stays valid until ${clock(s.info.expiresAt!)}.`
      : `${s.label} for ${s.info.environment} could not be refreshed (${reason}) and has expired.`;
  }
  const reasons = [...new Set(subjects.map((s) => failureReason(s.info.lastError, s.service)))];
  const names = subjects.length === 2 ? subjects.map((s) => `${s.label} for ${s.info.environment}`).join(' and ') : `${subjects.length} credentials`;
  return `${names} could not be refreshed (${reasons.slice(0, 2).join('; ')}${reasons.length > 2 ? '; …' : ''}).`;
}

/** The buttons: Retry (through the gate), Explain Access, Open Settings at the wrong setting, Sign In where the error asks. */
export function failureRemedies(subjects: readonly FailureSubject[]): Remedy[] {
  const envs = [...new Set(subjects.map((s) => s.info.environment))];
  const single = subjects.length === 1 ? subjects[0] : undefined;
  const out: Remedy[] = [single ? Remedies.retry('mlspanner.refreshCredentials', [{ args: { environment: single.info.environment, target: single.info.target } }]) : Remedies.retry('mlspanner.refreshCredentials')];
  const settings = [...new Set(subjects.flatMap((s) => (s.setting ? [s.setting] : [])))];
  if (settings.length === 1) out.push(Remedies.openSettings(settings[0]));
  if (subjects.some((s) => s.info.lastError.remedies.some((r) => r.command === Remedies.signIn.command))) out.push(Remedies.signIn);
  if (envs.length === 1) out.push(Remedies.explainAccess(envs[0]));
  return out;
}

/** One error for the command error path (CommandRunner): a short sentence, the detail for the log, the buttons. */
export function refreshFailureError(subjects: readonly FailureSubject[], now: number): UserFacingError {
  const kinds = [...new Set(subjects.map((s) => s.info.lastError.kind))];
  return new UserFacingError(kinds.length === 1 ? kinds[0] : 'service', failureSentence(subjects, now), undefined, subjects.map((s) => failureDetail(s, now)).join('\n'), { remedies: failureRemedies(subjects) });
}

/** Failures a retry may cure by itself: wait for the first automatic retry before telling. */
const PASSING: ReadonlySet<ErrorKind> = new Set(['network', 'service']);

/**
 * Decides which failure episodes deserve a notification: at most one per episode (from the
 * first failure after a success to the next success), and only when it matters: the token in
 * hand has expired, the first automatic retry failed too, or retrying cannot help (a setting,
 * a refused sign-in, a denial). A provider that is down for an hour makes one notification.
 */
export class FailureEpisodes {
  /** environment/target → the `since` of the episode already told (or acknowledged). */
  private readonly told = new Map<string, number>();
  private session?: { told: boolean; failures: number; last?: unknown };

  private static key(i: Pick<CredentialInfo, 'environment' | 'target'>): string {
    return `${i.environment}\u0000${i.target}`;
  }

  /**
   * The refresh failures to notify now. Episodes that ended are forgotten; a credential that
   * was never issued is left to whatever asked for it (its command reports the error).
   * `sessionFailing`: the sign-in session's own refresh is failing, which its notification covers.
   * `held`: credentials a command the user ran is renewing right now (it reports its own errors).
   */
  update(infos: readonly CredentialInfo[], now: number, sessionFailing = false, held: (i: CredentialInfo) => boolean = () => false): (CredentialInfo & { lastError: CredentialFailure })[] {
    const failing = infos.filter((i): i is CredentialInfo & { lastError: CredentialFailure } => i.lastError !== undefined && i.lastError.kind !== 'cancelled');
    const live = new Set(failing.map(FailureEpisodes.key));
    for (const k of [...this.told.keys()]) if (!live.has(k)) this.told.delete(k);
    const out: (CredentialInfo & { lastError: CredentialFailure })[] = [];
    for (const i of failing) {
      const k = FailureEpisodes.key(i);
      if (this.told.get(k) === i.lastError.since || !wasIssued(i) || held(i)) continue;
      if (sessionFailing && i.lastError.stage === 'identity') {
        this.told.set(k, i.lastError.since);
        continue;
      }
      if (stillValid(i, now) && i.lastError.attempts < 2 && PASSING.has(i.lastError.kind)) continue;
      this.told.set(k, i.lastError.since);
      out.push(i);
    }
    return out;
  }

  /** The failures of these credentials were reported by the command the user ran: no notification for their episodes. */
  acknowledge(infos: readonly CredentialInfo[], environment?: string, targets?: readonly string[]): void {
    for (const i of infos)
      if (i.lastError && (!environment || i.environment === environment) && (!targets || targets.includes(i.target))) this.told.set(FailureEpisodes.key(i), i.lastError.since);
  }

  /**
   * The sign-in session's refresh state (`state` is a new object per failed attempt): true when
   * its failure episode deserves the one notification now, i.e. the session's tokens have
   * expired or a retry failed as well.
   */
  updateSession(failure: { state: unknown; error?: string; expiresAt?: number }, now: number): boolean {
    if (!failure.error) {
      this.session = undefined;
      return false;
    }
    const s = (this.session ??= { told: false, failures: 0 });
    if (s.last !== failure.state) {
      s.last = failure.state;
      s.failures++;
    }
    if (s.told) return false;
    const expired = failure.expiresAt !== undefined && failure.expiresAt <= now;
    if (!expired && s.failures < 2) return false;
    s.told = true;
    return true;
  }

  /** The user ran Refresh and saw its error: the session episode is told. */
  acknowledgeSession(): void {
    if (this.session) this.session.told = true;
  }

  /** The session's refresh is failing (an episode is open). */
  get sessionFailing(): boolean {
    return this.session !== undefined;
  }
}
