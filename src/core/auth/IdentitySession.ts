/** The signed-in identity as the rest of the core sees it. Tokens here live in memory only. */
export interface IdentitySession {
  issuer: string;
  subject: string;
  /** Display name and email from the ID token claims. */
  name: string;
  email?: string;
  groups: string[];
  claims: Readonly<Record<string, unknown>>;
  idToken: string;
  /** Epoch ms the ID token expires. */
  idTokenExpiresAt: number;
  /**
   * False when the last refresh returned no new ID token (OIDC Core §12.2 allows that): `idToken`
   * is then an earlier one, kept for its claims and as a logout hint; it may have expired, so
   * check `idTokenExpiresAt` (or ask `fresh(s, 'idToken')`) before sending it anywhere.
   */
  idTokenRenewed?: boolean;
  accessToken: string;
  /** Epoch ms the access token expires. */
  accessTokenExpiresAt: number;
  scopes: string[];
}

/** Which IdP token a cloud exchange sends as its subject token. */
export type SubjectTokenKind = 'idToken' | 'accessToken';

/** What the credential broker needs from sign-in: a fresh session on demand. */
export interface IdentitySource {
  /** The current session, or undefined when signed out. Never triggers interaction. */
  current(): IdentitySession | undefined;
  /**
   * A session whose tokens are valid for at least `minValiditySeconds`, refreshing silently if
   * needed. Rejects with a UserFacingError of kind 'auth' when the user must sign in again.
   * `token` names the token the caller will send (a subject token): only its expiry counts.
   * Without it, the access token counts, and the ID token too while the provider renews it.
   * For 'idToken' at a provider that does not renew ID tokens on refresh, it rejects (kind
   * 'auth': a new sign-in gets a new ID token) instead of refreshing again and again.
   */
  fresh(minValiditySeconds?: number, token?: SubjectTokenKind): Promise<IdentitySession>;
}
