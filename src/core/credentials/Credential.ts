import type { AxiosInstance } from 'axios';
import type { SubjectTokenKind } from '../auth/IdentitySession';
import type { CredentialTarget } from '../policy/Environment';

/** How a credential was obtained: 'federation', 'sts', 'impersonation', 'assume-role-with-web-identity', ... */
export type CredentialSource = string;

/** Makes the HTTP client for a named service ("Databricks", "Google STS", ...). */
export type HttpFactory = (service: string) => AxiosInstance;

interface CredentialBase {
  environment: string;
  target: CredentialTarget;
  /** Epoch ms. */
  issuedAt: number;
  /** Epoch ms: min(service expiry, issuedAt + maxTtlSeconds). */
  expiresAt: number;
  /** Epoch ms the service said, when it said (for explain and tests). */
  serviceExpiresAt?: number;
  scopes: string[];
  source: CredentialSource;
  /** Who the credential acts as / is for: Databricks host, service account, role ARN, pool provider. */
  principal: string;
  /** tokenFingerprint of the secret: the only trace of it in logs. */
  fingerprint: string;
  subjectTokenKind: SubjectTokenKind;
}

/** A bearer token (Databricks OAuth token, Google access token, ...). In memory only. */
export interface BearerCredential extends CredentialBase {
  kind: 'bearer';
  accessToken: string;
}

/** An AWS session. In memory only. */
export interface AwsCredential extends CredentialBase {
  kind: 'aws';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** arn:aws:sts::…:assumed-role/<role>/<session name> */
  assumedRoleArn: string;
}

export type Credential = BearerCredential | AwsCredential;

/** What an exchange returns before the broker applies the environment's caps. */
export type IssuedToken =
  | { kind: 'bearer'; accessToken: string; serviceExpiresAt?: number; scopes: string[]; source: CredentialSource; principal: string }
  | {
      kind: 'aws';
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
      serviceExpiresAt: number;
      assumedRoleArn: string;
      source: CredentialSource;
      principal: string;
    };

/** Effective expiry: the service's, cut to issuedAt + maxTtlSeconds. */
export function cappedExpiry(issuedAt: number, serviceExpiresAt: number | undefined, maxTtlSeconds: number): number {
  const cap = issuedAt + maxTtlSeconds * 1000;
  return serviceExpiresAt === undefined ? cap : Math.min(serviceExpiresAt, cap);
}

/**
 * How long before expiry a credential is renewed: at least 60 s (Databricks rejects tokens in
 * their last 30 s, databricks-vscode#583; its SDK renews 40 s early), or 10% of the lifetime,
 * but never more than half the lifetime: a credential that lives 60 s (or whose expiry a skewed
 * clock puts close) is renewed at its half-life, not at once and again and again.
 */
export function refreshMarginMs(issuedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - issuedAt);
  return Math.min(Math.max(60_000, 0.1 * lifetime), 0.5 * lifetime);
}

/**
 * The least time between two exchanges of one credential (unless it has expired): whatever a
 * service answers, a credential is not exchanged again within 30 s (or half its lifetime).
 */
export function minRefreshIntervalMs(issuedAt: number, expiresAt: number): number {
  return Math.min(30_000, 0.5 * Math.max(0, expiresAt - issuedAt));
}

/** When a credential becomes due for renewal (epoch ms). */
export function dueForRefreshAt(c: Pick<Credential, 'issuedAt' | 'expiresAt'>): number {
  return Math.max(c.expiresAt - refreshMarginMs(c.issuedAt, c.expiresAt), c.issuedAt + minRefreshIntervalMs(c.issuedAt, c.expiresAt));
}

export function needsRefresh(c: Pick<Credential, 'issuedAt' | 'expiresAt'>, now: number): boolean {
  return c.expiresAt <= now || now >= dueForRefreshAt(c);
}

export type CredentialState = 'valid' | 'expiring' | 'expired' | 'failed';

export function credentialState(c: Pick<Credential, 'issuedAt' | 'expiresAt'>, now: number): Exclude<CredentialState, 'failed'> {
  if (c.expiresAt <= now) return 'expired';
  return needsRefresh(c, now) ? 'expiring' : 'valid';
}
