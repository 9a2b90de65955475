import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { UserFacingError } from '../errors';
import { redact } from '../redact';

/** A service's error, normalised from the body shapes of the contracts (Databricks, Google, OAuth). */
export class ServiceError extends UserFacingError {
  constructor(
    readonly service: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    message: string,
    action?: string,
  ) {
    // 401 and invalid_grant: the identity is not accepted (sign in again). 403: it is accepted
    // but lacks a permission, which signing in again does not change.
    super(status === 401 || code === 'invalid_grant' ? 'auth' : status === 403 ? 'denied' : status ? 'service' : 'network', message, action);
  }
}

export interface RetryPolicy {
  /** Attempts after the first, for 429/503 (and 502/504, connection resets). */
  maxRetries: number;
  /** Wait when the response has no Retry-After. Doubles each attempt. */
  baseDelayMs: number;
  /** Never wait longer than this for one Retry-After. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface HttpClientOptions {
  service: string; // "Databricks", "Google STS", ...: names the service in errors
  baseURL?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds, or
 * undefined when absent or unparsable.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const s = String(value).trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Delay before retry `attempt` (0-based), honouring Retry-After, capped. */
export function retryDelayMs(attempt: number, retryAfterHeader: unknown, policy: RetryPolicy, now = Date.now()): number {
  const fromHeader = parseRetryAfter(retryAfterHeader, now);
  const delay = fromHeader ?? policy.baseDelayMs * 2 ** attempt;
  return Math.min(delay, policy.maxDelayMs);
}

function bodyError(data: unknown): { code?: string; message?: string } {
  if (!data || typeof data !== 'object') return typeof data === 'string' && data.length < 500 ? { message: data } : {};
  const o = data as Record<string, unknown>;
  // Google: {"error":{"code","message","status"}}
  if (o.error && typeof o.error === 'object') {
    const g = o.error as Record<string, unknown>;
    return { code: typeof g.status === 'string' ? g.status : undefined, message: typeof g.message === 'string' ? g.message : undefined };
  }
  // Databricks REST: {error_code, message}
  if (typeof o.error_code === 'string') return { code: o.error_code, message: typeof o.message === 'string' ? o.message : undefined };
  // OAuth (RFC 6749 §5.2): {error, error_description}
  if (typeof o.error === 'string')
    return { code: o.error, message: typeof o.error_description === 'string' ? o.error_description : undefined };
  if (typeof o.message === 'string') return { message: o.message };
  return {};
}

/** Turns whatever axios threw into a ServiceError that says what failed and why. */
export function toServiceError(service: string, e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (axios.isAxiosError(e)) {
    const ax = e as AxiosError;
    const url = ax.config?.url ? redact(String(new URL(ax.config.url, ax.config.baseURL ?? 'http://x').pathname)) : '';
    if (ax.response) {
      const { code, message } = bodyError(ax.response.data);
      const what = message ? redact(message) : `HTTP ${ax.response.status} ${ax.response.statusText || ''}`.trim();
      return new ServiceError(service, ax.response.status, code, `${service} refused ${url}: ${code ? code + ': ' : ''}${what}`);
    }
    if (ax.code === 'ECONNABORTED' || ax.code === 'ETIMEDOUT')
      return new ServiceError(service, undefined, ax.code, `${service} did not answer in time (${url}).`, 'Check the endpoint and your network, then retry.');
    const host = ax.config?.baseURL ?? ax.config?.url ?? '';
    let origin = '';
    try {
      origin = new URL(String(ax.config?.url ?? ''), host || undefined).origin;
    } catch {
      /* keep empty */
    }
    return new ServiceError(
      service,
      undefined,
      ax.code,
      `${service} is unreachable at ${origin || 'its endpoint'} (${ax.code ?? ax.message}).`,
      'Check the endpoint setting and your network.',
    );
  }
  return new ServiceError(service, undefined, undefined, `${service}: ${redact(e instanceof Error ? e.message : String(e))}`);
}

/**
 * An axios instance that retries 429/502/503/504 and connection resets, waiting as
 * `Retry-After` says (Databricks sends whole seconds), and maps failures to ServiceError.
 * Only idempotent requests are retried unless the caller marks the request `retryUnsafe: true`
 * (safe for POSTs carrying an idempotency token).
 */
export function createHttpClient(opts: HttpClientOptions): AxiosInstance {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const instance = axios.create({
    baseURL: opts.baseURL,
    timeout: opts.timeoutMs ?? 30_000,
    maxRedirects: 0,
    // No proxy from the environment: tokens go only where the settings say.
    proxy: false,
  });
  instance.interceptors.response.use(undefined, async (error: unknown) => {
    if (!axios.isAxiosError(error) || !error.config) throw toServiceError(opts.service, error);
    const config = error.config as AxiosRequestConfig & { __attempt?: number; retryUnsafe?: boolean };
    const attempt = config.__attempt ?? 0;
    const method = (config.method ?? 'get').toLowerCase();
    const idempotent = ['get', 'head', 'options', 'put', 'delete'].includes(method) || config.retryUnsafe === true;
    const status = error.response?.status;
    // A 429 means the request was not processed, so it is safe to repeat even for POST.
    const retryable =
      (status !== undefined && RETRYABLE_STATUS.has(status) && (idempotent || status === 429 || status === 503)) ||
      (status === undefined && idempotent && ['ECONNRESET', 'EPIPE'].includes(String(error.code)));
    if (!retryable || attempt >= policy.maxRetries) throw toServiceError(opts.service, error);
    await sleep(retryDelayMs(attempt, error.response?.headers?.['retry-after'], policy, now()));
    config.__attempt = attempt + 1;
    return instance.request(config);
  });
  return instance;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Retry this non-idempotent request on 5xx (it carries an idempotency token). */
    retryUnsafe?: boolean;
  }
}

export type { AxiosInstance, AxiosResponse };
