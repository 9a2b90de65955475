import * as vscode from 'vscode';
import { UserFacingError, errorMessage, isCancellation } from '../core/errors';
import { redact } from '../core/redact';

/**
 * The one error path for commands: log to the output channel, show what failed, why and what
 * to do with a matching button, stay silent on cancel, never show a raw `{}`.
 */
export class CommandRunner {
  constructor(private readonly log: vscode.LogOutputChannel) {}

  register(id: string, fn: (...args: never[]) => unknown): vscode.Disposable {
    return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        await this.report(e, id);
        return undefined;
      }
    });
  }

  async report(e: unknown, context: string): Promise<void> {
    if (isCancellation(e)) {
      this.log.info(`${context}: cancelled`);
      return;
    }
    const message = redact(errorMessage(e));
    this.log.error(`${context}: ${message}`);
    const cause = (e as { cause?: unknown })?.cause;
    if (cause) this.log.debug(`${context} cause: ${redact(errorMessage(cause))}`);
    const kind = e instanceof UserFacingError ? e.kind : undefined;
    const actions: string[] = [];
    if (kind === 'auth') actions.push('Sign In');
    if (kind === 'config') actions.push('Open Settings');
    actions.push('Show Log');
    const pick = await vscode.window.showErrorMessage(message, ...actions);
    if (pick === 'Sign In') await vscode.commands.executeCommand('mlspanner.signIn');
    else if (pick === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'mlspanner');
    else if (pick === 'Show Log') this.log.show(true);
  }
}
