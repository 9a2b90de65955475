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
   */
  fresh(minValiditySeconds?: number): Promise<IdentitySession>;
}
