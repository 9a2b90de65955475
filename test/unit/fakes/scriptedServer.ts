import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  auth?: string;
  body?: Record<string, unknown>;
}

export type Reply = { status: number; body: unknown; headers?: Record<string, string> };

export interface ScriptedServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/**
 * A loopback server answering from a script of replies and recording what it was sent. When
 * the script runs out it answers 500 with `exhausted` (in the service's own error shape).
 */
export async function scriptedServer(replies: Reply[], exhausted: unknown = { message: 'script exhausted' }): Promise<ScriptedServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      const r = replies.shift() ?? { status: 500, body: exhausted };
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
