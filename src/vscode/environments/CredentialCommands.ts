import * as vscode from 'vscode';
import type { AccessGate, Grant } from '../../core/access/AccessGate';
import type { SessionManager } from '../../core/auth/SessionManager';
import type { Credential } from '../../core/credentials/Credential';
import { Remedies, UserFacingError, errorMessage } from '../../core/errors';
import { explainAccess } from '../../core/policy/explainAccess';
import type { CredentialTarget } from '../../core/policy/Environment';
import type { AccessPrompt } from '../common/AccessPrompt';
import type { CommandRunner } from '../common/CommandRunner';
import type { EnvironmentPicker } from '../common/EnvironmentPicker';
import type { ReadOnlyDocuments } from '../common/ReadOnlyDocuments';

/** Arguments a tree node passes to a context-menu command; anything else is ignored. */
export function nodeArgs(node: unknown): { environment?: string; target?: CredentialTarget } {
  const args = (node as { args?: Record<string, unknown> } | undefined)?.args;
  return {
    environment: typeof args?.environment === 'string' ? args.environment : undefined,
    target: typeof args?.target === 'string' ? args.target : undefined,
  };
}

/** Issue, refresh, revoke and explain commands; every credential through the gate. */
export class CredentialCommands {
  constructor(
    private readonly sessions: SessionManager,
    private readonly gate: AccessGate,
    private readonly prompt: AccessPrompt,
    private readonly picker: EnvironmentPicker,
    private readonly documents: ReadOnlyDocuments,
  ) {}

  register(commands: CommandRunner): vscode.Disposable[] {
    return [
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

  private async refresh(node?: unknown): Promise<void> {
    const { environment, target } = nodeArgs(node);
    if (environment) {
      const grant = await this.prompt.grant({ environment, purpose: 'refresh', targets: target ? [target] : undefined, action: 'Refresh credentials' });
      if (grant) await this.issueAll(grant, true);
      return;
    }
    // Everything: the sign-in session first (the subject token of every exchange), then every
    // credential already in use (renewing what was issued needs no new confirmation).
    await this.sessions.refresh();
    const inUse = this.gate.credentials.peek();
    const byEnv = new Map<string, string[]>();
    for (const c of inUse) byEnv.set(c.environment, [...(byEnv.get(c.environment) ?? []), c.target]);
    const failures: string[] = [];
    for (const [environment, targets] of byEnv) {
      const d = this.gate.request({ environment, purpose: 'refresh', targets });
      if (d.kind === 'denied') {
        failures.push(`${environment}: ${d.reason}`);
        continue;
      }
      // Confirmed uses are renewed under the grant they were issued with: refreshing the ones in
      // hand is not a new use. A confirm environment not confirmed here is left as it is.
      if (d.kind === 'granted') await this.issueAll(d.grant, true).catch((e) => failures.push(`${environment}: ${errorMessage(e)}`));
    }
    if (failures.length) throw new UserFacingError('service', `Some credentials could not be refreshed: ${failures.join(' · ')}`, undefined, undefined, { remedies: [Remedies.retry('mlspanner.refreshCredentials')] });
    void vscode.window.setStatusBarMessage(`$(check) ML Spanner: refreshed the session${inUse.length ? ` and ${inUse.length} credential${inUse.length > 1 ? 's' : ''}` : ''}.`, 4000);
  }

  /** Every target of a grant, in parallel; one failure among several is reported, not thrown. */
  async issueAll(grant: Grant, forceRefresh: boolean): Promise<Credential[]> {
    const results = await Promise.allSettled(grant.targets.map((t) => this.gate.credential(grant, t, { forceRefresh })));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${this.gate.targets.spec(grant.targets[i]).label} for ${grant.environment}: ${errorMessage(r.reason)}`] : []));
    if (failures.length === results.length && results.length) throw (results[0] as PromiseRejectedResult).reason;
    if (failures.length) void vscode.window.showErrorMessage(`${failures.length} of ${results.length} credentials could not be issued. ${failures.join(' · ')}`);
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
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
