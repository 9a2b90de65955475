import { strict as assert } from 'node:assert';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../../src/core/audit/forwarding/backoff';
import { headersFromSecret, parseForwardingHeaders } from '../../../src/core/audit/forwarding/forwardingHeaders';
import { forwardingCheck, type ForwardingStatus } from '../../../src/core/audit/forwarding/forwardingStatus';
import { describeResponse } from '../../../src/core/audit/forwarding/OtlpHttpTransport';

const EP = 'https://collector.example:4318/v1/logs';

describe('audit forwarding: backoff', () => {
  const table: Array<[failures: number, random: number, retryAfterMs: number | undefined, expected: number]> = [
    [1, 0, undefined, 500],
    [1, 1, undefined, 1_000],
    [2, 0.5, undefined, 1_500],
    [5, 1, undefined, 16_000],
    [9, 1, undefined, 256_000],
    [10, 0, undefined, 150_000], // capped at 5 min, at least half of it
    [10, 1, undefined, 300_000],
    [1_000, 1, undefined, 300_000],
    [Infinity, 0, undefined, 150_000],
    [1, 0, 120_000, 120_000], // Retry-After is a floor
    [10, 1, 30_000, 300_000], // ... not a ceiling
    [1, 0, 6 * 3600_000, 3600_000], // an absurd Retry-After is cut to 1 h
  ];
  for (const [failures, random, retryAfter, expected] of table)
    it(`failure ${failures}, random ${random}, Retry-After ${retryAfter ?? '-'} → ${expected} ms`, () => {
      assert.equal(backoffDelayMs(failures, () => random, DEFAULT_BACKOFF, retryAfter), expected);
    });
});

describe('audit forwarding: what an answer means', () => {
  const NOW = Date.UTC(2026, 11, 1, 14, 0, 0);
  it('2xx is delivered; partial success counts the dropped records', () => {
    assert.deepEqual(describeResponse(EP, 200, 'OK', '{}', undefined), { ok: true, rejected: 0, message: undefined });
    assert.deepEqual(describeResponse(EP, 200, 'OK', '', undefined), { ok: true, rejected: 0, message: undefined });
    assert.deepEqual(describeResponse(EP, 200, 'OK', '{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too long"}}', undefined), { ok: true, rejected: 2, message: 'too long' });
  });

  const failures: Array<[number, string, unknown, { retryable: boolean; kind: string; message: RegExp; action?: RegExp; retryAfterMs?: number; tooLarge?: boolean }]> = [
    [401, '{"code":16,"message":"invalid api key"}', undefined, { retryable: false, kind: 'auth', message: /refused the credentials \(HTTP 401: invalid api key\)/, action: /Set Audit Forwarding Headers/ }],
    [403, '', undefined, { retryable: false, kind: 'denied', message: /does not allow/, action: /Set Audit Forwarding Headers/ }],
    [404, '404 page not found', undefined, { retryable: false, kind: 'config', message: /no OTLP logs endpoint at https:\/\/collector\.example:4318\/v1\/logs/, action: /\/v1\/logs/ }],
    [413, '', undefined, { retryable: false, kind: 'service', message: /too large/, tooLarge: true }],
    [429, '', '120', { retryable: true, kind: 'service', message: /throttling.*wait 120 s/, retryAfterMs: 120_000 }],
    [503, '', 'Tue, 01 Dec 2026 14:01:00 GMT', { retryable: true, kind: 'service', message: /unavailable/, retryAfterMs: 60_000 }],
    [400, '{"code":3,"message":"bad json"}', undefined, { retryable: false, kind: 'protocol', message: /invalid \(HTTP 400: bad json\)/ }],
    [500, '', undefined, { retryable: true, kind: 'service', message: /unavailable \(HTTP 500\)/ }],
    [502, '<html>bad gateway</html>', undefined, { retryable: true, kind: 'service', message: /HTTP 502/ }],
    [302, '', undefined, { retryable: false, kind: 'config', message: /redirected/ }],
  ];
  for (const [status, body, retryAfter, want] of failures)
    it(`HTTP ${status}: ${want.retryable ? 'retried with backoff' : 'waits for the user'}, and says why`, () => {
      const r = describeResponse(EP, status, '', body, retryAfter, NOW);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.retryable, want.retryable);
      assert.equal(r.status, status);
      assert.equal(r.error.kind, want.kind);
      assert.match(r.error.message, want.message);
      if (want.action) assert.match(r.error.action ?? '', want.action);
      assert.equal(r.retryAfterMs, want.retryAfterMs);
      assert.equal(r.tooLarge, want.tooLarge);
    });

  it('never quotes a token the collector sends back', () => {
    const r = describeResponse(EP, 401, '', '{"message":"bad key dapi0123456789abcdef0123456789abcdef"}', undefined);
    assert.ok(!r.ok && !r.error.message.includes('dapi0123456789abcdef0123456789abcdef'), !r.ok ? r.error.message : '');
  });
});

describe('audit forwarding: headers typed in', () => {
  it('parses Name: value pairs separated by ; or new lines', () => {
    assert.deepEqual(parseForwardingHeaders('Authorization: Api-Token abc:def==; X-Scope-OrgID: ml\nDD-API-KEY:  k1 '), {
      headers: { Authorization: 'Api-Token abc:def==', 'X-Scope-OrgID': 'ml', 'DD-API-KEY': 'k1' },
    });
    assert.deepEqual(parseForwardingHeaders('  '), { headers: {} });
  });

  const bad: Array<[string, RegExp]> = [
    ['secret-value-without-name', /Pair 1 is not "Name: value"/],
    ['Bad Name: secret-value-123', /Pair 1 does not start with a valid header name/],
    ['Bearer secret-value-789: x', /Pair 1 does not start with a valid header name/],
    ['X-Key: ok; Content-Type: text/plain', /Pair 2: Content-Type is set by the extension/],
    ['X-Key:', /has no value/],
    ['X-Key: secret-value-123; x-key: secret-value-456', /given twice/],
  ];
  for (const [input, error] of bad)
    it(`refuses ${JSON.stringify(input.replace(/secret-value-\d*/g, '…'))} without quoting the value`, () => {
      const r = parseForwardingHeaders(input);
      assert.ok('error' in r);
      assert.match(r.error, error);
      assert.ok(!/secret-value/.test(r.error), r.error);
    });

  it('reads what was stored, and nothing from a damaged secret', () => {
    assert.deepEqual(headersFromSecret('{"X-Key":"v","bad name":"w","n":1}'), { 'X-Key': 'v' });
    assert.deepEqual(headersFromSecret('{'), {});
    assert.deepEqual(headersFromSecret(undefined), {});
  });
});

describe('audit forwarding: the doctor line', () => {
  const now = new Date(2026, 11, 1, 14, 30).getTime();
  const base: ForwardingStatus = { endpoint: EP, state: 'idle', failures: 0, delivered: { seq: 1234, at: new Date(2026, 11, 1, 14, 2).getTime() } };

  it('says off when no endpoint is set', () => {
    assert.deepEqual(forwardingCheck(undefined, undefined, now), { area: 'Audit forwarding', status: 'skip', message: 'Off: mlspanner.audit.otlpEndpoint is not set.' });
  });

  it('names the endpoint, the last delivered entry and time, and what is pending', () => {
    assert.deepEqual(forwardingCheck(base, 0, now), { area: 'Audit forwarding', status: 'ok', message: `${EP} · last delivered seq 1234 at 14:02 · 0 pending` });
    assert.match(forwardingCheck({ ...base, delivered: undefined, state: 'standby' }, 7, now).message, /nothing delivered yet · 7 pending · another window is sending/);
  });

  it('reports the last error with what to do: fail when the user must act, warn when it retries by itself', () => {
    const auth = forwardingCheck(
      { ...base, state: 'retrying', failures: 3, nextAttemptAt: new Date(2026, 11, 1, 14, 35).getTime(), lastError: { message: 'The audit collector refused the credentials (HTTP 401).', action: 'Check the headers.', at: new Date(2026, 11, 1, 14, 29).getTime(), status: 401, retryable: false } },
      12,
      now,
    );
    assert.equal(auth.status, 'fail');
    assert.equal(auth.action, 'Check the headers.');
    assert.match(auth.message, /12 pending\. 3 failed attempts, the last at 14:29: The audit collector refused the credentials \(HTTP 401\)\. Next attempt at 14:35\./);
    const down = forwardingCheck({ ...base, state: 'retrying', failures: 1, lastError: { message: 'unreachable', at: now, retryable: true } }, 1, now);
    assert.equal(down.status, 'warn');
  });
});
