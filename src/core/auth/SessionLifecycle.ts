import { userKey } from '../access/userKey';
import type { IdentitySession } from './IdentitySession';

/** The session states the lifecycle reacts to (SessionManager's SessionState). */
export type LifecycleState = { kind: 'signedOut'; reason?: string } | { kind: 'signingIn' } | { kind: 'signedIn'; session: IdentitySession; refreshError?: string };

export interface LifecycleHooks {
  /** Signed out after being signed in (by the user, a refused refresh, or another window). */
  signedOut(reason: string | undefined): void;
  /** A user is signed in; `firstTime` once per user and window (e.g. to resume their runs). */
  signedIn(session: IdentitySession, firstTime: boolean): void;
  /** The signed-in user changed without a sign-out in between. */
  userChanged?(from: string, to: string): void;
}

/**
 * What a change of the sign-in state means for the rest of the extension: a sign-out forgets
 * every credential and confirmation; a sign-in resumes the user's work once per window. Edges,
 * not levels: the same state twice does nothing.
 */
export class SessionLifecycle {
  private user?: string;
  private readonly seen = new Set<string>();

  constructor(private readonly hooks: LifecycleHooks) {}

  update(state: LifecycleState): void {
    if (state.kind === 'signedIn') {
      const key = userKey(state.session);
      if (this.user === key) return;
      const previous = this.user;
      this.user = key;
      if (previous) this.hooks.userChanged?.(previous, key);
      const first = !this.seen.has(key);
      this.seen.add(key);
      this.hooks.signedIn(state.session, first);
    } else if (state.kind === 'signedOut' && this.user) {
      this.user = undefined;
      this.hooks.signedOut(state.reason);
    }
  }

  /** issuer|subject of the signed-in user, as the last update saw it. */
  get currentUser(): string | undefined {
    return this.user;
  }
}

/**
 * The message above the Environments view, or undefined. A tree with a message shows no welcome
 * view, so the states that have a welcome (signed out, signing in) get no message: the welcome
 * says it, with its buttons.
 */
export function environmentsMessage(state: LifecycleState): string | undefined {
  if (state.kind === 'signedIn' && state.refreshError) return `Session refresh failed: ${state.refreshError}`;
  return undefined;
}
