import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, listen, readBody } from './LoopbackServer';

/**
 * A fault-injecting reverse proxy for any sandbox emulator, for fault tests: point a setting
 * (`databricks.host`, `spanner.stsEndpoint`, `aws.stsEndpoint`, …) at `proxy.url` instead of the
 * emulator, then inject faults. Without faults it forwards every request unchanged, except that
 * the emulator's own origin in response bodies (e.g. Databricks discovery's token_endpoint) is
 * rewritten to the proxy's, as a rewriting reverse proxy does. Loopback only.
 *
 * Faults, each for the next `count` requests (Infinity: until `clear()`):
 * - `status`: the proxy answers itself (429 / 503 storms), with `Retry-After` when given;
 * - `down`: the connection is dropped before any byte (a crashed or unreachable service);
 * - `reset`: forwarded, then the connection is cut halfway through the response body;
 * - `slow`: forwarded after `delayMs`;
 * - `trickle`: forwarded, the body dribbled `chunkBytes` every `intervalMs`.
 */
export type ProxyFault =
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'down' }
  | { kind: 'reset' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'trickle'; chunkBytes: number; intervalMs: number };

export interface FaultProxyStats {
  /** Requests received, faulted or not. */
  requests: number;
  /** Faults applied, by kind. */
  faults: Partial<Record<ProxyFault['kind'], number>>;
}

export interface FaultProxy {
  /** The proxy's origin, e.g. http://127.0.0.1:43123: use it where the emulator's URL would go. */
  url: string;
  /** The emulator behind it. */
  target: string;
  /** Applies `fault` to the next `count` requests (after those queued before it). */
  inject(fault: ProxyFault, count?: number): void;
  /** Drops every queued fault. */
  clear(): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'content-length', 'host']);

export async function startFaultProxy(opts: { target: string; host?: string; port?: number }): Promise<FaultProxy> {
  const target = new URL(opts.target).origin;
  const queue: { fault: ProxyFault; remaining: number }[] = [];
  const stats: FaultProxyStats = { requests: 0, faults: {} };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let url = '';

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => (timers.delete(t), resolve()), ms);
      timers.add(t);
    });

  const nextFault = (): ProxyFault | undefined => {
    const head = queue[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) queue.shift();
    stats.faults[head.fault.kind] = (stats.faults[head.fault.kind] ?? 0) + 1;
    return head.fault;
  };

  const forward = (req: IncomingMessage, body: string): Promise<{ status: number; headers: OutgoingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      headers['content-length'] = Buffer.byteLength(body);
      const upstream = httpRequest(`${target}${req.url ?? '/'}`, { method: req.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out: OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
          let payload = Buffer.concat(chunks);
          if (/json|text|html|xml/.test(String(res.headers['content-type'] ?? ''))) payload = Buffer.from(payload.toString('utf8').split(target).join(url));
          resolve({ status: res.statusCode ?? 502, headers: out, body: payload });
        });
      });
      upstream.on('error', reject);
      upstream.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    const fault = nextFault();
    if (fault?.kind === 'down') {
      req.socket.destroy();
      return;
    }
    const body = await readBody(req, 40 * 1024 * 1024);
    if (fault?.kind === 'status') {
      const text = JSON.stringify({ error: { code: fault.status, status: fault.status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', message: 'injected by the sandbox fault proxy' } });
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
      });
      res.end(text);
      return;
    }
    if (fault?.kind === 'slow') await wait(fault.delayMs);
    const answer = await forward(req, body);
    res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
    if (fault?.kind === 'reset') {
      res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
      // Give the half body a moment to leave, then cut the connection.
      await wait(10);
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'trickle') {
      for (let i = 0; i < answer.body.length && !res.destroyed; i += fault.chunkBytes) {
        res.write(answer.body.subarray(i, i + fault.chunkBytes));
        await wait(fault.intervalMs);
      }
      res.end();
      return;
    }
    res.end(answer.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"fault proxy: upstream failed"}');
      else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server, opts.host ?? '127.0.0.1', opts.port ?? 0);
  url = `http://${opts.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    target,
    inject(fault, count = 1) {
      queue.push({ fault, remaining: count });
    },
    clear() {
      queue.length = 0;
    },
    stats: () => ({ requests: stats.requests, faults: { ...stats.faults } }),
    async close() {
      queue.length = 0;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}
