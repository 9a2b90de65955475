import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/**
 * A minimal OpenID issuer on loopback for the benchmarks: discovery and JWKS, and a signer of
 * subject tokens the emulators verify as they verify the sandbox IdP's (JWKS, issuer, audience,
 * expiry).
 */
export interface BenchIssuer {
  issuer: string;
  sign(claims: { aud: string; sub?: string; groups?: string[]; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' }] };
  let issuer = '';
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify(jwks));
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    sign: async (c) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ email: 'ada@example.com', groups: c.groups ?? ['ml-dev'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'bench-1' })
        .setIssuer(issuer)
        .setSubject(c.sub ?? 'ada')
        .setAudience(c.aud)
        .setIssuedAt(now)
        .setExpirationTime(now + (c.expiresInSeconds ?? 3600))
        .sign(privateKey);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
