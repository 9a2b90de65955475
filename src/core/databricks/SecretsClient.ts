import { UserFacingError } from '../errors';
import { AuthorizedClient, toTokenSource, type AuthorizedRequestConfig, type TokenSource } from '../http/AuthorizedClient';
import { createHttpClient, ServiceError } from '../http/HttpClient';
import { SECRET_NAME } from '../secrets/secretFixes';
import { normaliseWorkspaceHost, type DatabricksClientOptions, type DatabricksTokenSource } from './DatabricksClient';

/** Databricks Secrets API 2.0 shapes (databricks-sdk-py `workspace.py`, SecretsAPI). */
export type SecretPermission = 'READ' | 'WRITE' | 'MANAGE';
export interface SecretScope {
  name: string;
  backend_type?: string;
}
export interface SecretMetadata {
  key: string;
  last_updated_timestamp?: number;
}
export interface AclItem {
  principal: string;
  permission: SecretPermission;
}

/** What the secret-scope quick fix needs: an interface, so the shell's tests can pass a fake. */
export interface SecretsApi {
  readonly host: string;
  listScopes(): Promise<SecretScope[]>;
  /** Creates a Databricks-backed scope; 'exists' when it already does (not an error here). */
  createScope(scope: string, options?: { initialManagePrincipal?: 'users' }): Promise<'created' | 'exists'>;
  /** Stores (or overwrites) a string secret. */
  putSecret(scope: string, key: string, value: string): Promise<void>;
  /** Keys and update times; the service never returns values here. */
  listSecrets(scope: string): Promise<SecretMetadata[]>;
}

function actionFor(e: ServiceError, scope?: string): string | undefined {
  const where = scope ? `scope ${scope}` : 'the scope';
  if (e.status === 401) return 'Sign in again, then retry.';
  if (e.code === 'PERMISSION_DENIED' || e.status === 403)
    return `You need WRITE or MANAGE on ${where}: ask its owner to grant it (secrets/acls/put), or choose a scope of your own.`;
  if (e.code === 'RESOURCE_DOES_NOT_EXIST') return `Check that ${where} exists in this workspace, or create it.`;
  if (e.code === 'RESOURCE_ALREADY_EXISTS') return 'Choose the existing scope instead of creating it.';
  if (e.code === 'INVALID_PARAMETER_VALUE') return 'Scope and key names may use letters, digits, -, _ and . (at most 128).';
  if (e.status === 429) return 'The workspace is rate-limiting requests; wait a minute and retry.';
  return e.action;
}

/**
 * Secrets API 2.0 client over the one authorized client (a 401 is retried once with a fresh
 * token). Values travel in request bodies only: never in a URL, an error or a log line.
 */
export class SecretsClient implements SecretsApi {
  readonly host: string;
  private readonly http: AuthorizedClient;

  constructor(host: string, tokens: TokenSource | DatabricksTokenSource, options: DatabricksClientOptions = {}) {
    this.host = normaliseWorkspaceHost(host);
    this.http = new AuthorizedClient(createHttpClient({ ...options.http, service: 'Databricks', baseURL: this.host }), toTokenSource(tokens, 'Databricks'));
  }

  /** Fingerprint of the token the last request carried (for the access log; never the token). */
  get lastTokenFingerprint(): string | undefined {
    return this.http.lastTokenFingerprint;
  }

  async listScopes(): Promise<SecretScope[]> {
    return (await this.call<{ scopes?: SecretScope[] }>({ method: 'GET', url: '/api/2.0/secrets/scopes/list' })).scopes ?? [];
  }

  async createScope(scope: string, options: { initialManagePrincipal?: 'users' } = {}): Promise<'created' | 'exists'> {
    checkName(scope, 'scope');
    try {
      await this.call<unknown>(
        {
          method: 'POST',
          url: '/api/2.0/secrets/scopes/create',
          data: { scope, scope_backend_type: 'DATABRICKS', ...(options.initialManagePrincipal ? { initial_manage_principal: options.initialManagePrincipal } : {}) },
          // A retried create that had succeeded answers RESOURCE_ALREADY_EXISTS, which is fine here.
          retryUnsafe: true,
        },
        scope,
      );
      return 'created';
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'RESOURCE_ALREADY_EXISTS') return 'exists';
      throw e;
    }
  }

  async putSecret(scope: string, key: string, value: string): Promise<void> {
    checkName(scope, 'scope');
    checkName(key, 'key');
    // put overwrites: repeating it is harmless.
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/secrets/put', data: { scope, key, string_value: value }, retryUnsafe: true }, scope);
  }

  async listSecrets(scope: string): Promise<SecretMetadata[]> {
    checkName(scope, 'scope');
    return (await this.call<{ secrets?: SecretMetadata[] }>({ method: 'GET', url: '/api/2.0/secrets/list', params: { scope } }, scope)).secrets ?? [];
  }

  async deleteSecret(scope: string, key: string): Promise<void> {
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/secrets/delete', data: { scope, key } }, scope);
  }

  async deleteScope(scope: string): Promise<void> {
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/secrets/scopes/delete', data: { scope } }, scope);
  }

  async putAcl(scope: string, principal: string, permission: SecretPermission): Promise<void> {
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/secrets/acls/put', data: { scope, principal, permission }, retryUnsafe: true }, scope);
  }

  async listAcls(scope: string): Promise<AclItem[]> {
    return (await this.call<{ items?: AclItem[] }>({ method: 'GET', url: '/api/2.0/secrets/acls/list', params: { scope } }, scope)).items ?? [];
  }

  private async call<T>(config: AuthorizedRequestConfig, scope?: string): Promise<T> {
    try {
      return (await this.http.request<T>({ ...config, headers: { ...config.headers, Accept: 'application/json' } })).data;
    } catch (e) {
      throw withAction(e, scope);
    }
  }
}

function withAction(e: unknown, scope?: string): unknown {
  if (!(e instanceof ServiceError)) return e;
  const action = actionFor(e, scope);
  return action === e.action ? e : new ServiceError(e.service, e.status, e.code, e.message, action);
}

function checkName(name: string, what: 'scope' | 'key'): void {
  if (!SECRET_NAME.test(name))
    throw new UserFacingError('config', `"${name.slice(0, 40)}" is not a valid secret ${what} name.`, 'Use letters, digits, -, _ and . (at most 128 characters).');
}

/** What storing a secret did. */
export interface StoredSecret {
  scope: string;
  key: string;
  createdScope: boolean;
}

/**
 * Puts `value` into `scope`/`key`, creating the scope when asked, then checks that the key is
 * listed (a put that "succeeded" into the wrong place is worse than an error).
 */
export async function storeSecret(api: SecretsApi, request: { scope: string; key: string; value: string; createScope: boolean }): Promise<StoredSecret> {
  const createdScope = request.createScope ? (await api.createScope(request.scope)) === 'created' : false;
  await api.putSecret(request.scope, request.key, request.value);
  const listed = await api.listSecrets(request.scope);
  if (!listed.some((s) => s.key === request.key))
    throw new UserFacingError('protocol', `The workspace accepted the secret but does not list ${request.key} in scope ${request.scope}.`, 'Check the scope in the workspace, then retry; the literal was left in place.');
  return { scope: request.scope, key: request.key, createdScope };
}
