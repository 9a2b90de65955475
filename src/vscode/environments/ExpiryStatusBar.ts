import * as vscode from 'vscode';
import { expiryLevel, formatRemaining, type ExpiryLevel } from '../../core/format/countdown';

export interface ExpiryTarget {
  /** Environment name, or "session" for the sign-in itself. */
  label: string;
  expiresAt: number;
  /** What expires, for the tooltip: "Databricks token", "IdP session". */
  what: string;
}

/**
 * The time left as a screen reader says it (the item's accessibility label): whole minutes
 * (`14 min`, `1 h 5 min`, rounded down) while more than a minute is left and the warning window
 * has not begun, so it changes once a minute; `m:ss` (`h:mm:ss`) under a minute or in the
 * warning window, where seconds matter; `0:00` once expired. The visible text keeps the public
 * `m:ss` / `h:mm:ss` form (formatRemaining).
 */
export function remainingText(remainingMs: number, warningSeconds: number): string {
  if (remainingMs < 60_000 || expiryLevel(remainingMs, warningSeconds) !== 'ok') return formatRemaining(remainingMs);
  const minutes = Math.floor(remainingMs / 60_000);
  const h = Math.floor(minutes / 60);
  return h > 0 ? `${h} h ${minutes % 60} min` : `${minutes} min`;
}

/**
 * The status-bar item `mlspanner.expiry`: `$(key) <environment> <m:ss or h:mm:ss>` (the public
 * contract) counting down to the nearest expiry, warning colour under
 * `mlspanner.expiryWarningSeconds`, error colour when expired. Ticks once a second only while
 * something is shown, and touches the item only when what it shows changes (each assignment is
 * a message to the window): the text each second, the accessibility label once a minute until
 * the warning window, tooltip and colour when they change.
 */
export class ExpiryStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer?: ReturnType<typeof setInterval>;
  private level?: ExpiryLevel;
  private tooltipKey?: string;
  private text?: string;
  private accessibilityLabel?: string;
  private shown = false;

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
      this.text = undefined;
      this.accessibilityLabel = undefined;
      if (this.shown) this.item.hide();
      this.shown = false;
      return;
    }
    this.render(t);
    if (!this.shown) this.item.show();
    this.shown = true;
    this.timer ??= setInterval(() => {
      const cur = this.target();
      if (cur) this.render(cur);
      else this.update();
    }, 1000);
  }

  private render(t: ExpiryTarget): void {
    const remaining = t.expiresAt - this.now();
    const warningSeconds = this.warningSeconds();
    const text = `$(key) ${t.label} ${formatRemaining(remaining)}`;
    if (text !== this.text) {
      this.text = text;
      this.item.text = text;
    }
    const level = expiryLevel(remaining, warningSeconds);
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
    const accessibilityLabel = `ML Spanner: ${t.what} for ${t.label} ${remaining > 0 ? `expires in ${remainingText(remaining, warningSeconds)}` : 'expired'}`;
    if (accessibilityLabel !== this.accessibilityLabel) {
      this.accessibilityLabel = accessibilityLabel;
      this.item.accessibilityInformation = { label: accessibilityLabel };
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.item.dispose();
  }
}
