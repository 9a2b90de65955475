import * as vscode from 'vscode';
import type { IdpSettings } from '../../core/auth/SessionManager';
import type { FlowSetting } from '../../core/auth/signInFlow';

const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

function scopesFrom(value: unknown): string[] {
  const list = Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : typeof value === 'string' ? value.split(/\s+/) : DEFAULT_SCOPES;
  const scopes = [...new Set(list.map((s) => s.trim()).filter(Boolean))];
  // openid is what makes this an OpenID Connect sign-in (ID token with the subject and groups).
  return scopes.includes('openid') ? scopes : ['openid', ...scopes];
}

/** One typed accessor for every setting; nothing else reads `mlspanner.*` directly. */
export class Settings {
  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('mlspanner');
  }

  idp(): IdpSettings {
    const c = this.config;
    const flow = c.get<string>('idp.flow', 'auto');
    return {
      // Kept exactly as typed: it must equal the provider's `iss` (some end in a slash).
      issuer: c.get<string>('idp.issuer', '').trim(),
      clientId: c.get<string>('idp.clientId', '').trim(),
      scopes: scopesFrom(c.get<unknown>('idp.scopes')),
      groupsClaim: c.get<string>('idp.groupsClaim', 'groups').trim() || 'groups',
      flow: (['auto', 'loopback', 'deviceCode'].includes(flow) ? flow : 'auto') as FlowSetting,
    };
  }

  signInTimeoutMs(): number {
    const s = Number(this.config.get<number>('idp.signInTimeoutSeconds', 300));
    return (Number.isFinite(s) && s > 0 ? s : 300) * 1000;
  }

  expiryWarningSeconds(): number {
    const s = Number(this.config.get<number>('expiryWarningSeconds', 300));
    return Number.isFinite(s) && s >= 0 ? s : 300;
  }

  /** How long a confirmation for a prod-like environment is remembered (0: not at all). */
  rememberConfirmationMs(): number {
    const m = Number(this.config.get<number>('confirmation.rememberMinutes', 0));
    return Number.isFinite(m) && m > 0 ? Math.min(m, 480) * 60_000 : 0;
  }

  /** The raw `mlspanner.environments` value; validated by the policy in the core. */
  environmentsRaw(): unknown {
    return this.config.get<unknown>('environments', {});
  }

  isConfigured(): boolean {
    const idp = this.idp();
    return Boolean(idp.issuer && idp.clientId);
  }
}
