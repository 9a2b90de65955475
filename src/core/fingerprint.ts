import { createHash } from 'node:crypto';

/**
 * A token fingerprint for the access log: the first 12 hex digits of SHA-256. It identifies a
 * token across log lines without revealing it (2^48 space; not reversible).
 */
export function tokenFingerprint(token: string): string {
  return 'sha256:' + createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);
}
