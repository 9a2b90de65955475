import * as vscode from 'vscode';
import type { IdentitySession } from '../../core/auth/IdentitySession';
import type { IdpSettings, SessionManager } from '../../core/auth/SessionManager';
import { Remedies, UserFacingError } from '../../core/errors';
import type { CommandRunner } from '../common/CommandRunner';
import { Disposables } from '../common/Disposables';
import { StandIns } from '../common/StandIns';
import type { Settings } from '../common/Settings';
import { MlSpannerAuthProvider } from './MlSpannerAuthProvider';
import { InteractiveSignIn, type PendingSignIn } from './SignInUi';

/**
 * Sign-in as a feature: the `mlspanner` authentication provider, Sign In (also as a different
 * user), Sign Out (optionally ending the provider's browser session), the pending sign-in's
 * Copy / Open Again / Cancel, and identity-provider setting changes applied without a reload.
 */
export class SignInCommands extends Disposables {
  private readonly interactive: InteractiveSignIn;
  private idpBefore: IdpSettings;
  readonly onDidChange: vscode.Event<PendingSignIn>;

  constructor(
    private readonly sessions: SessionManager,
    private readonly settings: Settings,
    private readonly log: vscode.LogOutputChannel,
    commands: CommandRunner,
  ) {
    super();
    this.interactive = new InteractiveSignIn(sessions, log);
    this.onDidChange = this.interactive.onDidChange;
    this.idpBefore = settings.idp();
    const provider = this.register(new MlSpannerAuthProvider(sessions, () => this.signIn()));
    this.register(StandIns.registerAuthenticationProvider(provider));
    this.register(commands.register('mlspanner.signIn', async () => this.signedIn(await this.signIn())));
    this.register(commands.register('mlspanner.signInAsDifferentUser', async () => this.signedIn(await this.signIn('select_account'))));
    this.register(commands.register('mlspanner.cancelSignIn', () => sessions.cancelSignIn()));
    this.register(commands.register('mlspanner.copySignInUrl', () => this.interactive.copyUrl()));
    this.register(commands.register('mlspanner.openSignInPageAgain', () => this.interactive.openAgain()));
    this.register(commands.register('mlspanner.signOut', (opts?: unknown) => this.signOut(Boolean((opts as { endProviderSession?: boolean } | undefined)?.endProviderSession))));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('mlspanner.idp')) return;
        const before = this.idpBefore;
        this.idpBefore = settings.idp();
        void sessions.settingsChanged(before);
      }),
    );
    // Other windows' sign-in and sign-out reach this one through SecretStorage events; where the
    // host sends none across windows, coming back to the window catches up.
    this.register(vscode.window.onDidChangeWindowState((w) => w.focused && void sessions.resync()));
    // Silent restore from the stored refresh token; never opens a browser.
    if (settings.isConfigured()) sessions.restore().catch((e) => log.warn(`Could not restore the session: ${String((e as Error)?.message ?? e)}`));
  }

  get pending(): PendingSignIn {
    return this.interactive.current;
  }

  private signIn(prompt?: 'login' | 'select_account'): Promise<IdentitySession> {
    if (!this.settings.isConfigured())
      throw new UserFacingError('config', 'ML Spanner Access is not configured: set mlspanner.idp.issuer and mlspanner.idp.clientId.', 'Open the settings and enter your identity provider.', undefined, {
        remedies: [Remedies.openSettings('mlspanner.idp')],
      });
    return this.interactive.run(prompt ? { prompt } : {});
  }

  private signedIn(s: IdentitySession): void {
    this.log.info(`Signed in as ${s.name} (groups: ${s.groups.join(', ') || 'none'}).`);
  }

  private async signOut(endProviderSession: boolean): Promise<void> {
    const { revokeError, endSessionUrl } = await this.sessions.signOut({ endProviderSession });
    if (endSessionUrl) await vscode.env.openExternal(vscode.Uri.parse(endSessionUrl, true));
    if (revokeError) void vscode.window.showWarningMessage(`Signed out. The identity provider could not revoke the session: ${revokeError}`);
  }
}
