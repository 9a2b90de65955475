import type { AccessGate } from '../../core/access/AccessGate';
import { FailureEpisodes, clock, failureSubject, refreshFailureError, stillValid } from '../../core/access/refreshFailure';
import { SessionManager, type SessionState } from '../../core/auth/SessionManager';
import type { CredentialInfo } from '../../core/credentials/CredentialBroker';
import { Remedies, UserFacingError } from '../../core/errors';
import type { Disposable } from '../../core/events';
import { redact } from '../../core/redact';
import { Disposables } from '../common/Disposables';

/** Timer functions, injectable so a fake clock (@sinonjs/fake-timers) drives them. */
export interface NotifierTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The part of the command error path the notifier uses (CommandRunner.report). */
export type ReportError = (e: unknown, context: string, options: { severity?: 'error' | 'warning' }) => Promise<void>;

export interface RefreshFailureNotifierOptions {
  now?: () => number;
  timers?: NotifierTimers;
  /** Failures that arrive within this window make one notification (default 1 s). */
  settleMs?: number;
}

/**
 * Tells the user, once per failure episode, that a credential (or the sign-in session) could not
 * be renewed in the background: one short sentence with Retry, Open Settings (a configuration
 * error), Explain Access and Show Log, through the command error path. A provider that is down
 * for an hour makes one notification, not one per retry; the rows of the Environments view keep
 * the detail. Failures of a Refresh the user ran are that command's to report.
 */
export class RefreshFailureNotifier extends Disposables {
  private readonly episodes = new FailureEpisodes();
  private readonly now: () => number;
  private readonly timers: NotifierTimers;
  private readonly settleMs: number;
  private timer?: unknown;
  /** environment/target (or '*' for all) → how many user commands are renewing it now. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly gate: Pick<AccessGate, 'credentials' | 'targets' | 'environment'>,
    private readonly sessions: { readonly state: SessionState; onDidChange(listener: (s: SessionState) => void): Disposable },
    private readonly report: ReportError,
    options: RefreshFailureNotifierOptions = {},
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.settleMs = options.settleMs ?? 1000;
    this.register(gate.credentials.onDidChange(() => this.schedule()));
    this.register(sessions.onDidChange(() => this.schedule()));
    this.register({ dispose: () => this.cancel() });
  }

  /**
   * Runs a renewal the user asked for (Refresh, Retry, Issue…): its failures are reported by the
   * command, so their episodes get no notification of their own. No environment: everything,
   * the sign-in session included.
   */
  async userRenewal<T>(environment: string | undefined, targets: readonly string[] | undefined, run: () => Promise<T>): Promise<T> {
    const keys = environment ? (targets ?? ['*']).map((t) => `${environment}\u0000${t}`) : ['*'];
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    try {
      return await run();
    } finally {
      this.episodes.acknowledge(this.gate.credentials.peek(), environment, targets);
      if (!environment) this.episodes.acknowledgeSession();
      for (const k of keys) {
        const n = (this.held.get(k) ?? 1) - 1;
        if (n > 0) this.held.set(k, n);
        else this.held.delete(k);
      }
    }
  }

  private isHeld(i: CredentialInfo): boolean {
    return this.held.has('*') || this.held.has(`${i.environment}\u0000*`) || this.held.has(`${i.environment}\u0000${i.target}`);
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const handle = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.settleMs);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.timer = handle;
  }

  private cancel(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Decides and shows what is due now; exposed for tests that drive it without timers. */
  flush(): void {
    const now = this.now();
    const st = this.sessions.state;
    const signedIn = st.kind === 'signedIn' ? st : undefined;
    const sessionExpiresAt = signedIn ? SessionManager.expiresAt(signedIn.session) : undefined;
    if (this.episodes.updateSession({ state: st, error: signedIn?.refreshError, expiresAt: sessionExpiresAt }, now) && !this.held.has('*'))
      void this.report(this.sessionError(signedIn!.session.issuer, signedIn!.refreshError!, sessionExpiresAt!, now), 'session refresh', { severity: sessionExpiresAt! > now ? 'warning' : 'error' });
    const due = this.episodes.update(this.gate.credentials.peek(), now, this.episodes.sessionFailing, (i) => this.isHeld(i));
    if (!due.length) return;
    const subjects = due.map((i) => failureSubject(i, this.gate.targets, this.gate.environment(i.environment), signedIn?.session.issuer));
    void this.report(refreshFailureError(subjects, now), 'credential refresh', { severity: subjects.every((s) => stillValid(s.info, now)) ? 'warning' : 'error' });
  }

  private sessionError(issuer: string, message: string, expiresAt: number, now: number): UserFacingError {
    let host = issuer;
    try {
      host = new URL(issuer).host;
    } catch {
      // keep the issuer as given
    }
    const sentence =
      expiresAt > now
        ? `Your sign-in session could not be renewed by ${host}; it stays valid until ${clock(expiresAt)}.`
        : `Your sign-in session could not be renewed by ${host} and has expired, so no credential can be refreshed.`;
    return new UserFacingError('service', sentence, undefined, `Identity provider ${issuer}: ${redact(message)} The session is retried automatically with backoff.`, {
      remedies: [Remedies.retry('mlspanner.refreshCredentials')],
    });
  }
}
