import * as vscode from 'vscode';
import type { DeviceCodeInfo } from '../../core/auth/OidcClient';
import type { SessionManager, SignInOptions } from '../../core/auth/SessionManager';
import type { IdentitySession } from '../../core/auth/IdentitySession';

/** What the sidebar shows while a sign-in waits for the user. */
export interface PendingSignIn {
  url?: string;
  device?: DeviceCodeInfo;
}

/**
 * Runs an interactive sign-in under a cancellable progress notification. While it waits, the
 * sidebar offers to copy the sign-in URL (or the device code), so a blocked pop-up or a closed
 * tab never strands the user; nothing lingers after sign-in ends.
 */
export class InteractiveSignIn {
  private pending: PendingSignIn = {};
  private readonly changed = new vscode.EventEmitter<PendingSignIn>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly sessions: SessionManager,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get current(): PendingSignIn {
    return this.pending;
  }

  private set(p: PendingSignIn): void {
    this.pending = p;
    this.changed.fire(p);
  }

  async copyUrl(): Promise<void> {
    const text = this.pending.device?.userCode ?? this.pending.url;
    if (!text) return;
    await vscode.env.clipboard.writeText(text);
    void vscode.window.showInformationMessage(this.pending.device ? `Copied the code ${this.pending.device.userCode}.` : 'Copied the sign-in URL. Open it in your browser.');
  }

  async openAgain(): Promise<void> {
    const target = this.pending.device ? (this.pending.device.verificationUriComplete ?? this.pending.device.verificationUri) : this.pending.url;
    if (target) await vscode.env.openExternal(vscode.Uri.parse(target, true));
  }

  async run(options: SignInOptions = {}): Promise<IdentitySession> {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'ML Spanner: signing in', cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        try {
          return await this.sessions.signIn(
            {
            signal: abort.signal,
            openBrowser: async (url) => {
              const host = new URL(url).host;
              this.set({ url });
              progress.report({ message: `finish in the browser at ${host}…` });
              this.log.info(`Opening the browser at ${host} for sign-in.`);
              const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
              if (!opened) {
                progress.report({ message: `copy the sign-in URL from the ML Spanner view and open it in a browser…` });
                void vscode.window.showWarningMessage(`Could not open a browser for sign-in at ${host}.`, 'Copy Sign-In URL').then((pick) => {
                  if (pick) void this.copyUrl();
                });
              }
              return opened;
            },
            showDeviceCode: (info: DeviceCodeInfo) => {
              // The code lives where it ends with the attempt: this progress notification and the
              // sidebar (Copy Code, Open Sign-In Page, Cancel). A separate message would outlive a
              // denied or cancelled attempt while its dead code could still be typed in.
              this.set({ device: info });
              const where = (() => {
                try {
                  return new URL(info.verificationUri).host;
                } catch {
                  return info.verificationUri;
                }
              })();
              this.log.info(`Sign-in by device code: the code is shown in the ML Spanner view; enter it at ${where}.`);
              progress.report({ message: `enter the code ${info.userCode} at ${info.verificationUri} (Copy Code in the ML Spanner view)` });
            },
          },
            options,
          );
        } finally {
          this.set({});
        }
      },
    );
  }
}
