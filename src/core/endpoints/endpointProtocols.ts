import type { AwsCredential, BearerCredential, Credential } from '../credentials/Credential';
import { awsStsEndpointFor, DEFAULT_ENDPOINTS } from '../policy/Environment';

/**
 * The three wire protocols of the local credential endpoints, one per ecosystem, each the
 * provider its SDKs already know, so the user's own tools need no plug-in:
 *
 * - Databricks unified auth `metadata-service` (databricks-sdk-go config/auth_metadata_service.go,
 *   databricks-sdk-py credentials_provider.py MetadataServiceTokenSource): GET the URL with
 *   `X-Databricks-Metadata-Version: 1` and `X-Databricks-Host`; answer
 *   `{access_token, token_type, expires_on}` with `expires_on` in epoch seconds, a JSON number
 *   (the Python SDK passes it to `datetime.fromtimestamp`). The SDKs accept only `localhost` and
 *   `127.0.0.1` URLs; the protocol has no auth header, so the secret is part of the URL path.
 * - AWS container credentials (botocore ContainerProvider, the SDKs' `fromContainerMetadata`):
 *   GET `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `Authorization: <AWS_CONTAINER_AUTHORIZATION_TOKEN>`;
 *   answer `{AccessKeyId, SecretAccessKey, Token, Expiration}` (RFC 3339).
 * - Google `external_account_authorized_user` credentials (google-auth-library
 *   externalAccountAuthorizedUserClient.js, google-auth python external_account_authorized_user.py):
 *   the client POSTs `grant_type=refresh_token&refresh_token=…` (HTTP Basic client auth) to the
 *   file's `token_url` and reads `{access_token, expires_in}`. The "refresh token" in the file is
 *   the consumer's endpoint secret: worthless anywhere but this endpoint, and never the identity
 *   provider's token, so the process can get exactly the environment's scoped Google token.
 *   gcloud (`auth/credential_file_override`) also POSTs the access token to the file's
 *   `token_info_url` (RFC 7662 introspection) to name the account; that answers for the token
 *   this consumer was handed, and `{active: false}` for any other.
 */

/** The targets with a local endpoint protocol (ids in the credential target registry). */
export type EndpointTarget = 'databricks' | 'google' | 'aws';
export const ENDPOINT_TARGETS: readonly EndpointTarget[] = ['databricks', 'google', 'aws'];

/** An AWS session (by shape, whatever the credential's discriminant). */
export function isAwsCredential(c: Credential): c is AwsCredential {
  return typeof (c as Partial<AwsCredential>).accessKeyId === 'string';
}

/** Path segment of each target under a registration's prefix. */
export const TARGET_PATH: Record<EndpointTarget, string> = { databricks: 'databricks', google: 'google/token', aws: 'aws' };
/** RFC 7662 introspection of the Google token handed out (gcloud asks it for the account name). */
export const GOOGLE_INTROSPECT_PATH = 'google/introspect';

export const DATABRICKS_METADATA_VERSION = '1';
export const DATABRICKS_VERSION_HEADER = 'x-databricks-metadata-version';
export const DATABRICKS_HOST_HEADER = 'x-databricks-host';

/** Public client id/secret in the Google credentials file: required by the clients, not secret. */
export const GOOGLE_FILE_CLIENT_ID = 'mlspanner-local-endpoint';
export const GOOGLE_FILE_CLIENT_SECRET = 'public-loopback-client';
export const EXTERNAL_ACCOUNT_AUTHORIZED_USER = 'external_account_authorized_user';

/**
 * Variables that would win over (or conflict with) the endpoint in a process: static tokens,
 * profiles and other providers of each ecosystem. The shell removes them (or sets them empty,
 * which every SDK here reads as unset).
 */
export const UNSET_VARIABLES: Record<EndpointTarget, readonly string[]> = {
  databricks: [
    'DATABRICKS_TOKEN',
    'DATABRICKS_CONFIG_PROFILE',
    'DATABRICKS_CLIENT_ID',
    'DATABRICKS_CLIENT_SECRET',
    'DATABRICKS_USERNAME',
    'DATABRICKS_PASSWORD',
    'DATABRICKS_AZURE_CLIENT_ID',
    'DATABRICKS_AZURE_CLIENT_SECRET',
    'DATABRICKS_GOOGLE_SERVICE_ACCOUNT',
    'DATABRICKS_GOOGLE_CREDENTIALS',
    'DATABRICKS_OIDC_TOKEN',
    'DATABRICKS_OIDC_TOKEN_FILEPATH',
  ],
  google: [
    'CLOUDSDK_AUTH_ACCESS_TOKEN',
    'CLOUDSDK_AUTH_ACCESS_TOKEN_FILE',
    'CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT',
    'GOOGLE_OAUTH_ACCESS_TOKEN',
    'GOOGLE_CREDENTIALS',
    'SPANNER_EMULATOR_HOST',
  ],
  aws: [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_SECURITY_TOKEN',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_ROLE_ARN',
    'AWS_ROLE_SESSION_NAME',
  ],
};

/**
 * Names in UNSET_VARIABLES that must really be removed: set empty, they still win (botocore
 * prefers a relative container URI, even an empty one, which points off this machine). Every
 * other name reads as unset when empty, in the SDKs and CLIs tested here.
 */
export const NOT_BLANKABLE: ReadonlySet<string> = new Set(['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']);

/** Epoch seconds, whole: the Databricks `expires_on`. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** RFC 3339 in UTC, whole seconds (as AWS writes `Expiration`). */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function databricksBody(c: BearerCredential): Record<string, unknown> {
  return { access_token: c.accessToken, token_type: 'Bearer', expires_on: epochSeconds(c.expiresAt) };
}

export function awsBody(c: AwsCredential): Record<string, unknown> {
  return { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: rfc3339(c.expiresAt) };
}

/** RFC 7662 §2.2 introspection response for a token this consumer holds. */
export function googleIntrospection(c: Pick<BearerCredential, 'principal' | 'scopes' | 'expiresAt'>): Record<string, unknown> {
  return { active: true, token_type: 'Bearer', username: c.principal, scope: c.scopes.join(' '), exp: epochSeconds(c.expiresAt) };
}

/** RFC 6749 §5.1 token response; `expires_in` never below 1 (the credential was just checked as valid). */
export function googleBody(c: BearerCredential, now: number): Record<string, unknown> {
  const body: Record<string, unknown> = { access_token: c.accessToken, token_type: 'Bearer', expires_in: Math.max(1, Math.floor((c.expiresAt - now) / 1000)) };
  if (c.scopes.length) body.scope = c.scopes.join(' ');
  return body;
}

/** Why a request got no credential; `code` is machine-readable, `message` says what to do. */
export interface EndpointFailure {
  status: number;
  code: string;
  message: string;
}

/**
 * An error in each protocol's own shape, so the client prints the message: the Go SDK shows
 * "token error: <body>", botocore "Received non 200 response (<status>) from container
 * metadata: <body>", google-auth the OAuth `error_description`.
 */
export function errorBody(target: EndpointTarget | undefined, f: EndpointFailure): Record<string, unknown> {
  switch (target) {
    case 'google':
      return { error: oauthErrorCode(f), error_description: f.message };
    case 'aws':
      return { Code: f.code, Message: f.message };
    default:
      return { error_code: f.code, message: f.message };
  }
}

function oauthErrorCode(f: EndpointFailure): string {
  if (f.code === 'BAD_REQUEST') return 'invalid_request';
  if (f.code === 'UNSUPPORTED_GRANT_TYPE') return 'unsupported_grant_type';
  if (f.status === 401 || f.status === 403) return 'invalid_grant';
  return 'temporarily_unavailable';
}

/** What a registration's process needs, by target. Values only; no secret beyond the consumer's own. */
export interface TargetVariables {
  env: Record<string, string>;
  unset: readonly string[];
}

export function databricksVariables(host: string, url: string): TargetVariables {
  return {
    env: { DATABRICKS_HOST: host, DATABRICKS_AUTH_TYPE: 'metadata-service', DATABRICKS_METADATA_SERVICE_URL: url },
    unset: UNSET_VARIABLES.databricks,
  };
}

/**
 * The AWS SDKs ask the shared credentials and config files before the container provider, so
 * a `[default]` profile with keys would win: the registration points both at its own files
 * (the config holds the region, the credentials file is empty) and names their `default`
 * profile (an empty AWS_PROFILE is an error to the CLI, and a terminal cannot remove one).
 */
export function awsVariables(url: string, secret: string, files: { config: string; credentials: string; token: string }, settings: { region?: string; stsEndpoint?: string }): TargetVariables {
  const region = settings.region;
  const env: Record<string, string> = {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
    // Both forms: the SDKs that know the file read it first (so a stale one in the shell cannot win).
    AWS_CONTAINER_AUTHORIZATION_TOKEN: secret,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: files.token,
    AWS_CONFIG_FILE: files.config,
    AWS_SHARED_CREDENTIALS_FILE: files.credentials,
    AWS_PROFILE: 'default',
    AWS_DEFAULT_PROFILE: 'default',
  };
  if (region) {
    env.AWS_REGION = region;
    env.AWS_DEFAULT_REGION = region;
  }
  // A private or sandbox STS endpoint: the same one for the CLI and SDKs (service-specific endpoint variables).
  if (settings.stsEndpoint && settings.stsEndpoint !== awsStsEndpointFor(region)) env.AWS_ENDPOINT_URL_STS = settings.stsEndpoint;
  return { env, unset: UNSET_VARIABLES.aws };
}

export function googleVariables(credentialsFile: string, settings: { project?: string; endpoint?: string }): TargetVariables {
  const project = settings.project;
  const env: Record<string, string> = {
    GOOGLE_APPLICATION_CREDENTIALS: credentialsFile,
    // gcloud reads its own property, not GOOGLE_APPLICATION_CREDENTIALS.
    CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: credentialsFile,
  };
  if (project) {
    env.GOOGLE_CLOUD_PROJECT = project;
    env.CLOUDSDK_CORE_PROJECT = project;
  }
  // A private or sandbox Spanner endpoint: gcloud's per-API override (it wants the trailing slash).
  if (settings.endpoint && settings.endpoint !== DEFAULT_ENDPOINTS.spanner) env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SPANNER = settings.endpoint.replace(/\/*$/, '/');
  return { env, unset: UNSET_VARIABLES.google };
}

/** The `external_account_authorized_user` file: the endpoint and the consumer's secret, no token. */
export function googleCredentialsFile(tokenUrl: string, tokenInfoUrl: string, secret: string): Record<string, unknown> {
  // No quota_project_id: it would add x-goog-user-project, which needs serviceusage rights.
  return {
    type: EXTERNAL_ACCOUNT_AUTHORIZED_USER,
    token_url: tokenUrl,
    token_info_url: tokenInfoUrl,
    refresh_token: secret,
    client_id: GOOGLE_FILE_CLIENT_ID,
    client_secret: GOOGLE_FILE_CLIENT_SECRET,
  };
}

/** The AWS config file of a registration: the region only. */
export function awsConfigFile(region?: string): string {
  return region ? `[default]\nregion = ${region}\n` : '[default]\n';
}

/** Databricks `X-Databricks-Host` equality: same origin, whatever the trailing slash or case. */
export function sameDatabricksHost(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
