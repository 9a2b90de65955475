/**
 * One error type for everything the user may see: what failed, why, and what to do.
 * Messages never carry token values (see redact.ts); `detail` is for the log only.
 */
export type ErrorKind =
  | 'cancelled' // the user cancelled: stay silent
  | 'config' // a setting is wrong: name it
  | 'network' // unreachable, DNS, TLS, timeout
  | 'auth' // the IdP or a service refused the identity: sign in again
  | 'denied' // policy says no (missing group)
  | 'service' // a service answered with an error
  | 'protocol'; // a malformed or unexpected response

/** A button an error offers: a command and its arguments. */
export interface Remedy {
  title: string;
  command: string;
  args?: unknown[];
}

/** The remedies messages name; each error says which of them apply, nothing is derived from its kind. */
export const Remedies = {
  signIn: { title: 'Sign In', command: 'mlspanner.signIn' },
  openSettings: (query = 'mlspanner'): Remedy => ({ title: 'Open Settings', command: 'workbench.action.openSettings', args: [query] }),
  explainAccess: (environment?: string): Remedy => ({ title: 'Explain Access', command: 'mlspanner.explainAccess', args: environment ? [{ args: { environment } }] : [] }),
  runJobInStaging: { title: 'Run Job in Staging…', command: 'mlspanner.runJobInStaging' },
  retry: (command: string, args: unknown[] = []): Remedy => ({ title: 'Retry', command, args }),
} as const;

export class UserFacingError extends Error {
  override readonly name = 'UserFacingError';
  /** The buttons the notification offers (besides Show Log). */
  readonly remedies: readonly Remedy[];
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly action?: string,
    readonly detail?: string,
    options?: { cause?: unknown; remedies?: readonly Remedy[] },
  ) {
    super(message, options);
    this.remedies = options?.remedies ?? [];
  }

  /** "What failed. Why. What to do." in one line, for a notification. */
  get display(): string {
    return this.action ? `${this.message} ${this.action}` : this.message;
  }
}

export class CancelledError extends UserFacingError {
  constructor(message = 'Cancelled.') {
    super('cancelled', message);
  }
}

export function isCancellation(e: unknown): boolean {
  return e instanceof UserFacingError && e.kind === 'cancelled';
}

/** Best-effort readable text of anything thrown; never "{}" or "[object Object]". */
export function errorMessage(e: unknown): string {
  if (e instanceof UserFacingError) return e.display;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const base = e.message || e.name || 'Unknown error';
    const cause = e.cause instanceof Error && e.cause.message && !base.includes(e.cause.message) ? ` (${e.cause.message})` : '';
    return typeof code === 'string' && !base.includes(code) ? `${base} [${code}]${cause}` : `${base}${cause}`;
  }
  if (typeof e === 'string' && e) return e;
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    for (const k of ['error_description', 'message', 'error', 'error_code']) {
      if (typeof o[k] === 'string' && o[k]) return o[k] as string;
    }
    try {
      const json = JSON.stringify(e);
      if (json && json !== '{}') return json;
    } catch {
      /* circular: fall through */
    }
  }
  return 'Unknown error (no details were given).';
}
