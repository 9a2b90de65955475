import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import { describeState, originsIn, type HostAnswer, type HostTrustOptions, type HostTrustStore } from '../../core/access/hostTrust';
import { errorMessage } from '../../core/errors';

const KEY = 'mlspanner.hostTrust.v1';

type Stored = Record<string, Record<string, HostAnswer>>;

function isAnswer(v: unknown): v is HostAnswer {
  const a = v as HostAnswer;
  return !!a && typeof a === 'object' && (a.state === 'trusted' || a.state === 'rejected') && typeof a.at === 'string' && typeof a.environment === 'string' && typeof a.target === 'string' && typeof a.source === 'string';
}

/**
 * The user's answers about hosts (host trust, src/core/access/hostTrust.ts), per signed-in user,
 * in `context.globalState`: kept across reloads and shared by the windows of this machine. It
 * holds origins and dates only, nothing secret.
 */
export class GlobalStateHostTrustStore implements HostTrustStore {
  constructor(
    private readonly state: Pick<vscode.Memento, 'get' | 'update'>,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  answers(user: string): Readonly<Record<string, HostAnswer>> {
    const mine = this.read()[user] ?? {};
    const out: Record<string, HostAnswer> = Object.create(null) as Record<string, HostAnswer>;
    for (const [origin, a] of Object.entries(mine)) if (isAnswer(a)) out[origin] = a;
    return out;
  }

  async record(user: string, origin: string, answer: HostAnswer): Promise<void> {
    const all = this.read();
    await this.write({ ...all, [user]: { ...(all[user] ?? {}), [origin]: answer } });
  }

  async forget(user: string, origin: string): Promise<void> {
    const all = this.read();
    const mine = { ...(all[user] ?? {}) };
    delete mine[origin];
    await this.write({ ...all, [user]: mine });
  }

  private read(): Stored {
    const v = this.state.get<unknown>(KEY);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Stored) : {};
  }

  private async write(value: Stored): Promise<void> {
    try {
      await this.state.update(KEY, value);
    } catch (e) {
      // The answer still holds in this window (globalState keeps it in memory); a reload asks again.
      this.onError(`Could not save the answer about a host: ${errorMessage(e)}`);
    }
  }
}

/**
 * Origins the user's own User settings name in `mlspanner.environments` (the User scope only:
 * never workspace or folder values, which a cloned repository can bring). Host trust treats them
 * as trusted without asking.
 */
export function userSettingsHosts(
  inspect: () => { globalValue?: unknown } | undefined = () => vscode.workspace.getConfiguration('mlspanner').inspect<unknown>('environments'),
): Set<string> {
  return originsIn(inspect()?.globalValue);
}

/** The gate's `hostTrust` option for the extension. */
export function hostTrustFor(context: Pick<vscode.ExtensionContext, 'globalState'>, onError: (message: string) => void): HostTrustOptions {
  return { store: new GlobalStateHostTrustStore(context.globalState, onError), userSettingsHosts: () => userSettingsHosts() };
}

/**
 * ML Spanner: Manage Trusted Hosts… — the hosts you answered for, with their state; picking one
 * forgets the answer, so its next use asks again (the way back from "Don't Trust").
 */
export async function manageTrustedHosts(
  gate: Pick<AccessGate, 'hostReport' | 'forgetHost'>,
  window: Pick<typeof vscode.window, 'showQuickPick' | 'showInformationMessage'> = vscode.window,
): Promise<void> {
  const answered = new Map<string, { origin: string; text: string; where: string[] }>();
  for (const h of gate.hostReport()) {
    if (h.state !== 'trusted' && h.state !== 'rejected') continue;
    const row = answered.get(h.origin) ?? { origin: h.origin, text: describeState(h), where: [] };
    row.where.push(`${h.environment}/${h.target}`);
    answered.set(h.origin, row);
  }
  if (!answered.size) {
    await window.showInformationMessage('You have not answered for any host yet: hosts from your User settings are trusted, others ask at their first use.');
    return;
  }
  const pick = await window.showQuickPick(
    [...answered.values()].map((r) => ({ label: r.origin, description: r.text, detail: `Used by ${r.where.join(', ')}. Pick to forget the answer: the next use asks again.`, origin: r.origin })),
    { title: 'Trusted hosts', placeHolder: 'Forget the answer for a host' },
  );
  if (!pick) return;
  await gate.forgetHost(pick.origin);
  await window.showInformationMessage(`Forgot your answer for ${pick.origin}: its next use asks again.`);
}
