import * as vscode from 'vscode';
import type { AccessGate, Purpose } from '../../core/access/AccessGate';
import { Remedies, UserFacingError } from '../../core/errors';
import type { EnvironmentsService } from '../environments/EnvironmentsService';

/** Quick pick of environments, with the gate's decision for the purpose on each row. */
export class EnvironmentPicker {
  constructor(
    private readonly gate: Pick<AccessGate, 'evaluate'>,
    private readonly environments: Pick<EnvironmentsService, 'resolution'>,
    private readonly window: Pick<typeof vscode.window, 'showQuickPick'> = vscode.window,
  ) {}

  /** `usableOnly` hides environments the gate denies for the purpose. */
  async pick(title: string, purpose: Purpose, usableOnly: boolean, targets?: string[]): Promise<string | undefined> {
    const envs = Object.values(this.environments.resolution().environments);
    if (!envs.length)
      throw new UserFacingError('config', 'No environments are configured.', 'Add them to the setting mlspanner.environments or a databricks.yml bundle.', undefined, {
        remedies: [Remedies.openSettings('mlspanner.environments')],
      });
    const rows = envs.map((env) => ({ env, d: this.gate.evaluate({ environment: env.name, purpose, targets }) }));
    const signedOut = rows.find((r) => r.d.kind === 'denied' && r.d.error.kind === 'auth');
    if (signedOut && signedOut.d.kind === 'denied') throw signedOut.d.error;
    const items = rows
      .filter((r) => !usableOnly || r.d.kind !== 'denied')
      .map(({ env, d }) => ({
        label: `${d.kind === 'denied' ? '$(lock)' : d.kind === 'confirm' ? '$(shield)' : '$(server-environment)'} ${env.name}`,
        name: env.name,
        description: d.kind === 'denied' ? 'denied' : d.kind === 'confirm' ? (d.hosts?.length ? 'asks to trust a host' : 'asks for a reason') : '',
        detail: d.kind === 'denied' ? d.reason : d.decision.reason,
      }));
    if (!items.length)
      throw new UserFacingError('denied', 'None of your groups grants this in any environment.', undefined, undefined, { remedies: [Remedies.explainAccess()] });
    const pick = await this.window.showQuickPick(items, { title, placeHolder: 'Environment' });
    return pick?.name;
  }
}
