import type { SubjectTokenKind } from '../auth/IdentitySession';

/** The id of a credential target in the registry ('databricks', 'google', 'aws', ...). */
export type CredentialTarget = string;

/** Settings prefix used in every message that names a setting to fix. */
export const ENVIRONMENTS_SETTING = 'mlspanner.environments';

/** Default service endpoints (DESIGN.md "Service endpoints ... may be overridden per environment"). */
export const DEFAULT_ENDPOINTS = {
  googleSts: 'https://sts.googleapis.com',
  iamCredentials: 'https://iamcredentials.googleapis.com',
  spanner: 'https://spanner.googleapis.com',
  awsSts: 'https://sts.amazonaws.com',
} as const;

export const DEFAULT_DATABRICKS_SCOPES: readonly string[] = ['all-apis'];
export const DEFAULT_SUBJECT_TOKEN: SubjectTokenKind = 'idToken';
/** Every credential is capped at one hour unless the environment says otherwise. */
export const DEFAULT_MAX_TTL_SECONDS = 3600;

/** Regional AWS STS endpoint; China regions live under amazonaws.com.cn. */
export function awsStsEndpointFor(region: string | undefined): string {
  if (!region) return DEFAULT_ENDPOINTS.awsSts;
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** An environment definition as written in settings: every field optional (it may inherit). */
export interface EnvironmentDefinition {
  extends?: string;
  requiredGroups?: string[];
  confirm?: boolean;
  maxTtlSeconds?: number;
  databricks?: Partial<DatabricksSettings>;
  spanner?: Partial<SpannerSettings>;
  aws?: Partial<AwsSettings>;
  /** Sections of other registered targets. */
  [section: string]: unknown;
}

export interface DatabricksSettings {
  /** Workspace origin, e.g. https://adb-123.4.azuredatabricks.net. */
  host: string;
  /** Service-principal federation policy; absent for account-wide (user) federation. */
  clientId?: string;
  scopes: string[];
  subjectToken: SubjectTokenKind;
}

export interface SpannerSettings {
  project: string;
  instance: string;
  database: string;
  workloadIdentityAudience: string;
  serviceAccount?: string;
  subjectToken: SubjectTokenKind;
  stsEndpoint: string;
  iamCredentialsEndpoint: string;
  endpoint: string;
}

export interface AwsSettings {
  roleArn: string;
  region?: string;
  subjectToken: SubjectTokenKind;
  stsEndpoint: string;
  sessionDurationSeconds?: number;
}

/** Where an effective value came from, for explain-access. */
export type ValueOrigin =
  | { kind: 'own' }
  | { kind: 'inherited'; from: string }
  | { kind: 'bundle'; source: string }
  | { kind: 'default' };

/** An environment after inheritance, bundle discovery and defaults: what policy and broker use. */
export interface Environment {
  name: string;
  /** The `extends` chain from this environment up, e.g. ["staging", "dev"]. */
  chain: string[];
  requiredGroups: string[];
  confirm: boolean;
  maxTtlSeconds: number;
  /** Settings of every configured target, by section ('databricks', 'spanner', 'aws', ...). */
  sections: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Typed views of the built-in sections (the same objects as in `sections`). */
  databricks?: DatabricksSettings;
  spanner?: SpannerSettings;
  aws?: AwsSettings;
  /** Where the environment was defined: settings, or only a bundle target. */
  definedBy: 'settings' | 'bundle';
  /** Dotted path of each effective leaf value (e.g. "databricks.host") → its origin. */
  origins: Readonly<Record<string, ValueOrigin>>;
}

/** A problem in the settings (or the bundle), with the JSON path of the offending value. */
export interface EnvironmentProblem {
  /** e.g. "mlspanner.environments.staging.databricks.host" */
  path: string;
  message: string;
  /** The environment the problem disables, when there is one. */
  environment?: string;
}

export interface EnvironmentResolution {
  environments: Readonly<Record<string, Environment>>;
  problems: EnvironmentProblem[];
}

export function formatProblem(p: EnvironmentProblem): string {
  return `${p.path}: ${p.message}`;
}

export function settingPath(environment: string, ...rest: string[]): string {
  return [ENVIRONMENTS_SETTING, environment, ...rest].join('.');
}

/**
 * Names that usually mean production (a segment such as prod, production, prd or live, e.g.
 * "prod", "prod-eu", "us_live"): such environments ask for confirmation unless told otherwise.
 */
export function isProdLikeName(name: string): boolean {
  return name
    .toLowerCase()
    .split(/[-_.\s]+/)
    .some((seg) => /^(prod|production|prd|live)\d*$/.test(seg));
}
