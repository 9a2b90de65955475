// Only types come from axios at load time: evaluating axios loads Node's http stack and undici
// (~40 ms), so it is required on the first request instead (loadAxios). esbuild keeps a
// require() inside a function lazy in the CommonJS bundle.
import type { AxiosAdapter, AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, AxiosStatic, InternalAxiosRequestConfig } from 'axios';
import { CancelledError, UserFacingError, type ErrorKind } from '../errors';
import { redact } from '../redact';
import { describeNetworkCode } from './networkErrors';

/** A service's error, normalised from the body shapes of the contracts (Databricks, Google, OAuth). */
export class ServiceError extends UserFacingError {
  constructor(
    readonly service: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    message: string,
    action?: string,
    kind?: ErrorKind,
  ) {
    // 401 and invalid_grant: the identity is not accepted (sign in again). 403: it is accepted
    // but lacks a permission, which signing in again does not change.
    super(kind ?? (status === 401 || code === 'invalid_grant' ? 'auth' : status === 403 ? 'denied' : status ? 'service' : 'network'), message, action);
  }

  /** The service answered 5xx (or 429): it is there but cannot serve now; retrying later may work. */
  get unavailable(): boolean {
    return this.status !== undefined && (this.status >= 500 || this.status === 429);
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

export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};
/** Whole-request deadline (connect, headers and body) of one attempt. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Largest response body accepted: no API answer this extension reads is near it. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * Largest request body sent: a 10 MB notebook (the Workspace import limit, which the service
 * itself enforces) is about 13.4 MB as base64 in JSON.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface HttpClientOptions {
  service: string; // "Databricks", "Google STS", ...: names the service in errors
  baseURL?: string;
  /**
   * Deadline of one attempt, body included (a server trickling bytes cannot hold it open);
   * a request's own `timeout` overrides it.
   */
  timeoutMs?: number;
  /** Largest response body in bytes (default 10 MB). */
  maxBodyBytes?: number;
  /** Largest request body in bytes (default 32 MB). */
  maxRequestBytes?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Replaces the network for tests (an axios adapter; it must reject non-2xx itself). */
  adapter?: AxiosAdapter;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

let axiosModule: AxiosStatic | undefined;

/** axios, evaluated on first use (see the note at the top of this file). */
export function loadAxios(): AxiosStatic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  axiosModule ??= require('axios') as AxiosStatic;
  return axiosModule;
}

/** True once axios has been evaluated by this module (for tests of lazy loading). */
export function axiosLoaded(): boolean {
  return axiosModule !== undefined;
}

function isAxiosError(e: unknown): e is AxiosError {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds, or
 * undefined when absent or unparsable.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const s = String(value).trim();
  if (/^\d+$/.test(s)) {
    const ms = Number(s) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  // An HTTP-date starts with the day name and is short; anything else is not one ("-1" would
  // otherwise parse as the year -1).
  if (s.length > 64 || !/^[A-Za-z]{3}/.test(s)) return undefined;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Delay before retry `attempt` (0-based), honouring Retry-After, capped. */
export function retryDelayMs(attempt: number, retryAfterHeader: unknown, policy: RetryPolicy, now = Date.now()): number {
  const fromHeader = parseRetryAfter(retryAfterHeader, now);
  const delay = fromHeader ?? policy.baseDelayMs * 2 ** attempt;
  return Math.max(0, Math.min(delay, policy.maxDelayMs));
}

/** Text from a service is shown to the user: tokens redacted, whitespace flattened, length capped. */
export function serviceText(text: string, max = 300): string {
  const flat = redact(text).replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

/**
 * `text` without `secret` or any long piece of it (a JWT's header, payload or signature on its
 * own, e.g. when a service quotes a cut token), before the generic redaction runs.
 */
export function withoutSecret(text: string, secret: string): string {
  if (!secret) return text;
  const pieces = [secret, ...secret.split('.')].filter((p) => p.length >= 16).sort((a, b) => b.length - a.length);
  let out = text;
  for (const p of pieces) out = out.split(p).join('[redacted]');
  // A quoted prefix of the token (cut at some length) is still the token.
  const head = secret.slice(0, 24);
  if (head.length >= 16) out = out.split(head).join('[redacted]');
  return out;
}

/** The error code and message of a response body, in the shapes of the contracts. */
export function bodyError(data: unknown): { code?: string; message?: string } {
  if (!data || typeof data !== 'object') {
    // A short plain-text body says what went wrong; an HTML error page says nothing useful.
    if (typeof data !== 'string' || data.length >= 500 || /^\s*</.test(data) || !data.trim()) return {};
    return { message: serviceText(data) };
  }
  const o = data as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v ? serviceText(v, 120) : undefined);
  const msg = (v: unknown) => (typeof v === 'string' && v ? serviceText(v) : undefined);
  // Google: {"error":{"code","message","status"}}
  if (o.error && typeof o.error === 'object') {
    const g = o.error as Record<string, unknown>;
    return { code: str(g.status), message: msg(g.message) };
  }
  // Databricks REST: {error_code, message}
  if (typeof o.error_code === 'string') return { code: str(o.error_code), message: msg(o.message) };
  // OAuth (RFC 6749 §5.2): {error, error_description}
  if (typeof o.error === 'string') return { code: str(o.error), message: msg(o.error_description) };
  if (typeof o.message === 'string') return { message: msg(o.message) };
  return {};
}

/** What is known of a failed request, for describeHttpFailure. */
export interface HttpFailure {
  /** HTTP status when the service answered. */
  status?: number;
  statusText?: string;
  /** Node or axios error code when it did not (ECONNREFUSED, ECONNABORTED, ...). */
  code?: string;
  body?: unknown;
  /** Path of the request (no query: it may carry identifiers). */
  path?: string;
  /** scheme://host:port the request went to. */
  origin?: string;
  /** The whole-request deadline ran out. */
  deadlineMs?: number;
  /** The response body was larger than this many bytes. */
  tooLargeBytes?: number;
  /** The request body was larger than this many bytes (it was not sent). */
  requestTooLargeBytes?: number;
  /** Low-level message, used only when nothing better is known. */
  message?: string;
}

function sizeText(bytes: number): string {
  return bytes >= 1048576 ? `${Math.round(bytes / 1048576)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * What happened, as the user should read it: the service is unreachable (network), did not
 * answer in time (network), is unavailable (5xx: retry later), refused the request (4xx), sent
 * something unreadable (protocol), or redirected elsewhere (config). The table is unit-tested.
 */
export function describeHttpFailure(service: string, f: HttpFailure): ServiceError {
  const path = f.path ? redact(f.path) : '';
  const at = f.origin ? `${f.origin}${path}` : path || 'its endpoint';
  if (f.requestTooLargeBytes !== undefined)
    return new ServiceError(
      service,
      undefined,
      'REQUEST_TOO_LARGE',
      `The request to ${service} (${path || 'a request'}) is larger than ${sizeText(f.requestTooLargeBytes)}; it was not sent.`,
      'Send less at once (for notebooks: clear large outputs).',
      'config',
    );
  if (f.tooLargeBytes !== undefined)
    return new ServiceError(
      service,
      f.status,
      'RESPONSE_TOO_LARGE',
      `${service} sent more than ${sizeText(f.tooLargeBytes)} for ${path || 'a request'}; it was not read.`,
      'Check the endpoint setting; if the answer is legitimately that large, narrow the request.',
      'protocol',
    );
  if (f.deadlineMs !== undefined)
    return new ServiceError(
      service,
      undefined,
      'ETIMEDOUT',
      `${service} did not answer within ${seconds(f.deadlineMs)} (${at}).`,
      'Check the endpoint and your network or VPN, then retry.',
      'network',
    );
  if (f.status !== undefined) {
    const { code, message } = bodyError(f.body);
    const what = message ?? `HTTP ${f.status}${f.statusText ? ` ${serviceText(f.statusText, 60)}` : ''}`;
    const coded = `${code ? `${code}: ` : ''}${what}`;
    if (f.status >= 300 && f.status < 400)
      return new ServiceError(
        service,
        f.status,
        code,
        `${service} redirected ${path || 'the request'} elsewhere (HTTP ${f.status}); tokens are only sent where the settings say.`,
        'Check the endpoint setting: it must be the service URL itself.',
        'config',
      );
    if (f.status >= 500)
      return new ServiceError(
        service,
        f.status,
        code,
        `${service} is unavailable (HTTP ${f.status}) for ${path || 'the request'}: ${coded}`,
        'The service is having trouble: retry in a few minutes.',
      );
    return new ServiceError(service, f.status, code, `${service} refused ${path}: ${coded}`);
  }
  const net = describeNetworkCode(f.code);
  if (net?.timeout)
    return new ServiceError(service, undefined, f.code, `${service} did not answer in time (${at}).`, 'Check the endpoint and your network or VPN, then retry.', 'network');
  if (net) return new ServiceError(service, undefined, f.code, `${service} is unreachable at ${f.origin || 'its endpoint'} (${f.code}: ${net.text}).`, net.action, 'network');
  const why = f.code ?? (f.message ? serviceText(f.message, 120) : 'no answer');
  return new ServiceError(
    service,
    undefined,
    f.code,
    `${service} is unreachable at ${f.origin || 'its endpoint'} (${why}).`,
    'Check the endpoint setting and your network.',
    'network',
  );
}

/** axios's error when the connection closes while the body is arriving (after the status line). */
function cutMidBody(e: { code?: string; message?: string }): boolean {
  return e.code === 'ERR_BAD_RESPONSE' && /aborted/i.test(e.message ?? '');
}

interface RequestState {
  /** Retries done so far. */
  __attempt?: number;
  /** The caller's own AbortSignal (null: none), kept apart from the per-attempt deadline. */
  __callerSignal?: AbortSignal | null;
  /** This attempt's signal (aborted by the deadline or the caller) and the deadline's length. */
  __deadline?: AbortSignal;
  __deadlineMs?: number;
  /** Clears this attempt's deadline timer and caller listener. */
  __release?: () => void;
}

type StatefulConfig = AxiosRequestConfig & RequestState;

function requestPlace(config: AxiosRequestConfig | undefined): {
  path: string;
  origin: string;
} {
  try {
    const u = new URL(String(config?.url ?? ''), config?.baseURL || undefined);
    return { path: u.pathname, origin: u.origin };
  } catch {
    return { path: '', origin: '' };
  }
}

/** Turns whatever axios threw into a ServiceError that says what failed and why. */
export function toServiceError(service: string, e: unknown, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES): UserFacingError {
  if (e instanceof UserFacingError) return e;
  if (isAxiosError(e)) {
    const config = e.config as StatefulConfig | undefined;
    const { path, origin } = requestPlace(config);
    if (e.code === 'ERR_CANCELED' || e.name === 'CanceledError') {
      // The attempt's signal fired, and not because the caller cancelled: the deadline ran out.
      if (config?.__deadline?.aborted && !config.__callerSignal?.aborted)
        return describeHttpFailure(service, {
          path,
          origin,
          deadlineMs: config.__deadlineMs,
        });
      return new CancelledError(`${service} request cancelled.`);
    }
    if (/maxBodyLength/.test(e.message ?? '')) return describeHttpFailure(service, { path, origin, requestTooLargeBytes: maxRequestBytes });
    if (/maxContentLength/.test(e.message ?? ''))
      return describeHttpFailure(service, {
        path,
        origin,
        tooLargeBytes: maxBodyBytes,
        status: e.response?.status,
      });
    // The status line came, then the connection dropped: a reset, not the service's answer.
    if (cutMidBody(e)) return describeHttpFailure(service, { code: 'ECONNRESET', path, origin, message: e.message });
    if (e.response)
      return describeHttpFailure(service, {
        status: e.response.status,
        statusText: e.response.statusText,
        body: e.response.data,
        path,
        origin,
      });
    return describeHttpFailure(service, {
      code: e.code ?? (e.cause as { code?: string } | undefined)?.code,
      path,
      origin,
      message: e.message,
    });
  }
  return new ServiceError(service, undefined, undefined, `${service}: ${serviceText(e instanceof Error ? e.message : String(e))}`, undefined, 'network');
}

/**
 * An AxiosInstance whose axios is created on the first use of any member (a request, in
 * practice), so making clients at activation costs nothing.
 */
function lazyInstance(make: () => AxiosInstance): AxiosInstance {
  let real: AxiosInstance | undefined;
  const get = () => (real ??= make());
  return new Proxy((() => undefined) as unknown as AxiosInstance, {
    apply: (_t, _this, args: unknown[]) => (get() as unknown as (...a: unknown[]) => unknown)(...args),
    get: (_t, prop) => {
      const inst = get();
      const v: unknown = Reflect.get(inst, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(inst) : v;
    },
    set: (_t, prop, value) => Reflect.set(get(), prop, value),
    has: (_t, prop) => Reflect.has(get(), prop),
  });
}

/**
 * An axios instance that retries 429/502/503/504 and connection resets, waiting as
 * `Retry-After` says (Databricks sends whole seconds), bounds every attempt by a deadline
 * that covers the body too, refuses bodies over `maxBodyBytes`, and maps failures to
 * ServiceError. Only idempotent requests are retried unless the caller marks the request
 * `retryUnsafe: true` (safe for POSTs carrying an idempotency token). axios itself is loaded
 * on the first request.
 */
export function createHttpClient(opts: HttpClientOptions): AxiosInstance {
  return lazyInstance(() => makeInstance(opts));
}

function makeInstance(opts: HttpClientOptions): AxiosInstance {
  const axios = loadAxios();
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const instance = axios.create({
    baseURL: opts.baseURL,
    // axios's own timeout only fires while no byte arrives; the deadline below bounds the whole attempt.
    timeout: timeoutMs,
    maxContentLength: maxBodyBytes,
    maxBodyLength: maxRequestBytes,
    maxRedirects: 0,
    // No proxy from the environment: tokens go only where the settings say.
    proxy: false,
    ...(opts.adapter ? { adapter: opts.adapter } : {}),
  });
  instance.interceptors.request.use((config: InternalAxiosRequestConfig) => {
    const c = config as InternalAxiosRequestConfig & RequestState;
    if (c.__callerSignal === undefined) c.__callerSignal = (c.signal as AbortSignal | undefined) ?? null;
    const ms = typeof c.timeout === 'number' && c.timeout > 0 ? c.timeout : timeoutMs;
    // One controller per attempt, aborted by the deadline or by the caller; released when the
    // attempt settles so no timer outlives its request.
    const controller = new AbortController();
    const caller = c.__callerSignal;
    const onCallerAbort = () => controller.abort(caller?.reason);
    const timer = setTimeout(() => controller.abort(new Error('deadline')), ms);
    timer.unref?.();
    if (caller) {
      if (caller.aborted) onCallerAbort();
      else caller.addEventListener('abort', onCallerAbort, { once: true });
    }
    c.__release?.();
    c.__release = () => {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    };
    c.__deadline = controller.signal;
    c.__deadlineMs = ms;
    c.signal = controller.signal;
    return c;
  });
  instance.interceptors.response.use(
    (response) => {
      (response.config as StatefulConfig).__release?.();
      return response;
    },
    async (error: unknown) => {
      if (!isAxiosError(error) || !error.config) throw toServiceError(opts.service, error, maxBodyBytes, maxRequestBytes);
      const config = error.config as StatefulConfig;
      config.__release?.();
      const attempt = config.__attempt ?? 0;
      const method = (config.method ?? 'get').toLowerCase();
      const idempotent = ['get', 'head', 'options', 'put', 'delete'].includes(method) || config.retryUnsafe === true;
      const status = error.response?.status;
      // A 429 means the request was not processed, so it is safe to repeat even for POST.
      const retryable =
        (status !== undefined && RETRYABLE_STATUS.has(status) && (idempotent || status === 429 || status === 503)) ||
        (status === undefined && idempotent && ['ECONNRESET', 'EPIPE'].includes(String(error.code))) ||
        (idempotent && cutMidBody(error));
      if (!retryable || attempt >= policy.maxRetries || config.__callerSignal?.aborted) throw toServiceError(opts.service, error, maxBodyBytes, maxRequestBytes);
      await sleep(retryDelayMs(attempt, error.response?.headers?.['retry-after'], policy, now()));
      if (config.__callerSignal?.aborted) throw new CancelledError(`${opts.service} request cancelled.`);
      config.__attempt = attempt + 1;
      return instance.request(config);
    },
  );
  return instance;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Retry this non-idempotent request on 5xx (it carries an idempotency token). */
    retryUnsafe?: boolean;
  }
}

export type { AxiosAdapter, AxiosInstance, AxiosRequestConfig, AxiosResponse };
