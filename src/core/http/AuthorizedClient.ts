import type { Credential } from '../credentials/Credential';
import { UserFacingError } from '../errors';
import { tokenFingerprint } from '../fingerprint';
import { ServiceError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from './HttpClient';

/** A bearer token and its fingerprint (the only trace of it an access-log record may carry). */
export interface BearerToken {
  value: string;
  fingerprint: string;
}

/**
 * Where an authorized client gets its token. `forceRefresh` asks for a new one even if the
 * cached one looks valid (the service just refused it). Rejects with a UserFacingError; kind
 * 'auth' means the user must sign in again.
 */
export interface TokenSource {
  token(opts: { forceRefresh: boolean }): Promise<BearerToken>;
}

/** The older callback shape: a function returning the token string. */
export type TokenFunction = (forceRefresh?: boolean) => Promise<string>;

// RFC 6750 §2.1 b64token: what may follow "Bearer " in a header. Anything else (empty, spaces,
// a line break) would be a broken or injected header.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function checkedToken(value: unknown, what: string, where = ''): BearerToken {
  if (typeof value !== 'string' || value === '')
    throw new UserFacingError('protocol', `No ${what} token${where} was available (the credential had none); nothing was sent.`, 'Refresh the credentials, then retry; if it persists, report it.');
  if (!B64TOKEN.test(value)) throw new UserFacingError('protocol', `The ${what} token${where} is not a bearer token (it has characters a token cannot have); it was not sent.`, 'Refresh the credentials, then retry.');
  return { value, fingerprint: tokenFingerprint(value) };
}

/** A TokenSource over a function that returns the token string (validated: never an empty header). */
export function functionTokenSource(get: TokenFunction, what = 'access'): TokenSource {
  return { token: async ({ forceRefresh }) => checkedToken(await get(forceRefresh), what) };
}

export function isTokenSource(x: TokenSource | TokenFunction): x is TokenSource {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as Partial<TokenSource>).token === 'function';
}

/** Either shape, as a TokenSource. */
export function toTokenSource(x: TokenSource | TokenFunction, what?: string): TokenSource {
  return isTokenSource(x) ? x : functionTokenSource(x, what);
}

export interface CredentialTokenSourceOptions {
  /** Which credential is expected; anything else is refused. Default: either bearer kind. */
  target?: 'databricks' | 'google';
  /** Names the environment in errors. */
  environment?: string;
  /**
   * Who is signed in (e.g. `issuer|subject`). Needed for `keepValidForMs`: the token in hand is
   * only ever reused for the same identity, never after a sign-out or a switch of account.
   */
  identity?: () => string | undefined;
  /**
   * When renewing fails for a passing reason (network, service, malformed answer), keep using
   * the token in hand while it has at least this much life left (ms). Databricks refuses tokens
   * in their last 30 s. 0 turns it off. Default 60 s. Only with `identity`, and only while it is
   * unchanged; never after the service refused the token (forceRefresh), and never when the
   * user must sign in again or access was denied.
   */
  keepValidForMs?: number;
  now?: () => number;
}

const PASSING_KINDS = new Set(['network', 'service', 'protocol']);
const LABEL: Record<string, string> = { databricks: 'Databricks', google: 'Google' };

/**
 * A TokenSource over the credential broker's `get` for one environment and target. Accepts
 * only bearer credentials (Databricks, Google) with a non-empty token; refuses anything else
 * with a clear error instead of sending an empty or wrong header.
 */
export function credentialTokenSource(get: (forceRefresh: boolean) => Promise<Credential>, options: CredentialTokenSourceOptions = {}): TokenSource {
  const now = options.now ?? Date.now;
  const keepMs = options.keepValidForMs ?? 60_000;
  const where = options.environment ? ` for "${options.environment}"` : '';
  let last: { token: BearerToken; expiresAt: number; identity: string } | undefined;
  const accept = (c: unknown): BearerToken => {
    const cred = c as Partial<Credential> | undefined;
    const target = cred && typeof cred === 'object' ? cred.target : undefined;
    const wanted = options.target ? LABEL[options.target] : 'a Databricks or Google';
    if ((target !== 'databricks' && target !== 'google') || (options.target && target !== options.target))
      throw new UserFacingError(
        'protocol',
        `Expected ${options.target ? `a ${wanted}` : wanted} token${where}, but the credential is ${typeof target === 'string' ? `for ${target}` : 'not a bearer token'}; nothing was sent.`,
        'This is a bug in the extension: report it.',
      );
    const token = checkedToken((cred as { accessToken?: unknown }).accessToken, LABEL[target], where);
    const expiresAt = typeof cred?.expiresAt === 'number' ? cred.expiresAt : 0;
    const identity = options.identity?.();
    last = identity ? { token, expiresAt, identity } : undefined;
    return token;
  };
  return {
    async token({ forceRefresh }) {
      let c: Credential;
      try {
        c = await get(forceRefresh);
      } catch (e) {
        const held = last;
        const passing = e instanceof UserFacingError && PASSING_KINDS.has(e.kind);
        // The renewal failed, but the token in hand still works for a while: keep going.
        if (!forceRefresh && passing && keepMs > 0 && held && held.identity === options.identity?.() && held.expiresAt - now() > keepMs) return held.token;
        throw e;
      }
      return accept(c);
    },
  };
}

export interface AuthorizedRequestConfig extends AxiosRequestConfig {
  /** Do not retry a 401 with a fresh token (e.g. a probe). */
  noAuthRetry?: boolean;
}

/**
 * The one place that attaches a bearer token: every request asks the TokenSource, a 401 is
 * retried exactly once with `forceRefresh: true`, and the fingerprint of the token last sent is
 * kept for access-log records. Token-source failures reach the caller unchanged.
 */
export class AuthorizedClient {
  private fingerprint: string | undefined;

  constructor(
    private readonly http: AxiosInstance,
    private readonly tokens: TokenSource,
  ) {}

  /** Fingerprint of the token the last request carried (never the token). */
  get lastTokenFingerprint(): string | undefined {
    return this.fingerprint;
  }

  async request<T>(config: AuthorizedRequestConfig): Promise<AxiosResponse<T>> {
    const { noAuthRetry, ...rest } = config;
    const first = await this.tokens.token({ forceRefresh: false });
    try {
      return await this.send<T>(rest, first);
    } catch (e) {
      if (noAuthRetry || !(e instanceof ServiceError) || e.status !== 401) throw e;
    }
    // The cached token may have been revoked or be in its last seconds, which services refuse
    // (CONTRACTS.md, token federation): one more try with a fresh one, never more.
    const fresh = await this.tokens.token({ forceRefresh: true });
    return this.send<T>(rest, fresh);
  }

  /** The response body of `request`. */
  async data<T>(config: AuthorizedRequestConfig): Promise<T> {
    return (await this.request<T>(config)).data;
  }

  private send<T>(config: AxiosRequestConfig, token: BearerToken): Promise<AxiosResponse<T>> {
    this.fingerprint = token.fingerprint;
    const headers = { Accept: 'application/json', ...(config.headers as Record<string, string> | undefined), Authorization: `Bearer ${token.value}` };
    return this.http.request<T>({ ...config, headers });
  }
}
