import type { SubjectTokenKind } from '../auth/IdentitySession';

/** 3600 → "1 h", 900 → "15 min", 90 → "90 s". */
export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export function tokenName(kind: SubjectTokenKind): string {
  return kind === 'idToken' ? 'ID token' : 'access token';
}
