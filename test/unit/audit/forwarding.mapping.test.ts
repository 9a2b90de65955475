import { strict as assert } from 'node:assert';
import type { AccessEvent } from '../../../src/core/audit/AccessLog';
import { resourceAttributes, toAuditLogRecord } from '../../../src/core/audit/forwarding/auditLogRecord';
import { encodeLogs } from '../../../src/core/audit/forwarding/encodeLogs';

const HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const PREV = '0'.repeat(64);
// Token-shaped test values (not real credentials).
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6Im1sIn0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi1ub3QtcmVhbA';
const PAT = 'dapi0123456789abcdef0123456789abcdef';
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLQ';

function event(fields: Record<string, unknown> = {}): AccessEvent {
  return {
    type: 'credentialIssued',
    outcome: 'success',
    time: '2026-12-01T14:02:03.456Z',
    seq: 1234,
    prev: PREV,
    hash: HASH,
    mac: 'a'.repeat(64),
    actor: { issuer: 'https://idp.example', subject: 'alice-sub', name: 'Alice' },
    environment: 'staging',
    target: 'databricks',
    tokenFingerprint: 'sha256:0123456789ab',
    ...fields,
  } as AccessEvent;
}

describe('audit forwarding: an entry as a log record', () => {
  it('body = event name, time = entry time, fields flattened, chain members as mlspanner.*', () => {
    const r = toAuditLogRecord(event({ groups: ['ml-dev', 'ml-staging'], ttlSeconds: 900, cached: false, reason: undefined, extra: null }));
    assert.equal(r.body, 'credentialIssued');
    assert.equal(r.timeMs, Date.UTC(2026, 11, 1, 14, 2, 3, 456));
    assert.deepEqual([r.severityNumber, r.severityText], [9, 'INFO']);
    assert.deepEqual(r.attributes, {
      outcome: 'success',
      'actor.issuer': 'https://idp.example',
      'actor.subject': 'alice-sub',
      'actor.name': 'Alice',
      environment: 'staging',
      target: 'databricks',
      tokenFingerprint: 'sha256:0123456789ab',
      groups: '["ml-dev","ml-staging"]',
      ttlSeconds: 900,
      cached: false,
      'mlspanner.seq': 1234,
      'mlspanner.hash': HASH,
      'mlspanner.prev': PREV,
    });
  });

  const severities: Array<[string, number, string]> = [
    ['success', 9, 'INFO'],
    ['cancelled', 9, 'INFO'],
    ['denied', 13, 'WARN'],
    ['failure', 17, 'ERROR'],
  ];
  for (const [outcome, n, text] of severities)
    it(`outcome ${outcome} is severity ${text}`, () => {
      const r = toAuditLogRecord(event({ outcome }));
      assert.deepEqual([r.severityNumber, r.severityText], [n, text]);
    });

  it('redacts every token-shaped value again, wherever it sits (values, nested values, arrays, keys)', () => {
    const r = toAuditLogRecord(
      event({
        detail: `server said Bearer ${JWT}`,
        request: { headers: { authorization: `Bearer ${PAT}` }, keys: [AWS_KEY] },
        [`note-${PAT}`]: 'x',
      }),
    );
    const text = JSON.stringify(r);
    for (const secret of [JWT, PAT, AWS_KEY, JWT.split('.')[1]]) assert.ok(!text.includes(secret), `${secret.slice(0, 8)}… leaked: ${text}`);
    assert.match(String(r.attributes.detail), /redacted/);
    assert.equal(r.attributes['mlspanner.hash'], HASH, 'hashes are not token-shaped');
  });

  it('names the service, its version, the host and the OS account in the resource', () => {
    assert.deepEqual(resourceAttributes({ serviceVersion: '0.1.0', hostName: 'ws-42', osUser: 'alice' }), {
      'service.name': 'ml-spanner-access',
      'service.version': '0.1.0',
      'host.name': 'ws-42',
      'process.owner': 'alice',
    });
  });

  it('encodes a batch as an OTLP/HTTP JSON ExportLogsServiceRequest (opentelemetry-proto JSON mapping)', () => {
    const records = [toAuditLogRecord(event()), toAuditLogRecord(event({ seq: 1235, type: 'accessDenied', outcome: 'denied' }))];
    const body = JSON.parse(Buffer.from(encodeLogs(records, { serviceVersion: '0.1.0', hostName: 'ws-42' }, Date.UTC(2026, 11, 1, 14, 5))).toString('utf8'));
    assert.equal(body.resourceLogs.length, 1, 'one resource');
    const [rl] = body.resourceLogs;
    assert.deepEqual(
      rl.resource.attributes.find((a: { key: string }) => a.key === 'service.name'),
      { key: 'service.name', value: { stringValue: 'ml-spanner-access' } },
    );
    assert.equal(rl.scopeLogs.length, 1, 'one scope');
    assert.deepEqual(rl.scopeLogs[0].scope, { name: 'mlspanner.accessLog', version: '0.1.0' });
    const [a, b] = rl.scopeLogs[0].logRecords;
    assert.equal(a.timeUnixNano, '1796133723456000000');
    assert.equal(a.observedTimeUnixNano, '1796133900000000000');
    assert.deepEqual(a.body, { stringValue: 'credentialIssued' });
    assert.deepEqual(
      a.attributes.find((x: { key: string }) => x.key === 'mlspanner.seq'),
      { key: 'mlspanner.seq', value: { intValue: 1234 } },
    );
    assert.deepEqual([b.severityNumber, b.severityText, b.body.stringValue], [13, 'WARN', 'accessDenied']);
  });
});
