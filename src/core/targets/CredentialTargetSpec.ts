import type { SubjectTokenKind } from '../auth/IdentitySession';
import type { Credential, HttpFactory, IssuedToken } from '../credentials/Credential';
import type { Environment } from '../policy/Environment';
import type { FieldSpec, Leaf } from '../policy/settingFields';

/** What a target's exchange gets from the broker. */
export interface ExchangeContext<S> {
  environment: Environment;
  settings: S;
  /** The IdP token the target asked for (`subjectToken(settings)`); never leaves the exchange. */
  subjectToken: string;
  /** The signed-in identity (e.g. AWS RoleSessionName comes from the subject). */
  who: { issuer: string; subject: string };
  http: HttpFactory;
  /** The target's own per-broker state from `createState` (e.g. a discovery cache). */
  state: unknown;
  /** Epoch ms the exchange starts. */
  now: number;
}

/** One line of the doctor's report about a target's configuration. */
export interface TargetCheck {
  status: 'ok' | 'warn';
  message: string;
  action?: string;
}

/**
 * Everything the extension knows about one kind of credential, in one place. The broker,
 * settings resolution, the access decision, explain, the views, the doctor and process
 * environments iterate the registry of these; nothing else switches on a target id.
 */
export interface CredentialTargetSpec<S = Record<string, Leaf>> {
  /** Stable id used in cache keys, access-log entries and `when` clauses: 'databricks'. */
  readonly id: string;
  /** The section of an environment definition holding its settings: 'spanner' for Google. */
  readonly section: string;
  /** What the credential is called in the tree and messages: 'Databricks token'. */
  readonly label: string;
  /** The service's name: 'Databricks', 'Google (ML Spanner)'. */
  readonly service: string;
  /** Settings of the section and how each is validated. */
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Keys that must be set (after `extends`) when the section is present. */
  readonly required: readonly string[];
  /** The key named when the target is not configured at all. */
  readonly keyField: string;
  /** Readable names of the `source` values its credentials carry. */
  readonly sourceLabels?: Readonly<Record<string, string>>;
  /** Values filled in when the settings leave them out (given the section's values so far). */
  defaults(values: ReadonlyMap<string, Leaf>): Record<string, Leaf>;
  /** Which IdP token is the subject of the exchange. */
  subjectToken(settings: S): SubjectTokenKind;
  /**
   * Who the credential acts as, and every value that decides where it comes from and what it is
   * for: a change in any part must never reuse a cached credential.
   */
  identity(settings: S, env: Environment): { principal: string; parts: readonly unknown[] };
  /** The longest lifetime a credential of this target may have in `env`, in seconds. */
  ttlCapSeconds(settings: S, env: Environment): number;
  /** Per-broker state (caches) created once. */
  createState?(http: HttpFactory): unknown;
  /** Exchanges the IdP token for the target's credential. */
  exchange(ctx: ExchangeContext<S>): Promise<IssuedToken>;
  /**
   * Variables a process (terminal) gets for a credential: the names each CLI and SDK reads.
   * Static values; local credential endpoints are preferred where a process outlives a token.
   */
  processEnv(credential: Credential, settings: S, env: Environment): Record<string, string>;
  /** Markdown bullet lines for Explain Access: lifetime, token flow, where the credential goes. */
  explain(settings: S, env: Environment, ttlCapSeconds: number): string[];
  /** Hosts the credential (or the IdP token for it) is sent to: for the doctor and host review. */
  endpoints(settings: S): string[];
  /** Configuration checks beyond validation, for the doctor. */
  check?(settings: S, env: Environment): TargetCheck[];
}

/** A spec whose settings type has been erased, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTargetSpec = CredentialTargetSpec<any>;
