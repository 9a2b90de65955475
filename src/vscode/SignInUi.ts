import * as vscode from 'vscode';
import type { DeviceCodeInfo } from '../core/auth/OidcClient';
import type { SessionManager } from '../core/auth/SessionManager';
import type { IdentitySession } from '../core/auth/IdentitySession';

/**
 * Runs an interactive sign-in under a cancellable progress notification. While waiting it
 * offers to copy the sign-in URL (or the device code), so a blocked pop-up never strands the user.
 */
export async function signInWithProgress(sessions: SessionManager, log: vscode.LogOutputChannel): Promise<IdentitySession> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'ML Spanner: signing in', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sessions.signIn({
        signal: abort.signal,
        openBrowser: async (url) => {
          progress.report({ message: 'finish in the browser window that opened…' });
          const host = new URL(url).host;
          log.info(`Opening the browser at ${host} for sign-in.`);
          const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
          void vscode.window
            .showInformationMessage(
              opened ? `Sign in at ${host} in your browser.` : `Could not open the browser. Copy the sign-in URL for ${host} and open it yourself.`,
              'Copy Sign-In URL',
              'Open Again',
            )
            .then(async (pick) => {
              if (pick === 'Copy Sign-In URL') await vscode.env.clipboard.writeText(url);
              else if (pick === 'Open Again') await vscode.env.openExternal(vscode.Uri.parse(url, true));
            });
          return opened;
        },
        showDeviceCode: (info: DeviceCodeInfo) => {
          const target = info.verificationUriComplete ?? info.verificationUri;
          progress.report({ message: `enter code ${info.userCode} at ${info.verificationUri}` });
          void vscode.window
            .showInformationMessage(`To sign in, enter the code ${info.userCode} at ${info.verificationUri}`, 'Copy Code and Open Browser', 'Copy Code')
            .then(async (pick) => {
              if (!pick) return;
              await vscode.env.clipboard.writeText(info.userCode);
              if (pick === 'Copy Code and Open Browser') await vscode.env.openExternal(vscode.Uri.parse(target, true));
            });
        },
      });
    },
  );
}
