import * as vscode from 'vscode';
import type { AccessGate, AccessRequest, Grant } from '../../core/access/AccessGate';

/**
 * Asks the gate, and where it wants a confirmation asks the user the same way everywhere: a
 * modal naming what is about to happen and where, then a required reason (e.g. a ticket), which
 * the gate writes to the access log. Denials throw the gate's error (with its remedies);
 * `undefined` means the user said no.
 */
export class AccessPrompt {
  constructor(
    private readonly gate: Pick<AccessGate, 'request' | 'confirm'>,
    private readonly window: Pick<typeof vscode.window, 'showWarningMessage' | 'showInputBox'> = vscode.window,
  ) {}

  async grant(req: AccessRequest & { action: string }): Promise<Grant | undefined> {
    const d = this.gate.request(req);
    if (d.kind === 'denied') throw d.error;
    if (d.kind === 'granted') return d.grant;
    const go = await this.window.showWarningMessage(`${req.action} in ${req.environment}?`, { modal: true, detail: `${d.why}${req.via === 'agent' ? ` Requested by an agent (${req.tool ?? 'tool'}).` : ''}` }, 'Continue');
    if (go !== 'Continue') return undefined;
    const reason = await this.window.showInputBox({
      title: `Why ${req.action.charAt(0).toLowerCase()}${req.action.slice(1)} in ${req.environment}?`,
      prompt: 'A reason for the access log (e.g. a ticket or incident number).',
      ignoreFocusOut: true,
      validateInput: (t) => (t.trim().length < 3 ? 'Please give a reason (at least 3 characters).' : undefined),
    });
    if (!reason?.trim()) return undefined;
    return this.gate.confirm(req, reason);
  }
}
