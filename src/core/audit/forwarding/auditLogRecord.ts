import { redact } from '../../redact';
import type { AccessEvent } from '../AccessLog';

/** An attribute value as OpenTelemetry logs carry it here: flat, primitive. */
export type AttributeValue = string | number | boolean;

/**
 * One access-log entry as an OpenTelemetry log record, independent of the OpenTelemetry
 * libraries (they are loaded only to encode, see otlpJson.ts).
 */
export interface AuditLogRecord {
  /** The entry's `time`, in ms since the epoch. */
  timeMs: number;
  /** The event name (`signIn`, `credentialIssued`, …). */
  body: string;
  /** OpenTelemetry SeverityNumber (logs data model): 9 INFO, 13 WARN, 17 ERROR. */
  severityNumber: number;
  severityText: string;
  attributes: Record<string, AttributeValue>;
}

/** Who and where the records come from: the resource of every record. */
export interface ForwardingIdentity {
  /** The extension's version. */
  serviceVersion: string;
  /** This machine (os.hostname()). */
  hostName: string;
  /** The operating-system account VS Code runs as (os.userInfo().username), when known. */
  osUser?: string;
}

export const SERVICE_NAME = 'ml-spanner-access';
export const SCOPE_NAME = 'mlspanner.accessLog';

/** Resource attributes (OpenTelemetry semantic conventions: service.*, host.name, process.owner). */
export function resourceAttributes(id: ForwardingIdentity): Record<string, string> {
  const attrs: Record<string, string> = {
    'service.name': SERVICE_NAME,
    'service.version': id.serviceVersion,
    'host.name': id.hostName,
  };
  if (id.osUser) attrs['process.owner'] = id.osUser;
  return redactAttributes(attrs) as Record<string, string>;
}

const SEVERITY: Record<string, readonly [number, string]> = {
  success: [9, 'INFO'],
  cancelled: [9, 'INFO'],
  denied: [13, 'WARN'],
  failure: [17, 'ERROR'],
};

/** Chain members, named in the mlspanner namespace so they never clash with an entry's own fields. */
const CHAIN_ATTRIBUTES: Record<string, string> = { seq: 'mlspanner.seq', hash: 'mlspanner.hash', prev: 'mlspanner.prev' };
/** Not forwarded: `time` is the record's timestamp, `type` its body, `mac` is only checkable with this machine's key. */
const NOT_ATTRIBUTES = new Set(['time', 'type', 'mac']);

/**
 * The log record for one entry: body = the event name, timestamp = the entry's time, the other
 * fields flattened to dotted keys (`actor.subject`), arrays as JSON text, plus `mlspanner.seq`,
 * `mlspanner.hash` and `mlspanner.prev`. Entries were redacted when written; every key and
 * string value is redacted again here, so a line written by another tool (or by hand) cannot
 * carry a token to the collector.
 */
export function toAuditLogRecord(entry: AccessEvent): AuditLogRecord {
  const attributes: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (NOT_ATTRIBUTES.has(key)) continue;
    if (Object.prototype.hasOwnProperty.call(CHAIN_ATTRIBUTES, key)) continue;
    flatten(key, value, attributes, 0);
  }
  for (const [key, name] of Object.entries(CHAIN_ATTRIBUTES)) {
    const v = (entry as Record<string, unknown>)[key];
    if (typeof v === 'string' || typeof v === 'number') attributes[name] = v;
  }
  const [severityNumber, severityText] = SEVERITY[String(entry.outcome)] ?? [0, ''];
  const time = Date.parse(String(entry.time));
  return {
    timeMs: Number.isFinite(time) ? time : 0,
    body: redact(String(entry.type)),
    severityNumber,
    severityText,
    attributes: redactAttributes(attributes),
  };
}

/** Objects nested deeper than this are sent as JSON text (entries are shallow; this bounds a damaged one). */
const MAX_DEPTH = 4;

function flatten(key: string, value: unknown, out: Record<string, AttributeValue>, depth: number): void {
  if (value === null || value === undefined) return;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      out[key] = value;
      return;
    case 'number':
      out[key] = Number.isFinite(value) ? value : String(value);
      return;
    case 'object':
      if (Array.isArray(value) || depth >= MAX_DEPTH) {
        out[key] = JSON.stringify(value);
        return;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(`${key}.${k}`, v, out, depth + 1);
      return;
    default:
      out[key] = String(value);
  }
}

function redactAttributes(attrs: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) out[redact(k)] = typeof v === 'string' ? redact(v) : v;
  return out;
}
