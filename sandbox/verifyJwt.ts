import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/**
 * How a cloud service trusts a federated identity: the same three checks a Databricks
 * federation policy, a Google workload identity provider and an AWS OIDC provider make.
 */
export interface FederationTrust {
  issuer: string;
  /** Accepted `aud` values; empty = any (Google providers default to the provider's own name). */
  audiences: string[];
  /** Claim used as the subject (Databricks `subject_claim`, Google `google.subject` mapping). */
  subjectClaim: string;
  /** Clock tolerance, seconds. */
  clockToleranceSeconds?: number;
}

export class TokenRejected extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

async function jwksFor(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  let set = jwksCache.get(issuer);
  if (!set) {
    const res = await fetch(new URL(issuer.replace(/\/?$/, '/') + '.well-known/openid-configuration'));
    if (!res.ok) throw new TokenRejected('issuer_unreachable', `cannot discover issuer ${issuer}: HTTP ${res.status}`);
    const meta = (await res.json()) as { jwks_uri?: string };
    if (!meta.jwks_uri) throw new TokenRejected('issuer_unreachable', `issuer ${issuer} has no jwks_uri`);
    set = createRemoteJWKSet(new URL(meta.jwks_uri));
    jwksCache.set(issuer, set);
  }
  return set;
}

/** Verifies signature (JWKS, RS256/ES256), issuer, audience, expiry; returns payload and subject. */
export async function verifyFederatedJwt(token: string, trust: FederationTrust): Promise<{ payload: JWTPayload; subject: string }> {
  if (!token || token.split('.').length !== 3) throw new TokenRejected('malformed', 'subject token is not a JWT');
  try {
    const { payload } = await jwtVerify(token, await jwksFor(trust.issuer), {
      issuer: trust.issuer,
      audience: trust.audiences.length ? trust.audiences : undefined,
      algorithms: ['RS256', 'ES256'],
      clockTolerance: trust.clockToleranceSeconds ?? 0,
    });
    const subject = payload[trust.subjectClaim];
    if (typeof subject !== 'string' || !subject) throw new TokenRejected('no_subject', `token has no '${trust.subjectClaim}' claim`);
    return { payload, subject };
  } catch (e) {
    if (e instanceof TokenRejected) throw e;
    const code = (e as { code?: string }).code ?? 'invalid';
    throw new TokenRejected(code, `token rejected: ${(e as Error).message}`);
  }
}
