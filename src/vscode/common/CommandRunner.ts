import * as vscode from 'vscode';
import { UserFacingError, errorMessage, isCancellation, type Remedy } from '../../core/errors';
import { redact } from '../../core/redact';

/**
 * The one error path for commands: log to the output channel, show what failed, why and what
 * to do with the buttons the error names (its remedies, plus Show Log), stay silent on cancel,
 * never show a raw `{}`.
 */
export class CommandRunner {
  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly window: Pick<typeof vscode.window, 'showErrorMessage' | 'showWarningMessage'> = vscode.window,
    private readonly commands: Pick<typeof vscode.commands, 'registerCommand' | 'executeCommand'> = vscode.commands,
  ) {}

  register(id: string, fn: (...args: never[]) => unknown): vscode.Disposable {
    return this.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        await this.report(e, id);
        return undefined;
      }
    });
  }

  /**
   * Shows one error: the message (one line) with its remedies and Show Log; the error's
   * `detail` goes to the log only. `warning` for what still works for now (a credential that
   * could not be refreshed but is still valid).
   */
  async report(e: unknown, context: string, options: { severity?: 'error' | 'warning' } = {}): Promise<void> {
    if (isCancellation(e)) {
      this.log.info(`${context}: cancelled`);
      return;
    }
    const message = redact(errorMessage(e));
    this.log.error(`${context}: ${message}`);
    const cause = (e as { cause?: unknown })?.cause;
    if (cause) this.log.debug(`${context} cause: ${redact(errorMessage(cause))}`);
    if (e instanceof UserFacingError && e.detail) this.log.error(`${context} detail:\n${redact(e.detail)}`);
    const remedies: readonly Remedy[] = e instanceof UserFacingError ? e.remedies : [];
    const show = options.severity === 'warning' ? this.window.showWarningMessage : this.window.showErrorMessage;
    const pick = await show(message, ...remedies.map((r) => r.title), 'Show Log');
    const remedy = remedies.find((r) => r.title === pick);
    if (remedy) await this.commands.executeCommand(remedy.command, ...(remedy.args ?? []));
    else if (pick === 'Show Log') this.log.show(true);
  }
}
