/**
 * What a low-level network error code means to the user. Node's net/dns/tls codes and undici's
 * (fetch) codes; anything here is kind 'network': the request never got an answer.
 */
export interface NetworkCodeText {
  /** Short reason, e.g. "connection refused". */
  text: string;
  /** What to do. */
  action: string;
  /** The wait ran out (as opposed to a refusal). */
  timeout?: boolean;
}

const CHECK = 'Check the endpoint setting and your network or VPN, then retry.';

const CODES: Record<string, NetworkCodeText> = {
  ECONNREFUSED: { text: 'connection refused: nothing listens there', action: CHECK },
  ENOTFOUND: { text: 'host not found', action: 'Check the host name in the endpoint setting and your DNS or VPN.' },
  EAI_AGAIN: { text: 'DNS lookup failed', action: 'Check your network, DNS or VPN, then retry.' },
  ECONNRESET: { text: 'connection reset', action: CHECK },
  EPIPE: { text: 'connection closed while sending', action: CHECK },
  EHOSTUNREACH: { text: 'host unreachable', action: CHECK },
  ENETUNREACH: { text: 'network unreachable', action: CHECK },
  ENETDOWN: { text: 'network down', action: 'Check your network connection, then retry.' },
  ETIMEDOUT: { text: 'timed out', action: CHECK, timeout: true },
  ECONNABORTED: { text: 'timed out', action: CHECK, timeout: true },
  ESOCKETTIMEDOUT: { text: 'timed out', action: CHECK, timeout: true },
  UND_ERR_CONNECT_TIMEOUT: { text: 'connection timed out', action: CHECK, timeout: true },
  UND_ERR_HEADERS_TIMEOUT: { text: 'no answer in time', action: CHECK, timeout: true },
  UND_ERR_BODY_TIMEOUT: { text: 'the answer stalled', action: CHECK, timeout: true },
  UND_ERR_SOCKET: { text: 'connection closed by the other side', action: CHECK },
  UND_ERR_CLOSED: { text: 'connection closed', action: CHECK },
  ERR_SOCKET_CONNECTION_TIMEOUT: { text: 'connection timed out', action: CHECK, timeout: true },
  CERT_HAS_EXPIRED: { text: "the server's TLS certificate has expired", action: 'Check the endpoint; a proxy or the server presents an expired certificate.' },
  DEPTH_ZERO_SELF_SIGNED_CERT: { text: 'self-signed TLS certificate', action: 'Check the endpoint; if a corporate proxy inspects TLS, add its CA to NODE_EXTRA_CA_CERTS.' },
  SELF_SIGNED_CERT_IN_CHAIN: { text: 'self-signed certificate in the TLS chain', action: 'If a corporate proxy inspects TLS, add its CA to NODE_EXTRA_CA_CERTS.' },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { text: 'TLS certificate cannot be verified', action: 'If a corporate proxy inspects TLS, add its CA to NODE_EXTRA_CA_CERTS.' },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { text: 'TLS certificate issuer unknown', action: 'If a corporate proxy inspects TLS, add its CA to NODE_EXTRA_CA_CERTS.' },
  ERR_TLS_CERT_ALTNAME_INVALID: { text: "the TLS certificate does not name this host", action: 'Check the host name in the endpoint setting.' },
};

/** The meaning of a network error code, or undefined when it is not one. */
export function describeNetworkCode(code: string | undefined): NetworkCodeText | undefined {
  return code && Object.prototype.hasOwnProperty.call(CODES, code) ? CODES[code] : undefined;
}

/**
 * The network error code behind what fetch or axios threw: fetch's TypeError("fetch failed")
 * carries it in `cause` (for a host with several addresses, in an AggregateError's `errors`).
 * Undefined when the error is not a network failure.
 */
export function networkErrorCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof o.code === 'string' && describeNetworkCode(o.code)) return o.code;
  const fromCause = networkErrorCode(o.cause, depth + 1);
  if (fromCause) return fromCause;
  if (Array.isArray(o.errors)) for (const inner of o.errors.slice(0, 8)) {
    const c = networkErrorCode(inner, depth + 1);
    if (c) return c;
  }
  return undefined;
}
