import * as vscode from 'vscode';
import type { AccessGate, AccessRequest, Grant } from '../../core/access/AccessGate';
import { describeSource, type HostStatus } from '../../core/access/hostTrust';
import { UserFacingError } from '../../core/errors';

const TRUST = 'Trust Host';
const DONT_TRUST = "Don't Trust";

/**
 * Asks the gate, and where it wants the user's say-so asks the same way everywhere: first, once
 * per user, whether a host nobody approved may receive tokens (Trust Host / Don't Trust; closing
 * the dialog decides nothing); then, in prod-like environments, a modal naming what is about to
 * happen and where, and a required reason (e.g. a ticket). The gate writes every answer to the
 * access log. Denials throw the gate's error (with its remedies); `undefined` means the user
 * said no.
 */
export class AccessPrompt {
  constructor(
    private readonly gate: Pick<AccessGate, 'request' | 'confirm' | 'answerHosts' | 'targets'>,
    private readonly window: Pick<typeof vscode.window, 'showWarningMessage' | 'showInputBox'> = vscode.window,
  ) {}

  async grant(req: AccessRequest & { action: string }): Promise<Grant | undefined> {
    let d = this.gate.request(req);
    if (d.kind === 'confirm' && d.hosts?.length) {
      if (!(await this.askHosts(req, d.hosts))) return undefined;
      d = this.gate.request(req);
      if (d.kind === 'confirm' && d.hosts?.length) throw new UserFacingError('config', `Your answer about ${d.hosts[0].origin} could not be kept; try again.`);
    }
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

  /** One modal per host; true when every host was trusted. */
  private async askHosts(req: AccessRequest & { action: string }, hosts: readonly HostStatus[]): Promise<boolean> {
    const byOrigin = new Map<string, HostStatus>();
    for (const h of hosts) if (!byOrigin.has(h.origin)) byOrigin.set(h.origin, h);
    for (const h of byOrigin.values()) {
      const label = this.gate.targets.get(h.target)?.label ?? h.target;
      const pick = await this.window.showWarningMessage(
        `Send ${h.environment}'s ${label} to ${h.origin}?`,
        {
          modal: true,
          detail:
            `The host is ${describeSource(h)}. It would receive bearer tokens that act as you (to ${req.action.charAt(0).toLowerCase()}${req.action.slice(1)}). ` +
            'Trust it only if you know it belongs to your organisation. Your answer is remembered for your account; Manage Trusted Hosts… changes it.',
        },
        TRUST,
        DONT_TRUST,
      );
      if (pick === TRUST) await this.gate.answerHosts(req, [h], 'trusted');
      else {
        if (pick === DONT_TRUST) await this.gate.answerHosts(req, [h], 'rejected');
        return false;
      }
    }
    return true;
  }
}
