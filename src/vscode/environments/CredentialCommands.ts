import * as vscode from 'vscode';
import type { AccessGate, Grant } from '../../core/access/AccessGate';
import type { SessionManager } from '../../core/auth/SessionManager';
import type { Credential } from '../../core/credentials/Credential';
import { failureDetail, failureReason, failureSubject, refreshFailureError } from '../../core/access/refreshFailure';
import { Remedies, UserFacingError, errorMessage, isCancellation } from '../../core/errors';
import { redact } from '../../core/redact';
import { explainAccess } from '../../core/policy/explainAccess';
import type { CredentialTarget } from '../../core/policy/Environment';
import type { AccessPrompt } from '../common/AccessPrompt';
import type { CommandRunner } from '../common/CommandRunner';
import type { EnvironmentPicker } from '../common/EnvironmentPicker';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';
import { RefreshFailureNotifier, type RefreshFailureNotifierOptions } from './RefreshFailureNotifier';

/** Arguments a tree node passes to a context-menu command; anything else is ignored. */
export function nodeArgs(node: unknown): { environment?: string; target?: CredentialTarget } {
  const args = (node as { args?: Record<string, unknown> } | undefined)?.args;
  return {
    environment: typeof args?.environment === 'string' ? args.environment : undefined,
    target: typeof args?.target === 'string' ? args.target : undefined,
  };
}

/** A target of a grant that could not be issued or refreshed, and why. */
interface Failed {
  environment: string;
  target: CredentialTarget;
  error: unknown;
}

/**
 * Issue, refresh, revoke and explain commands; every credential through the gate. Failures are
 * reported in one short sentence with Retry, Open Settings (a configuration error), Explain
 * Access and Show Log (the detail is in the log); failures of background renewals are told once
 * per episode by the RefreshFailureNotifier this registers.
 */
export class CredentialCommands {
  private runner?: CommandRunner;
  private notifier?: RefreshFailureNotifier;

  constructor(
    private readonly sessions: SessionManager,
    private readonly gate: AccessGate,
    private readonly prompt: AccessPrompt,
    private readonly picker: EnvironmentPicker,
    private readonly documents: ReadOnlyDocuments,
    private readonly notifierOptions: RefreshFailureNotifierOptions = {},
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    this.runner = commands;
    this.notifier = new RefreshFailureNotifier(this.gate, this.sessions, (e, context, options) => commands.report(e, context, options), this.notifierOptions);
    return [
      this.notifier,
      commands.register('mlspanner.issueCredentials', (node?: unknown) => this.issue(node)),
      commands.register('mlspanner.refreshCredentials', (node?: unknown) => this.refresh(node)),
      commands.register('mlspanner.revokeCredential', (node?: unknown) => this.revoke(node)),
      commands.register('mlspanner.explainAccess', (node?: unknown) => this.explain(node)),
    ];
  }

  /** Issue… on a credential of a confirm environment: asks, then issues for viewing. */
  private async issue(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    const name = environment ?? (await this.picker.pick('Issue the credentials of', 'view', true));
    if (!name) return;
    const grant = await this.prompt.grant({ environment: name, purpose: 'view', targets: target ? [target] : undefined, action: `Issue ${target ? this.gate.targets.spec(target).label : 'credentials'}` });
    if (!grant) return;
    await this.issueAll(grant, false);
  }

  /** Refresh (and Retry from a failure): one credential, one environment, or everything in use. */
  private async refresh(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    if (environment) {
      const grant = await this.prompt.grant({ environment, purpose: 'refresh', targets: target ? [target] : undefined, action: 'Refresh credentials' });
      if (grant) await this.issueAll(grant, true);
      return;
    }
    await this.userRenewal(undefined, undefined, () => this.refreshEverything());
  }

  /**
   * Everything: the sign-in session first (the subject token of every exchange), then every
   * credential already in use (renewing what was issued needs no new confirmation). One error
   * for all that failed.
   */
  private async refreshEverything(): Promise<void> {
    try {
      await this.sessions.refresh();
    } catch (e) {
      throw sessionRenewalError(e);
    }
    const inUse = this.gate.credentials.peek();
    const byEnv = new Map<string, string[]>();
    for (const c of inUse) byEnv.set(c.environment, [...(byEnv.get(c.environment) ?? []), c.target]);
    const failed: Failed[] = [];
    const denied: UserFacingError[] = [];
    for (const [environment, targets] of byEnv) {
      const d = this.gate.request({ environment, purpose: 'refresh', targets });
      if (d.kind === 'denied') {
        denied.push(d.error);
        continue;
      }
      // Confirmed uses are renewed under the grant they were issued with: refreshing the ones in
      // hand is not a new use. A confirm environment not confirmed here is left as it is.
      if (d.kind === 'granted') failed.push(...(await this.settle(d.grant, true)).failed);
    }
    if (failed.length || denied.length) throw this.failureError(failed, denied);
    void vscode.window.setStatusBarMessage(`$(check) ML Spanner: refreshed the session${inUse.length ? ` and ${inUse.length} credential${inUse.length > 1 ? 's' : ''}` : ''}.`, 4000);
  }

  /**
   * Every target of a grant, in parallel. All failed: throws one short error. Some failed: the
   * others are returned and the failures reported in one notification.
   */
  async issueAll(grant: Grant, forceRefresh: boolean): Promise<Credential[]> {
    const { issued, failed } = await this.userRenewal(grant.environment, grant.targets, () => this.settle(grant, forceRefresh));
    if (failed.length && !issued.length) throw this.failureError(failed, []);
    if (failed.length) void this.runner?.report(this.failureError(failed, []), forceRefresh ? 'mlspanner.refreshCredentials' : 'mlspanner.issueCredentials');
    return issued;
  }

  private async settle(grant: Grant, forceRefresh: boolean): Promise<{ issued: Credential[]; failed: Failed[] }> {
    const results = await Promise.allSettled(grant.targets.map((t) => this.gate.credential(grant, t, { forceRefresh })));
    return {
      issued: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
      failed: results.flatMap((r, i) => (r.status === 'rejected' ? [{ environment: grant.environment, target: grant.targets[i], error: r.reason as unknown }] : [])),
    };
  }

  private userRenewal<T>(environment: string | undefined, targets: readonly string[] | undefined, run: () => Promise<T>): Promise<T> {
    return this.notifier ? this.notifier.userRenewal(environment, targets, run) : run();
  }

  /**
   * One error for what failed: the broker's typed failures say it in one sentence (the detail
   * goes to the log); a single error the broker did not see (a denial, a cancellation) is
   * passed on as it is.
   */
  private failureError(failed: readonly Failed[], denied: readonly UserFacingError[]): unknown {
    if (failed.length + denied.length === 1 && (denied.length || isCancellation(failed[0].error))) return denied[0] ?? failed[0].error;
    const infos = this.gate.credentials.peek();
    const now = (this.notifierOptions.now ?? Date.now)();
    const issuer = this.sessions.current()?.issuer;
    const subjects = failed.flatMap((f) => {
      // The broker's record of this very failure (not an older one: the gate may have refused first).
      const same = (m: string) => !(f.error instanceof UserFacingError) || redact(f.error.message) === m;
      const info = infos.find((i) => i.environment === f.environment && i.target === f.target && i.lastError && same(i.lastError.message));
      return info?.lastError ? [failureSubject({ ...info, lastError: info.lastError }, this.gate.targets, this.gate.environment(f.environment), issuer)] : [];
    });
    if (subjects.length === failed.length && !denied.length) return refreshFailureError(subjects, now);
    if (failed.length === 1 && !denied.length) return failed[0].error;
    const total = failed.length + denied.length;
    const detail = [...subjects.map((s) => failureDetail(s, now)), ...failed.filter((f) => !subjects.some((s) => s.info.environment === f.environment && s.info.target === f.target)).map((f) => `${f.environment}/${f.target}: ${errorMessage(f.error)}`), ...denied.map((d) => d.display)].join('\n');
    return new UserFacingError(denied.length === total ? 'denied' : 'service', `${total} credential${total === 1 ? '' : 's'} could not be refreshed.`, undefined, detail, { remedies: [Remedies.retry('mlspanner.refreshCredentials')] });
  }

  private async revoke(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    const env = environment ?? (await this.picker.pick('Forget the credentials of an environment', 'explain', false));
    if (!env) return;
    const n = this.gate.credentials.revoke(env, target);
    void vscode.window.setStatusBarMessage(`ML Spanner: forgot ${n} credential${n === 1 ? '' : 's'} of ${env}.`, 4000);
  }

  private async explain(node?: unknown): Promise<void> {
    const environment = nodeArgs(node).environment ?? (await this.picker.pick('Explain access to an environment', 'explain', false));
    if (!environment) return;
    const d = this.gate.evaluate({ environment, purpose: 'explain' });
    if (d.kind === 'denied' && !d.env) throw d.error;
    const env = d.env!;
    const decision = d.decision!;
    await this.documents.show(`Access to ${environment}.md`, explainAccess(env, this.sessions.current(), decision, this.gate.targets), { preview: true });
  }
}

/**
 * The sign-in session could not be renewed: a refused refresh token ended it (Sign In), or the
 * identity provider could not renew it now (one sentence; the detail is in the log).
 */
export function sessionRenewalError(e: unknown): unknown {
  if (!(e instanceof UserFacingError) || isCancellation(e)) return e;
  if (e.kind === 'auth') return new UserFacingError('auth', e.message, undefined, e.display, { cause: e, remedies: [Remedies.signIn] });
  return new UserFacingError(e.kind, `Your sign-in session could not be renewed (${failureReason({ kind: e.kind, stage: 'identity' }, 'identity provider')}).`, undefined, e.display, {
    cause: e,
    remedies: [Remedies.retry('mlspanner.refreshCredentials')],
  });
}
