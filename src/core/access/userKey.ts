import type { IdentitySession } from '../auth/IdentitySession';

/** One user across windows and reloads: the provider and the subject it gives. */
export function userKey(s: Pick<IdentitySession, 'issuer' | 'subject'>): string {
  return `${s.issuer}|${s.subject}`;
}

/** Who acted, as access-log entries name them. */
export function actorOf(s: Pick<IdentitySession, 'issuer' | 'subject' | 'name'>): { issuer: string; subject: string; name: string } {
  return { issuer: s.issuer, subject: s.subject, name: s.name };
}
