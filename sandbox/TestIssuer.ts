import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { FederationTrust } from './verifyJwt';

/**
 * A minimal OpenID issuer for the tests and benchmarks: discovery + JWKS on loopback, and a signer
 * for subject tokens. The federation endpoint verifies these exactly as it verifies the sandbox
 * IdP's tokens (signature via JWKS, issuer, audience, expiry).
 */
export interface TestIssuer {
  issuer: string;
  trust: FederationTrust;
  sign(claims?: { sub?: string; email?: string; groups?: string[]; aud?: string; expiresInSeconds?: number; alg?: 'RS256' | 'ES256' }): Promise<string>;
  /** A token signed with a key the JWKS does not publish. */
  signWithForeignKey(): Promise<string>;
  close(): Promise<void>;
}

export const TEST_AUDIENCE = 'databricks-federation';

export async function startTestIssuer(): Promise<TestIssuer> {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('RS256');
  const jwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
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

  const sign: TestIssuer['sign'] = async (c = {}) => {
    const alg = c.alg ?? 'RS256';
    const key = alg === 'RS256' ? rsa.privateKey : ec.privateKey;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: c.email ?? 'ada@example.com', groups: c.groups ?? ['ml-dev'] })
      .setProtectedHeader({ alg, kid: alg === 'RS256' ? 'rsa-1' : 'ec-1' })
      .setIssuer(issuer)
      .setSubject(c.sub ?? 'ada')
      .setAudience(c.aud ?? TEST_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (c.expiresInSeconds ?? 3600))
      .sign(key);
  };

  return {
    issuer,
    trust: { issuer, audiences: [TEST_AUDIENCE], subjectClaim: 'sub' },
    sign,
    signWithForeignKey: async () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
        .setIssuer(issuer)
        .setSubject('mallory')
        .setAudience(TEST_AUDIENCE)
        .setExpirationTime('1h')
        .sign(foreign.privateKey),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
