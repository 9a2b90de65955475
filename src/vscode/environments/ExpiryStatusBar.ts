import * as vscode from 'vscode';
import { expiryLevel, formatRemaining, statusText, type ExpiryLevel } from '../../core/format/countdown';

export interface ExpiryTarget {
  /** Environment name, or "session" for the sign-in itself. */
  label: string;
  expiresAt: number;
  /** What expires, for the tooltip: "Databricks token", "IdP session". */
  what: string;
}

/**
 * The status-bar item `mlspanner.expiry`: `$(key) <environment> <m:ss>` counting down to the
 * nearest expiry, warning colour under `mlspanner.expiryWarningSeconds`, error colour when
 * expired. Ticks once a second only while something is shown.
 */
export class ExpiryStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer?: ReturnType<typeof setInterval>;
  private level?: ExpiryLevel;
  private tooltipKey?: string;

  constructor(
    private readonly target: () => ExpiryTarget | undefined,
    private readonly warningSeconds: () => number,
    private readonly now: () => number = Date.now,
  ) {
    this.item = vscode.window.createStatusBarItem('mlspanner.expiry', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'ML Spanner credential expiry';
    this.item.command = 'mlspanner.showStatusActions';
  }

  /** Re-reads the target; call on every model change. */
  update(): void {
    const t = this.target();
    if (!t) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.level = undefined;
      this.tooltipKey = undefined;
      this.item.hide();
      return;
    }
    this.render(t);
    this.item.show();
    this.timer ??= setInterval(() => {
      const cur = this.target();
      if (cur) this.render(cur);
      else this.update();
    }, 1000);
  }

  private render(t: ExpiryTarget): void {
    const remaining = t.expiresAt - this.now();
    this.item.text = statusText(t.label, remaining);
    const level = expiryLevel(remaining, this.warningSeconds());
    if (level !== this.level) {
      this.level = level;
      this.item.backgroundColor =
        level === 'expired' ? new vscode.ThemeColor('statusBarItem.errorBackground') : level === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }
    const key = `${level}|${t.label}|${t.what}|${t.expiresAt}`;
    if (key !== this.tooltipKey) {
      this.tooltipKey = key;
      const md = new vscode.MarkdownString(undefined, true);
      md.isTrusted = { enabledCommands: ['mlspanner.refreshCredentials', 'mlspanner.signOut', 'mlspanner.showAccessLog'] };
      md.appendMarkdown(
        `**ML Spanner** · ${t.what} for **${t.label}** ${level === 'expired' ? 'has expired' : `expires at ${new Date(t.expiresAt).toLocaleTimeString()}`}\n\n` +
          `[$(refresh) Refresh](command:mlspanner.refreshCredentials) · [$(output) Access Log](command:mlspanner.showAccessLog) · [$(sign-out) Sign Out](command:mlspanner.signOut)`,
      );
      this.item.tooltip = md;
    }
    this.item.accessibilityInformation = { label: `ML Spanner: ${t.what} for ${t.label} ${remaining > 0 ? `expires in ${formatRemaining(remaining)}` : 'expired'}` };
  }

  dispose(): void {
    clearInterval(this.timer);
    this.item.dispose();
  }
}
