import type { JWTPayload } from 'jose';
import type { FederationTrust } from './verifyJwt';

/**
 * Which OpenID provider the emulators trust. Defaults to the sandbox IdP, but any provider
 * works (Okta, Entra ID, Keycloak...): the emulators only need its issuer and JWKS.
 */
export interface SandboxTrust {
  issuer: string;
  /** Expected `aud` of the subject token: the IdP client id for ID tokens. */
  audience: string;
  subjectClaim: string;
  groupsClaim: string;
}

export const TRUST_ENV = {
  issuer: 'MLSPANNER_SANDBOX_TRUSTED_ISSUER',
  audience: 'MLSPANNER_SANDBOX_TRUSTED_AUDIENCE',
  subjectClaim: 'MLSPANNER_SANDBOX_SUBJECT_CLAIM',
  groupsClaim: 'MLSPANNER_SANDBOX_GROUPS_CLAIM',
} as const;

/** Trust overrides present in the environment (unset or empty variables are ignored). */
export function trustFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<SandboxTrust> {
  const out: Partial<SandboxTrust> = {};
  for (const key of Object.keys(TRUST_ENV) as Array<keyof SandboxTrust>) {
    const value = env[TRUST_ENV[key]]?.trim();
    if (value) out[key] = value;
  }
  return out;
}

export function resolveTrust(defaults: SandboxTrust, ...overrides: Array<Partial<SandboxTrust> | undefined>): SandboxTrust {
  const out = { ...defaults };
  for (const o of overrides) {
    for (const [k, v] of Object.entries(o ?? {})) if (typeof v === 'string' && v) out[k as keyof SandboxTrust] = v;
  }
  return out;
}

export function federationTrustOf(trust: SandboxTrust, audiences: string[] = [trust.audience]): FederationTrust {
  return { issuer: trust.issuer, audiences, subjectClaim: trust.subjectClaim };
}

/** The groups claim as a string array; a single string counts as one group (some IdPs do that). */
export function groupsOf(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string' && value) return [value];
  return [];
}
