import type { AccessEventSink } from '../../src/core/audit/AccessLog';
import { SessionManager, type IdpSettings, type SignInUi } from '../../src/core/auth/SessionManager';
import { TestSecretStorage } from '../unit/fakes/TestSecretStorage';
import { completeDeviceLogin, loginThroughIdp } from './browserlessLogin';
import { sandbox } from './setup';

/** The extension's IdP settings for the sandbox, with overrides. */
export function sandboxIdp(over: Partial<IdpSettings> = {}): IdpSettings {
  const s = sandbox();
  return { issuer: s.issuer, clientId: s.clientId, scopes: ['openid', 'profile', 'email', 'offline_access'], groupsClaim: 'groups', flow: 'loopback', ...over };
}

/**
 * A user at a browser: logs in at the IdP, then the browser follows the redirect to the
 * loopback server (`tamper` may edit that redirect first). Device codes are entered the same way.
 */
export function userAtBrowser(username: string, password = 'demo', tamper?: (callback: URL) => void): SignInUi {
  return {
    openBrowser: async (url) => {
      const cb = new URL(await loginThroughIdp(url, username, password));
      tamper?.(cb);
      void fetch(cb).catch(() => undefined);
      return true;
    },
    showDeviceCode: (info) => void completeDeviceLogin(info.verificationUriComplete!, username, password).catch(() => undefined),
  };
}

/** A desktop window's session manager for the sandbox IdP. */
export function sessionManager(opts: { idp?: Partial<IdpSettings>; secrets?: TestSecretStorage; sink?: AccessEventSink; timeoutMs?: number } = {}): SessionManager {
  return new SessionManager({
    settings: () => sandboxIdp(opts.idp),
    secrets: opts.secrets ?? new TestSecretStorage(),
    sink: opts.sink ?? { record: () => undefined },
    flowContext: async () => ({ uiKind: 'desktop' as const, browserOnThisMachine: false }),
    signInTimeoutMs: opts.timeoutMs ?? 20_000,
  });
}

/** Signs `username` in through the real authorization code flow. */
export async function signInAs(username: string, sink?: AccessEventSink): Promise<SessionManager> {
  const mgr = sessionManager({ sink });
  await mgr.signIn(userAtBrowser(username));
  return mgr;
}
