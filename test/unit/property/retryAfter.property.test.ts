import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { bodyError, DEFAULT_RETRY, describeHttpFailure, parseRetryAfter, retryDelayMs, ServiceError } from '../../../src/core/http/HttpClient';
import { describeNetworkCode, networkErrorCode } from '../../../src/core/http/networkErrors';
import { assertNoPollution, jsonText, RUNS } from './arbitraries';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEiLCJleHAiOjF9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWc';

/** Header values: digits, dates in the three RFC 9110 forms, junk, other JSON types. */
const retryAfter = fc.oneof(
  fc.nat().map(String),
  fc.stringMatching(/^\d{1,400}$/),
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.date({ noInvalidDate: true }).map((d) => d.toString()),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('-1', '1.5', ' 3 ', 'Infinity', 'NaN', '0x10', '1e3', '', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994'),
  fc.anything(),
);

describe('property: Retry-After and failure messages', () => {
  afterEach(assertNoPollution);

  it('parseRetryAfter never throws and returns undefined or a finite delay ≥ 0', () => {
    fc.assert(
      fc.property(retryAfter, (value) => {
        const ms = parseRetryAfter(value, NOW);
        if (ms !== undefined) assert.ok(Number.isFinite(ms) && ms >= 0, String(ms));
      }),
      RUNS,
    );
  });

  it('delay-seconds means exactly that many seconds', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), (n) => assert.equal(parseRetryAfter(String(n), NOW), n * 1000)),
      RUNS,
    );
  });

  it('retryDelayMs stays within [0, maxDelayMs] for any header and attempt', () => {
    fc.assert(
      fc.property(retryAfter, fc.nat({ max: 2000 }), (value, attempt) => {
        const ms = retryDelayMs(attempt, value, DEFAULT_RETRY, NOW);
        assert.ok(ms >= 0 && ms <= DEFAULT_RETRY.maxDelayMs, `${ms}`);
      }),
      RUNS,
    );
  });

  it('any failure becomes a ServiceError with a bounded message that carries no token', () => {
    const body = fc.oneof(
      jsonText.map((t) => JSON.parse(t) as unknown),
      fc.string({ maxLength: 600 }).map((s) => ({ error_code: 'X', message: `${s} ${JWT}` })),
      fc.string({ maxLength: 50 }).map((s) => ({ error: 'invalid_grant', error_description: `${JWT} ${s}` })),
      fc.string({ maxLength: 50 }).map((s) => ({ error: { status: 'PERMISSION_DENIED', message: `${s}${JWT}` } })),
      fc.string({ maxLength: 600 }).map((s) => `${s} Bearer ${JWT}`),
    );
    const failure = fc.record(
      {
        status: fc.integer({ min: 100, max: 599 }),
        statusText: fc.string({ maxLength: 40 }),
        code: fc.oneof(fc.constantFrom('ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPROTO', '__proto__', 'constructor'), fc.string({ maxLength: 10 })),
        body,
        path: fc.constantFrom('/api/2.2/jobs/list', '/v1/token', `/x/${JWT}`),
        origin: fc.constantFrom('https://dbc.example.com', 'http://127.0.0.1:8080'),
        deadlineMs: fc.nat({ max: 600_000 }),
        tooLargeBytes: fc.nat({ max: 2 ** 31 }),
        message: fc.string({ maxLength: 100 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.constantFrom('Databricks', 'Google STS', 'Cloud Spanner'), failure, (service, f) => {
        const e = describeHttpFailure(service, f);
        assert.ok(e instanceof ServiceError);
        assert.ok(e.message.startsWith(service), e.message);
        assert.ok(e.message.length < 800, `${e.message.length}`);
        assert.ok(!e.display.includes(JWT), e.display);
        assert.ok(['network', 'service', 'auth', 'denied', 'config', 'protocol'].includes(e.kind));
        if (f.status === undefined && f.deadlineMs === undefined && f.tooLargeBytes === undefined) assert.equal(e.kind, 'network');
      }),
      RUNS,
    );
  });

  it('bodyError and networkErrorCode accept anything', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), jsonText.map((t) => JSON.parse(t) as unknown)), (x) => {
        const { code, message } = bodyError(x);
        assert.ok(code === undefined || typeof code === 'string');
        assert.ok(message === undefined || typeof message === 'string');
        const net = networkErrorCode(x);
        assert.ok(net === undefined || describeNetworkCode(net) !== undefined);
      }),
      RUNS,
    );
  });
});
