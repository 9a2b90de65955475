// The OpenTelemetry part of access-log forwarding: records → an OTLP/HTTP JSON
// ExportLogsServiceRequest. Only ever loaded through loadOtlpJson() (encodeLogs.ts), so
// activation does not evaluate these libraries; nothing else may import this file.
//
// Versions are pinned (package.json): @opentelemetry/otlp-transformer and sdk-logs 0.223.1,
// resources 2.12.1, api 1.9.1 are the last releases whose engines include Node 20 (0.300 / 3.x
// need Node >= 22.15, newer than VS Code's extension host); the serializer is marked
// experimental, so it is pinned exactly. The exporter packages (exporter-logs-otlp-http,
// otlp-exporter-base) are not used: their export callback reports a throttled or failed batch
// without its status or Retry-After and retries on its own, while delivery here advances a
// cursor only after a 2xx and schedules retries itself (AuditForwarder.ts, OtlpHttpTransport.ts).
import type { HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceAttributes, SCOPE_NAME, type AuditLogRecord, type ForwardingIdentity } from './auditLogRecord';

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** The request body for `records`; `observedMs` is when they were read from the log. */
export function encodeLogsJson(records: readonly AuditLogRecord[], identity: ForwardingIdentity, observedMs: number): Uint8Array {
  // One resource and one scope object per request: the serializer groups records by identity.
  const resource = resourceFromAttributes(resourceAttributes(identity));
  const instrumentationScope = { name: SCOPE_NAME, version: identity.serviceVersion };
  const observed = hrTime(observedMs);
  const logs: ReadableLogRecord[] = records.map((r) => ({
    hrTime: hrTime(r.timeMs),
    hrTimeObserved: observed,
    severityNumber: r.severityNumber || undefined,
    severityText: r.severityText || undefined,
    body: r.body,
    resource,
    instrumentationScope,
    attributes: r.attributes,
    droppedAttributesCount: 0,
  }));
  return JsonLogsSerializer.serializeRequest(logs) ?? new Uint8Array();
}
