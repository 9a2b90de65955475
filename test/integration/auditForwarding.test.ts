import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../src/core/audit/AccessLog';
import { createFileForwarder, type AuditForwarder, type FileForwarderOptions } from '../../src/core/audit/forwarding/AuditForwarder';

/**
 * Access-log forwarding against a loopback OTLP/HTTP collector that decodes what it is sent
 * (ExportLogsServiceRequest in the protobuf JSON mapping, as OTLP/HTTP JSON defines it) and can
 * be down, slow, or throttling. Real files, real HTTP, real timers (short backoff).
 */

// Token-shaped test values (not real credentials).
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6Im1sIn0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi1ub3QtcmVhbA';
const PAT = 'dapi0123456789abcdef0123456789abcdef';
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLQ';
const API_KEY = 'collector-api-key-4f9a1c';

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: AnyValue[] }; kvlistValue?: { values: KeyValue[] } };
type KeyValue = { key: string; value: AnyValue };

interface Received {
  seq: number;
  body: string;
  timeUnixNano: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: string;
}

function value(v: AnyValue): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if (v.arrayValue) return v.arrayValue.values.map(value);
  if (v.kvlistValue) return attrs(v.kvlistValue.values);
  throw new Error(`not an OTLP AnyValue: ${JSON.stringify(v)}`);
}

function attrs(kvs: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** Decodes an OTLP/HTTP JSON ExportLogsServiceRequest; throws on anything that is not one. */
function decode(body: Buffer): Received[] {
  const req = JSON.parse(body.toString('utf8')) as {
    resourceLogs: Array<{ resource: { attributes: KeyValue[] }; scopeLogs: Array<{ scope: { name: string }; logRecords: Array<{ timeUnixNano: string; body: AnyValue; attributes: KeyValue[] }> }> }>;
  };
  assert.ok(Array.isArray(req.resourceLogs), 'resourceLogs');
  const out: Received[] = [];
  for (const rl of req.resourceLogs) {
    const resource = attrs(rl.resource.attributes);
    for (const sl of rl.scopeLogs)
      for (const lr of sl.logRecords) {
        assert.match(lr.timeUnixNano, /^\d+$/, 'timeUnixNano is a decimal string (JSON mapping of fixed64)');
        const a = attrs(lr.attributes);
        out.push({ seq: Number(a['mlspanner.seq']), body: String(value(lr.body)), timeUnixNano: lr.timeUnixNano, attributes: a, resource, scope: sl.scope.name });
      }
  }
  return out;
}

type Mode = { kind: 'ok' } | { kind: 'slow'; ms: number; times: number } | { kind: 'throttle'; retryAfter: string; times: number };

/** A loopback collector: it records every request (raw bytes, headers, decoded records, arrival time). */
class Collector {
  readonly requests: Array<{ at: number; headers: http.IncomingHttpHeaders; raw: Buffer; records: Received[]; status: number }> = [];
  mode: Mode = { kind: 'ok' };
  inFlight = 0;
  maxInFlight = 0;
  private server?: http.Server;
  port = 0;

  async listen(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const answer = (status: number, headers: Record<string, string> = {}, body = '{}') => {
          this.inFlight--;
          this.requests.push({ at: Date.now(), headers: req.headers, raw, records: status === 200 || this.mode.kind === 'slow' ? decode(raw) : [], status });
          if (!res.destroyed) res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(body);
        };
        if (req.method !== 'POST' || req.url !== '/v1/logs' || req.headers['content-type'] !== 'application/json') return answer(400, {}, '{"code":3,"message":"expected POST /v1/logs application/json"}');
        const m = this.mode;
        if (m.kind === 'slow' && m.times > 0) {
          m.times--;
          // Received and kept, but answered after the client gave up: at-least-once sends it again.
          setTimeout(() => answer(200), m.ms);
          return;
        }
        if (m.kind === 'throttle' && m.times > 0) {
          m.times--;
          return answer(429, { 'Retry-After': m.retryAfter }, '{"code":8,"message":"slow down"}');
        }
        answer(200);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening: the port refuses connections (ECONNREFUSED) until listen() again. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    s?.closeAllConnections();
    await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/v1/logs`;
  }
  /** Seqs of every record the collector acknowledged with a 2xx, in arrival order (duplicates kept). */
  get delivered(): number[] {
    return this.requests.filter((r) => r.status === 200).flatMap((r) => r.records.map((x) => x.seq));
  }
  /** Seqs of every record received, answered or not. */
  get received(): number[] {
    return this.requests.flatMap((r) => r.records.map((x) => x.seq));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const unique = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('audit forwarding to an OTLP/HTTP collector (loopback)', function () {
  this.timeout(30_000);
  let collector: Collector;
  let log: AccessLog;
  const forwarders: AuditForwarder[] = [];

  beforeEach(async () => {
    collector = new Collector();
    await collector.listen();
    log = new AccessLog(join(mkdtempSync(join(tmpdir(), 'mlspanner-fwd-it-')), 'access-log.jsonl'), () => ({ actor: { issuer: 'https://idp.example', subject: 'alice-sub', name: 'Alice' } }));
  });
  afterEach(async () => {
    for (const f of forwarders.splice(0)) await f.stop();
    await collector.down();
  });

  function forwarder(o: Partial<FileForwarderOptions> = {}): AuditForwarder {
    const f = createFileForwarder({
      logFile: log.file,
      endpoint: collector.endpoint,
      headers: { 'X-Api-Key': API_KEY },
      identity: { serviceVersion: '0.1.0', hostName: 'ws-42', osUser: 'alice' },
      debounceMs: 10,
      backoff: { initialMs: 50, maxMs: 200 },
      timeoutMs: 2_000,
      ...o,
    });
    forwarders.push(f);
    const sub = log.onDidAppend(() => f.notify());
    f.onDidChangeStatus((s) => s.state === 'stopped' && sub.dispose());
    return f;
  }

  async function write(n: number): Promise<void> {
    for (let i = 0; i < n; i++) log.record({ type: 'credentialIssued', outcome: 'success', environment: 'staging', target: 'databricks', tokenFingerprint: 'sha256:0123456789ab' });
    await log.flush();
  }

  const cursor = (): { seq: number } | undefined => {
    try {
      return (JSON.parse(readFileSync(`${log.file}.forwarding.json`, 'utf8')) as Record<string, { seq: number }>)[collector.endpoint];
    } catch {
      return undefined;
    }
  };

  it('delivers N entries in order, with no gaps, as decoded OTLP log records; later appends follow', async () => {
    await write(1100);
    const f = forwarder({ batchSize: 512 });
    f.start();
    await until('1100 delivered', () => collector.delivered.length >= 1100);
    await write(5);
    await until('1105 delivered', () => collector.delivered.length >= 1105);
    assert.deepEqual(collector.delivered, range(1, 1105));
    assert.deepEqual(
      collector.requests.map((r) => r.records.length).slice(0, 3),
      [512, 512, 76],
    );
    await until('the cursor at 1105', () => cursor()?.seq === 1105);

    const entries = await log.entries();
    const [first] = collector.requests[0].records;
    assert.equal(first.body, 'credentialIssued');
    assert.equal(BigInt(first.timeUnixNano), BigInt(Date.parse(entries[0].time)) * 1_000_000n, 'the entry time');
    assert.equal(first.attributes['mlspanner.hash'], entries[0].hash);
    assert.equal(first.attributes['actor.subject'], 'alice-sub');
    assert.equal(first.scope, 'mlspanner.accessLog');
    assert.deepEqual(first.resource, { 'service.name': 'ml-spanner-access', 'service.version': '0.1.0', 'host.name': 'ws-42', 'process.owner': 'alice' });
    assert.equal(collector.requests[0].headers['x-api-key'], API_KEY, 'the configured headers are sent');
    await until('idle', () => f.status.state === 'idle');
  });

  it('while the collector is down (connection refused) keeps the entries, then delivers all of them once it is back', async () => {
    await write(20);
    const port = collector.port;
    await collector.down();
    const f = forwarder();
    f.start();
    await until('a failed attempt', () => f.status.failures >= 2);
    assert.match(f.status.lastError?.message ?? '', /unreachable.*ECONNREFUSED/);
    assert.equal(f.status.lastError?.retryable, true);
    await write(10); // appended while offline
    assert.equal(cursor(), undefined, 'nothing acknowledged, nothing advanced');
    await collector.listen(port);
    await until('30 delivered', () => collector.delivered.length >= 30);
    assert.deepEqual(collector.delivered, range(1, 30));
    await until('the cursor at 30', () => cursor()?.seq === 30);
    await until('the error cleared', () => f.status.lastError === undefined);
  });

  it('retries a request the collector answers too late: every entry arrives, duplicates only of the unanswered batch, bounded batches, no pile-up of requests', async () => {
    await write(300);
    collector.mode = { kind: 'slow', ms: 800, times: 1 };
    const f = forwarder({ batchSize: 100, timeoutMs: 300 });
    f.start();
    await until('300 delivered', () => unique(collector.delivered).length >= 300 && cursor()?.seq === 300);
    await until('the slow answer is recorded', () => collector.requests.length >= 4);
    assert.deepEqual(unique(collector.received), range(1, 300));
    const counts = new Map<number, number>();
    for (const s of collector.received) counts.set(s, (counts.get(s) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    assert.deepEqual(twice, range(1, 100), 'only the batch whose answer came too late arrived twice');
    assert.ok(
      collector.requests.every((r) => r.records.length <= 100),
      'batches stay bounded',
    );
    assert.equal(collector.maxInFlight <= 2, true, 'at most the abandoned request and its retry overlap');
  });

  it('waits as Retry-After says after a 429, then delivers', async () => {
    await write(3);
    collector.mode = { kind: 'throttle', retryAfter: '1', times: 1 };
    const f = forwarder();
    f.start();
    await until('delivered', () => collector.delivered.length >= 3);
    const [throttled, next] = collector.requests;
    assert.equal(throttled.status, 429);
    assert.ok(next.at - throttled.at >= 950, `the retry came ${next.at - throttled.at} ms after the 429, Retry-After was 1 s`);
    assert.deepEqual(collector.delivered, [1, 2, 3]);
  });

  it('a new forwarder (a reload) resumes from the cursor file: nothing is sent twice', async () => {
    await write(7);
    const first = forwarder();
    first.start();
    await until('7 delivered', () => collector.delivered.length >= 7);
    await first.stop();
    await write(4);
    const second = forwarder();
    second.start();
    await until('11 delivered', () => collector.delivered.length >= 11);
    assert.deepEqual(collector.delivered, range(1, 11));
    await until('the cursor at 11', () => cursor()?.seq === 11);
  });

  it('two windows on one log share the lease and the cursor: each entry is delivered once', async () => {
    const a = forwarder({ standbyMs: 50 });
    const b = forwarder({ standbyMs: 50 });
    a.start();
    b.start();
    for (let i = 0; i < 10; i++) await write(30);
    await until('300 delivered', () => collector.delivered.length >= 300 && cursor()?.seq === 300);
    assert.deepEqual(collector.delivered, range(1, 300));
  });

  it('on a machine with no access log yet, waits without an error and sends the first entries once they are written', async () => {
    log = new AccessLog(join(mkdtempSync(join(tmpdir(), 'mlspanner-fwd-it-')), 'not-yet', 'access-log.jsonl'));
    const f = forwarder();
    f.start();
    await until('idle', () => f.status.state === 'idle');
    assert.equal(f.status.lastError, undefined);
    await write(2);
    await until('2 delivered', () => collector.delivered.length >= 2);
    assert.deepEqual(collector.delivered, [1, 2]);
  });

  it('never lets a token-shaped value reach the collector, even from lines written by hand', async () => {
    await write(1);
    // Lines that did not go through AccessLog's redaction (another tool, or an edit).
    const raw = (seq: number, fields: object) => JSON.stringify({ seq, prev: '0'.repeat(64), hash: String(seq).padStart(64, 'a'), time: new Date().toISOString(), outcome: 'failure', ...fields });
    appendFileSync(
      log.file,
      [
        raw(2, { type: 'credentialFailed', detail: `the service said: Bearer ${JWT}` }),
        raw(3, { type: 'credentialFailed', request: { headers: { authorization: `Bearer ${PAT}` }, keys: [AWS_KEY] } }),
        raw(4, { type: 'signIn', [`note ${JWT}`]: 'a key that is a token' }),
      ].join('\n') + '\n',
    );
    const f = forwarder();
    f.start();
    await until('4 delivered', () => collector.delivered.length >= 4);
    const everything = collector.requests.map((r) => r.raw.toString('utf8') + JSON.stringify(r.headers)).join('\n');
    for (const secret of [JWT, PAT, AWS_KEY, ...JWT.split('.')]) assert.ok(!everything.includes(secret), `${secret.slice(0, 10)}… reached the collector`);
    assert.ok(!collector.requests.some((r) => r.raw.includes(API_KEY)), 'the API key is a header, never in a body');
    const records = collector.requests.flatMap((r) => r.records);
    assert.match(String(records.find((r) => r.seq === 2)?.attributes.detail), /Bearer .*redacted/);
  });
});
