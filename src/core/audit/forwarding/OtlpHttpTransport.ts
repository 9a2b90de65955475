import { CancelledError, UserFacingError } from '../../errors';
import { bodyError, createHttpClient, describeHttpFailure, parseRetryAfter, serviceText, type AxiosInstance } from '../../http/HttpClient';
import { forgetSecret, redact, registerSecret } from '../../redact';

/** What became of one batch. */
export type DeliveryResult =
  | {
      ok: true;
      /** Records the collector accepted the request with but dropped (OTLP partial success). */
      rejected: number;
      /** The collector's word on them, redacted. */
      message?: string;
    }
  | {
      ok: false;
      /** Worth trying again soon (network, timeout, 408, 429, 5xx); otherwise only after the long wait. */
      retryable: boolean;
      status?: number;
      /** From Retry-After (429, 503): wait at least this long. */
      retryAfterMs?: number;
      /** 413: the batch is too large for this collector. */
      tooLarge?: boolean;
      error: UserFacingError;
    };

/** Sends one encoded batch. Rejects only with CancelledError (the signal fired). */
export interface LogTransport {
  send(body: Uint8Array, signal: AbortSignal): Promise<DeliveryResult>;
  dispose?(): void;
}

export const SERVICE = 'The audit collector';
/** Whole-request deadline of one attempt: a collector that accepts the connection but never answers cannot hold delivery. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;
const SET_HEADERS = 'Check the headers (ML Spanner: Set Audit Forwarding Headers…).';

/** OTLP/HTTP (spec: "OTLP/HTTP Response", "Retryable Response Codes"): these may succeed later. */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/**
 * OTLP/HTTP with JSON bodies (`application/json`, OTLP 1.x), POSTed to the configured logs
 * endpoint through the project's HTTP client: no redirects followed (headers go only where the
 * setting says), no proxy from the environment, one deadline for the whole request, and no
 * retries of its own (AuditForwarder decides when to try again). Every status is answered as a
 * DeliveryResult that says what happened and what to do.
 */
export class OtlpHttpTransport implements LogTransport {
  private readonly http: AxiosInstance;
  private disposed = false;

  constructor(
    readonly endpoint: string,
    private readonly headers: Readonly<Record<string, string>>,
    options: { timeoutMs?: number } = {},
  ) {
    this.http = createHttpClient({ service: SERVICE, timeoutMs: options.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS, retry: { maxRetries: 0 } });
    // A collector that quotes a header (an API key) back in an error must not put it in a message.
    for (const v of Object.values(headers)) registerSecret(v);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.headers)) forgetSecret(v);
  }

  async send(body: Uint8Array, signal: AbortSignal): Promise<DeliveryResult> {
    let res;
    try {
      res = await this.http.post<string>(this.endpoint, Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
        headers: { ...this.headers, 'Content-Type': 'application/json' },
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        signal,
      });
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      // Unreachable, refused, reset, timed out: the project's network wording (ServiceError).
      const error = e instanceof UserFacingError ? e : new UserFacingError('network', `${SERVICE} at ${this.endpoint} could not be reached: ${redact(String(e))}`);
      return { ok: false, retryable: true, error };
    }
    return describeResponse(this.endpoint, res.status, res.statusText, typeof res.data === 'string' ? res.data : '', res.headers?.['retry-after']);
  }
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The result for one HTTP answer; exported for the table test. */
export function describeResponse(endpoint: string, status: number, statusText: string, text: string, retryAfter: unknown, now = Date.now()): DeliveryResult {
  const body = parseBody(text);
  if (status >= 200 && status < 300) {
    // ExportLogsServiceResponse.partial_success: accepted, but some records were dropped; the
    // spec says not to send them again.
    const partial = (body as { partialSuccess?: { rejectedLogRecords?: unknown; errorMessage?: unknown } } | null)?.partialSuccess;
    const rejected = Number(partial?.rejectedLogRecords ?? 0);
    const message = typeof partial?.errorMessage === 'string' && partial.errorMessage ? serviceText(partial.errorMessage) : undefined;
    return { ok: true, rejected: Number.isFinite(rejected) ? rejected : 0, message };
  }
  const said = bodyError(body).message;
  const why = `HTTP ${status}${said ? `: ${said}` : statusText ? ` ${serviceText(statusText, 60)}` : ''}`;
  const fail = (kind: ConstructorParameters<typeof UserFacingError>[0], message: string, action?: string, more: Partial<Extract<DeliveryResult, { ok: false }>> = {}): DeliveryResult => ({
    ok: false,
    retryable: RETRYABLE.has(status),
    status,
    ...more,
    error: new UserFacingError(kind, message, action),
  });
  switch (status) {
    case 401:
      return fail('auth', `${SERVICE} at ${endpoint} refused the credentials (${why}).`, SET_HEADERS);
    case 403:
      return fail('denied', `${SERVICE} at ${endpoint} does not allow these credentials to send logs (${why}).`, SET_HEADERS);
    case 404:
    case 405:
      return fail('config', `${SERVICE} has no OTLP logs endpoint at ${endpoint} (${why}).`, 'Check mlspanner.audit.otlpEndpoint: OTLP/HTTP collectors take logs at …/v1/logs.');
    case 413:
      return fail('service', `${SERVICE} refused a batch as too large (${why}).`, 'Smaller batches are sent; if one entry is refused, raise the collector\'s request size limit.', { tooLarge: true });
    case 429:
    case 503: {
      const retryAfterMs = parseRetryAfter(retryAfter, now);
      const when = retryAfterMs !== undefined ? ` It asked to wait ${Math.ceil(retryAfterMs / 1000)} s.` : '';
      return fail('service', `${SERVICE} at ${endpoint} is ${status === 429 ? 'throttling requests' : 'unavailable'} (${why}).${when}`, 'Entries are kept and sent when it accepts them.', { retryAfterMs });
    }
    case 400:
      return fail('protocol', `${SERVICE} at ${endpoint} rejected a batch as invalid (${why}).`, 'Check that the endpoint is an OTLP/HTTP logs endpoint that accepts JSON.');
  }
  if (status >= 300 && status < 400)
    return fail('config', `${SERVICE} redirected ${endpoint} elsewhere (HTTP ${status}); headers are only sent where the setting says.`, 'Set mlspanner.audit.otlpEndpoint to the final URL.');
  const described = describeHttpFailure(SERVICE, { status, statusText, body, origin: safeOrigin(endpoint), path: safePath(endpoint) });
  return { ok: false, retryable: RETRYABLE.has(status), status, error: described };
}

function safeOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return '';
  }
}

function safePath(endpoint: string): string {
  try {
    return new URL(endpoint).pathname;
  } catch {
    return '';
  }
}
