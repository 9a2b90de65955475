import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  form: URLSearchParams;
}

export interface FakeIdpServer {
  issuer: string;
  seen: SeenRequest[];
  /** Discovery fields to add or override (e.g. a token_endpoint elsewhere). */
  metadata: Record<string, unknown>;
  /** Answers the token endpoint; default: a new access token, no ID token. */
  token: (form: URLSearchParams) => { status: number; body: unknown };
  close(): Promise<void>;
}

/** A minimal OpenID provider over loopback HTTP: discovery and a token endpoint that records each form. */
export async function fakeIdpServer(): Promise<FakeIdpServer> {
  const seen: SeenRequest[] = [];
  let n = 0;
  const fake: FakeIdpServer = {
    issuer: '',
    seen,
    metadata: {},
    token: () => ({ status: 200, body: { access_token: `at-${++n}`, token_type: 'Bearer', expires_in: 300 } }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const path = (req.url ?? '/').split('?')[0];
      seen.push({ method: req.method ?? '', path, form });
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (path === '/.well-known/openid-configuration')
        return send(200, {
          issuer: fake.issuer,
          authorization_endpoint: `${fake.issuer}/auth`,
          token_endpoint: `${fake.issuer}/token`,
          jwks_uri: `${fake.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          ...fake.metadata,
        });
      if (path === '/token') {
        const r = fake.token(form);
        return send(r.status, r.body);
      }
      send(404, { error: 'not_found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
