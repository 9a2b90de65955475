import * as vscode from 'vscode';
import { SessionManager } from '../../core/auth/SessionManager';
import type { IdentitySession } from '../../core/auth/IdentitySession';

/**
 * Exposes the sign-in as authentication provider `mlspanner`, so other extensions can call
 * `vscode.authentication.getSession('mlspanner', scopes)` and get the IdP access token.
 */
export class MlSpannerAuthProvider implements vscode.AuthenticationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  readonly onDidChangeSessions = this.changed.event;
  private last?: vscode.AuthenticationSession;
  private readonly sub: { dispose(): void };

  constructor(
    private readonly sessions: SessionManager,
    private readonly interactiveSignIn: () => Promise<IdentitySession>,
  ) {
    this.sub = sessions.onDidChange(() => this.sync());
  }

  private toSession(s: IdentitySession): vscode.AuthenticationSession {
    return { id: `${s.issuer}|${s.subject}`, accessToken: s.accessToken, account: { id: s.subject, label: s.email ?? s.name }, scopes: s.scopes };
  }

  private sync(): void {
    const s = this.sessions.current();
    const next = s ? this.toSession(s) : undefined;
    const prev = this.last;
    this.last = next;
    if (prev && !next) this.changed.fire({ added: [], removed: [prev], changed: [] });
    else if (!prev && next) this.changed.fire({ added: [next], removed: [], changed: [] });
    else if (prev && next && prev.accessToken !== next.accessToken)
      this.changed.fire({ added: prev.id === next.id ? [] : [next], removed: prev.id === next.id ? [] : [prev], changed: prev.id === next.id ? [next] : [] });
  }

  async getSessions(scopes?: readonly string[]): Promise<vscode.AuthenticationSession[]> {
    const s = this.sessions.current() ?? (await this.sessions.restore().catch(() => undefined));
    if (!s) return [];
    const fresh = await this.sessions.fresh().catch(() => s);
    if (scopes?.length && !scopes.every((x) => fresh.scopes.includes(x))) return [];
    return [this.toSession(fresh)];
  }

  async createSession(): Promise<vscode.AuthenticationSession> {
    return this.toSession(await this.interactiveSignIn());
  }

  async removeSession(): Promise<void> {
    await this.sessions.signOut();
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
