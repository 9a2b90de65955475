import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledError, UserFacingError } from '../errors';

const PAGE = (title: string, body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}p{color:#57606a}</style></head><body><h1>${title}</h1><p>${body}</p></body></html>`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface LoopbackOptions {
  /** Expected `state`; a callback with another state is refused and waiting goes on (CSRF, RFC 6749 §10.12). */
  state: string;
  timeoutMs: number;
  signal?: AbortSignal;
  path?: string;
}

/**
 * A one-shot HTTP server on 127.0.0.1 and a random port for the authorization response
 * (RFC 8252 §7.3: loopback IP literal rather than `localhost`, §8.3). It answers one valid
 * callback, then closes; it also closes on timeout and cancellation, so it never lingers.
 */
export class LoopbackServer {
  private server?: http.Server;
  readonly path: string;
  private port = 0;
  /** The sign-in waiting for its callback; requests before or after it are turned away. */
  private waiter?: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  private constructor(path: string) {
    this.path = path;
  }

  static async start(path = '/callback'): Promise<LoopbackServer> {
    const s = new LoopbackServer(path);
    // Any page on the loopback port is reachable by every local process and web page: a hostile
    // request line is answered with 400 and never takes the extension host down.
    s.server = http.createServer((req, res) => {
      try {
        s.handle(req, res);
      } catch {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('Bad request');
      }
    });
    s.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      s.server!.once('error', reject);
      s.server!.listen(0, '127.0.0.1', () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get redirectUri(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  /** The request target as a URL on this server, or undefined when it is not one (`//[`, `*`, absolute URLs). */
  private targetOf(req: http.IncomingMessage): URL | undefined {
    const target = req.url ?? '';
    // Origin-form only (RFC 9112 §3.2.1): a path starting with one slash.
    if (!target.startsWith('/') || target.startsWith('//')) return undefined;
    try {
      const url = new URL(target, `http://127.0.0.1:${this.port}`);
      return url.host === `127.0.0.1:${this.port}` ? url : undefined;
    } catch {
      return undefined;
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = this.targetOf(req);
    if (!url) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Bad request');
      return;
    }
    if (req.method !== 'GET' || url.pathname !== this.path || !this.waiter) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    this.waiter(req, res);
  }

  /** Resolves with the full callback URL once a request with the expected state arrives. */
  waitForCallback(opts: LoopbackOptions): Promise<URL> {
    return new Promise<URL>((resolve, reject) => {
      let done = false;
      const finish = (err: unknown, url?: URL) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        this.close();
        if (err) reject(err);
        else resolve(url!);
      };
      const timer = setTimeout(
        () =>
          finish(
            new UserFacingError(
              'auth',
              `Sign-in timed out after ${Math.round(opts.timeoutMs / 1000)} s without an answer from the browser.`,
              'If the browser tab was closed, click Sign In again.',
            ),
          ),
        opts.timeoutMs,
      );
      const onAbort = () => finish(new CancelledError('Sign-in cancelled.'));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort);

      this.waiter = (req, res) => {
        const url = this.targetOf(req)!;
        if (url.searchParams.get('state') !== opts.state) {
          res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(
            PAGE('Sign-in not accepted', 'This response does not belong to the sign-in in progress. Return to VS Code and try again.'),
          );
          return;
        }
        const error = url.searchParams.get('error');
        const page = error
          ? PAGE('Sign-in failed', `${escapeHtml(url.searchParams.get('error_description') ?? error)}. Return to VS Code for details.`)
          : PAGE('Signed in to ML Spanner Access', 'You can close this tab and return to VS Code.');
        res.writeHead(error ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page, () =>
          finish(undefined, url),
        );
      };
    });
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections?.();
  }
}
