import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { CancelledError, UserFacingError } from '../../src/core/errors';
import { bodyError, createHttpClient, describeHttpFailure, parseRetryAfter, retryDelayMs, DEFAULT_RETRY, ServiceError } from '../../src/core/http/HttpClient';
import { networkErrorCode } from '../../src/core/http/networkErrors';

/** A loopback server whose handler is given per test; closes every socket on close(). */
async function loopback(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('createHttpClient', () => {
  let srv: Awaited<ReturnType<typeof loopback>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('a trickled body cannot outlast the deadline: the whole request is aborted', async () => {
    let sent = 0;
    srv = await loopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":"');
      // 40 bytes over 2 s: each byte resets an idle timer, none resets the deadline.
      const t = setInterval(() => {
        res.write('x');
        if (++sent >= 40) {
          clearInterval(t);
          res.end('"}');
        }
      }, 50);
      res.on('close', () => clearInterval(t));
    });
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, timeoutMs: 300, retry: { maxRetries: 0 } });
    const e = await rejection(client.get('/api/2.2/jobs/list'));
    assert.ok(e instanceof ServiceError, String(e));
    assert.equal(e.kind, 'network');
    assert.equal(e.code, 'ETIMEDOUT');
    assert.match(e.message, /Databricks did not answer within 0\.3 s \(http:\/\/127\.0\.0\.1:\d+\/api\/2\.2\/jobs\/list\)/);
    assert.ok(sent < 40, 'the body was not read to its end');
  });

  it('a per-request timeout overrides the client deadline', async () => {
    srv = await loopback(() => undefined); // never answers
    const client = createHttpClient({ service: 'Cloud Spanner', baseURL: srv.url, timeoutMs: 60_000, retry: { maxRetries: 0 } });
    const e = await rejection(client.delete('/v1/x', { timeout: 200 }));
    assert.ok(e instanceof ServiceError);
    assert.match(e.message, /did not answer within 0\.2 s/);
  });

  it('refuses a body over the size cap as a protocol error', async () => {
    srv = await loopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: 'x'.repeat(4096) }));
    });
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, maxBodyBytes: 1024 });
    const e = await rejection(client.get('/api/2.2/jobs/runs/get'));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'protocol');
    assert.equal(e.code, 'RESPONSE_TOO_LARGE');
    assert.match(e.message, /Databricks sent more than 1 KB for \/api\/2\.2\/jobs\/runs\/get/);
  });

  it('refuses to send a request body over its cap, saying so', async () => {
    srv = await loopback((_req, res) => res.end('{}'));
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, maxRequestBytes: 1024 });
    const e = await rejection(client.post('/api/2.0/workspace/import', { content: 'x'.repeat(4096) }));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'config');
    assert.equal(e.code, 'REQUEST_TOO_LARGE');
    assert.match(e.message, /The request to Databricks \(\/api\/2\.0\/workspace\/import\) is larger than 1 KB; it was not sent/);
  });

  it('accepts a body under the cap', async () => {
    srv = await loopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, maxBodyBytes: 1024 });
    assert.deepEqual((await client.get('/x')).data, { ok: true });
  });

  it('a refused connection is a network error naming the host and the code', async () => {
    srv = await loopback(() => undefined);
    const url = srv.url;
    await srv.close();
    srv = undefined;
    const client = createHttpClient({ service: 'Google STS', retry: { maxRetries: 0 } });
    const e = await rejection(client.post(`${url}/v1/token`, 'x=1'));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'network');
    assert.equal(e.code, 'ECONNREFUSED');
    assert.match(e.display, /^Google STS is unreachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED: connection refused: nothing listens there\)\. Check the endpoint/);
  });

  it('a reset connection is a network error (retried for GET, then reported)', async () => {
    let hits = 0;
    srv = await loopback((req) => {
      hits++;
      req.socket.destroy();
    });
    const slept: number[] = [];
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, retry: { maxRetries: 2, baseDelayMs: 10 }, sleep: async (ms) => void slept.push(ms) });
    const e = await rejection(client.get('/api/2.2/jobs/runs/get'));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'network');
    assert.equal(e.code, 'ECONNRESET');
    assert.match(e.message, /Databricks is unreachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNRESET: connection reset\)/);
    assert.equal(hits, 3);
    assert.deepEqual(slept, [10, 20]);
  });

  it('a 503 with an HTML page says the service is unavailable, not malformed, and not the HTML', async () => {
    srv = await loopback((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
    });
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, retry: { maxRetries: 0 } });
    const e = await rejection(client.get('/api/2.2/jobs/runs/get'));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'service');
    assert.equal(e.status, 503);
    assert.ok(e.unavailable);
    assert.equal(e.display, 'Databricks is unavailable (HTTP 503) for /api/2.2/jobs/runs/get: HTTP 503 Service Unavailable The service is having trouble: retry in a few minutes.');
    assert.doesNotMatch(e.display, /html|malformed/i);
  });

  it('a caller abort is a cancellation, not a timeout', async () => {
    srv = await loopback(() => undefined);
    const client = createHttpClient({ service: 'Databricks', baseURL: srv.url, retry: { maxRetries: 0 } });
    const controller = new AbortController();
    const p = client.get('/x', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const e = await rejection(p);
    assert.ok(e instanceof CancelledError, String(e));
  });

  it('service error text is redacted and cut before it is shown', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEiLCJhdWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    srv = await loopback((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: `subject_token ${jwt} is not valid ${'x'.repeat(2000)}` }));
    });
    const client = createHttpClient({ service: 'Google STS', baseURL: srv.url });
    const e = await rejection(client.post('/v1/token', 'a=b'));
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'auth');
    assert.doesNotMatch(e.message, /eyJzdWIi/);
    assert.ok(e.message.length < 500, `${e.message.length} characters`);
  });
});

describe('describeHttpFailure (what happened → kind and message)', () => {
  const place = { path: '/api/2.2/jobs/list', origin: 'https://dbc.example.com' };
  const table: Array<[string, Parameters<typeof describeHttpFailure>[1], UserFacingError['kind'], RegExp]> = [
    ['connection refused', { ...place, code: 'ECONNREFUSED' }, 'network', /^Databricks is unreachable at https:\/\/dbc\.example\.com \(ECONNREFUSED: connection refused/],
    ['unknown host', { ...place, code: 'ENOTFOUND' }, 'network', /unreachable at https:\/\/dbc\.example\.com \(ENOTFOUND: host not found\)/],
    ['connection reset', { ...place, code: 'ECONNRESET' }, 'network', /\(ECONNRESET: connection reset\)/],
    ['connect timeout', { ...place, code: 'ETIMEDOUT' }, 'network', /^Databricks did not answer in time \(https:\/\/dbc\.example\.com\/api\/2\.2\/jobs\/list\)/],
    ['idle timeout (axios)', { ...place, code: 'ECONNABORTED' }, 'network', /did not answer in time/],
    ['deadline', { ...place, deadlineMs: 30_000 }, 'network', /did not answer within 30 s/],
    ['TLS certificate', { ...place, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'network', /self-signed TLS certificate/],
    ['unknown low-level code', { ...place, code: 'EWHATEVER' }, 'network', /unreachable at https:\/\/dbc\.example\.com \(EWHATEVER\)/],
    ['503', { ...place, status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' } }, 'service', /^Databricks is unavailable \(HTTP 503\) for \/api\/2\.2\/jobs\/list: TEMPORARILY_UNAVAILABLE: busy$/],
    ['500 without a body', { ...place, status: 500, statusText: 'Internal Server Error' }, 'service', /unavailable \(HTTP 500\).*HTTP 500 Internal Server Error/],
    ['502 HTML page', { ...place, status: 502, body: '<html>Bad Gateway</html>' }, 'service', /unavailable \(HTTP 502\) for \/api\/2\.2\/jobs\/list: HTTP 502$/],
    ['429', { ...place, status: 429, body: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' } }, 'service', /refused .*REQUEST_LIMIT_EXCEEDED: slow down/],
    ['401', { ...place, status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'expired' } }, 'auth', /refused \/api\/2\.2\/jobs\/list: UNAUTHENTICATED: expired/],
    ['invalid_grant', { ...place, status: 400, body: { error: 'invalid_grant', error_description: 'bad' } }, 'auth', /invalid_grant: bad/],
    ['403', { ...place, status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'no' } } }, 'denied', /PERMISSION_DENIED: no/],
    ['404', { ...place, status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'gone' } }, 'service', /refused .*RESOURCE_DOES_NOT_EXIST: gone/],
    ['redirect', { ...place, status: 302 }, 'config', /redirected \/api\/2\.2\/jobs\/list elsewhere \(HTTP 302\)/],
    ['too large', { ...place, tooLargeBytes: 10 * 1048576 }, 'protocol', /sent more than 10 MB/],
    ['request too large', { ...place, requestTooLargeBytes: 32 * 1048576 }, 'config', /The request to Databricks \(\/api\/2\.2\/jobs\/list\) is larger than 32 MB; it was not sent/],
  ];
  for (const [name, failure, kind, message] of table) {
    it(`${name} → ${kind}`, () => {
      const e = describeHttpFailure('Databricks', failure);
      assert.ok(e instanceof ServiceError);
      assert.equal(e.kind, kind);
      assert.match(e.message, message);
      if (kind === 'network') assert.ok(e.action, 'a network error says what to check');
    });
  }

  it('finds the code fetch hides in its cause (and in an AggregateError for several addresses)', () => {
    const fetchFailed = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    assert.equal(networkErrorCode(fetchFailed), 'ECONNREFUSED');
    const both = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]), { code: undefined }) });
    assert.equal(networkErrorCode(both), 'ECONNREFUSED');
    const socket = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    assert.equal(networkErrorCode(socket), 'UND_ERR_SOCKET');
    assert.equal(networkErrorCode(new Error('no code')), undefined);
  });

  it('bodyError reads the contract shapes and ignores HTML', () => {
    assert.deepEqual(bodyError({ error_code: 'X', message: 'm' }), { code: 'X', message: 'm' });
    assert.deepEqual(bodyError({ error: { status: 'NOT_FOUND', message: 'm' } }), { code: 'NOT_FOUND', message: 'm' });
    assert.deepEqual(bodyError({ error: 'invalid_grant', error_description: 'd' }), { code: 'invalid_grant', message: 'd' });
    assert.deepEqual(bodyError('<!doctype html><p>x</p>'), {});
    assert.deepEqual(bodyError('plain reason'), { message: 'plain reason' });
  });
});

describe('Retry-After', () => {
  it('parses delay-seconds and HTTP-dates, and refuses the rest', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-1', now), undefined);
    assert.equal(parseRetryAfter('9'.repeat(400), now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(retryDelayMs(0, '99999', DEFAULT_RETRY, now), DEFAULT_RETRY.maxDelayMs);
  });
});

describe('lazy axios', () => {
  it('requiring the http layer and the clients does not evaluate axios; the first request does', () => {
    const root = path.resolve(__dirname, '../..');
    const script = `
      const { createHttpClient, axiosLoaded } = require('./src/core/http/HttpClient.ts');
      const { DatabricksClient } = require('./src/core/databricks/DatabricksClient.ts');
      const { SpannerClient } = require('./src/core/spanner/SpannerClient.ts');
      require('./src/core/spanner/QueryRunner.ts');
      require('./src/core/databricks/JobRunner.ts');
      new DatabricksClient('https://dbc.example.com', async () => 'tok');
      new SpannerClient('https://spanner.googleapis.com', 'projects/p/instances/i/databases/d', async () => 'tok');
      const http = createHttpClient({ service: 'x' });
      const loaded = () => Object.keys(require.cache).some((k) => /[\\\\/]node_modules[\\\\/]axios[\\\\/]/.test(k));
      const before = { cache: loaded(), flag: axiosLoaded() };
      http.get('http://127.0.0.1:9/').catch(() => undefined).finally(() => {
        process.stdout.write(JSON.stringify({ before, after: { cache: loaded(), flag: axiosLoaded() } }));
      });
    `;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), { before: { cache: false, flag: false }, after: { cache: true, flag: true } });
  });

  it('in the esbuild bundle (as scripts/build.mjs makes it), loading the clients loads neither axios nor Node’s http stack', async function () {
    this.timeout(60_000);
    const root = path.resolve(__dirname, '../..');
    const dir = mkdtempSync(path.join(tmpdir(), 'mlspanner-lazy-'));
    try {
      const { build } = await import('esbuild');
      const outfile = path.join(dir, 'bundle.cjs');
      await build({
        stdin: {
          contents: `export { DatabricksClient } from './src/core/databricks/DatabricksClient';
            export { JobRunner } from './src/core/databricks/JobRunner';
            export { QueryRunner } from './src/core/spanner/QueryRunner';
            export { createHttpClient } from './src/core/http/HttpClient';`,
          resolveDir: root,
          loader: 'ts',
        },
        bundle: true,
        outfile,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        logLevel: 'silent',
        alias: { 'form-data': './scripts/form-data-global.cjs' },
      });
      const probe = `
        const before = new Set(process.moduleLoadList);
        const m = require(${JSON.stringify(outfile)});
        new m.DatabricksClient('https://dbc.example.com', async () => 'tok');
        const added = process.moduleLoadList.filter((x) => !before.has(x) && /undici|NativeModule (http|https|http2|zlib|tls)$/.test(x));
        process.stdout.write(JSON.stringify(added));`;
      const out = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(out.status, 0, out.stderr);
      assert.deepEqual(JSON.parse(out.stdout), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
