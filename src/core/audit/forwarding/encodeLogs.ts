import type * as OtlpJson from './otlpJson';
import type { AuditLogRecord, ForwardingIdentity } from './auditLogRecord';

let otlpJson: typeof OtlpJson | undefined;

/**
 * The OpenTelemetry encoding (otlpJson.ts and the libraries it imports), evaluated on the first
 * batch sent: activation and windows without forwarding never pay for it. esbuild keeps a
 * require() inside a function lazy in the CommonJS bundle.
 */
function loadOtlpJson(): typeof OtlpJson {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (otlpJson ??= require('./otlpJson') as typeof OtlpJson);
}

/** True once the OpenTelemetry encoding has been evaluated by this module (for tests of lazy loading). */
export function otlpLoaded(): boolean {
  return otlpJson !== undefined;
}

/** Encodes a batch as an OTLP/HTTP JSON ExportLogsServiceRequest (Content-Type: application/json). */
export function encodeLogs(records: readonly AuditLogRecord[], identity: ForwardingIdentity, observedMs: number): Uint8Array {
  return loadOtlpJson().encodeLogsJson(records, identity, observedMs);
}
