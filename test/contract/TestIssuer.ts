import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { closeServer, listen, sendJson } from '../../sandbox/LoopbackServer';

/**
 * A bare OpenID issuer (discovery + JWKS) that signs whatever the test asks for: expired,
 * wrong audience, other groups. It stands for "any OpenID provider" the emulators may trust.
 */
export interface TestIssuer {
  issuer: string;
  sign(claims: JWTPayload, opts?: { expiresInSeconds?: number; audience?: string | string[]; alg?: 'RS256' | 'ES256' }): Promise<string>;
  /** A token with the right claims but signed by a key the issuer does not publish. */
  signWithForeignKey(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(defaultAudience: string, host = '127.0.0.1'): Promise<TestIssuer> {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('RS256');
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
  ];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') return sendJson(res, 200, { issuer, jwks_uri: `${issuer}/jwks` });
    if (path === '/jwks') return sendJson(res, 200, { keys });
    sendJson(res, 404, { error: 'not_found' });
  });
  const port = await listen(server, host, 0);
  const issuer = `http://${host}:${port}`;

  const build = (claims: JWTPayload, opts: { expiresInSeconds?: number; audience?: string | string[] } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setIssuer(issuer)
      .setAudience(opts.audience ?? defaultAudience)
      .setIssuedAt(now - 60)
      .setExpirationTime(now + (opts.expiresInSeconds ?? 3600));
  };
  return {
    issuer,
    sign: (claims, opts = {}) =>
      opts.alg === 'ES256'
        ? build(claims, opts).setProtectedHeader({ alg: 'ES256', kid: 'es' }).sign(ec.privateKey)
        : build(claims, opts).setProtectedHeader({ alg: 'RS256', kid: 'rs' }).sign(rsa.privateKey),
    signWithForeignKey: (claims) => build(claims).setProtectedHeader({ alg: 'RS256', kid: 'rs' }).sign(foreign.privateKey),
    close: () => closeServer(server),
  };
}
