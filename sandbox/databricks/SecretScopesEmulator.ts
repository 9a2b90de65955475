/**
 * Databricks Secrets API 2.0 for the workspace emulator (CONTRACTS.md, "Databricks Secrets API
 * 2.0"): Databricks-backed scopes, secrets and per-principal ACLs. Values are kept in memory and
 * never leave through the API: list answers carry keys and timestamps only.
 */

export type SecretPermission = 'READ' | 'WRITE' | 'MANAGE';

/** Who calls: the workspace user of the bearer token and their groups. */
export interface SecretsCaller {
  userName: string;
  groups: string[];
}

interface Scope {
  name: string;
  acls: Map<string, SecretPermission>;
  secrets: Map<string, { value: string; updatedAt: number }>;
}

const RANK: Record<SecretPermission, number> = { READ: 1, WRITE: 2, MANAGE: 3 };
/** Scope names and keys: letters, digits, `-`, `_`, `.`; at most 128 characters. */
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
/** A secret value is at most 128 KB. */
const MAX_VALUE_BYTES = 128 * 1024;
/** Workspace admins hold MANAGE on every scope. */
const ADMIN_GROUPS = ['admins'];

export type ApiErrorFactory = (status: number, errorCode: string, message: string) => Error;

export class SecretScopesEmulator {
  private readonly scopes = new Map<string, Scope>();

  constructor(
    private readonly apiError: ApiErrorFactory,
    private readonly now: () => number,
  ) {}

  /** The answer to a `/api/2.0/secrets/…` request. */
  handle(method: string, path: string, body: Record<string, unknown>, query: URLSearchParams, who: SecretsCaller): unknown {
    switch (`${method} ${path}`) {
      case 'POST /api/2.0/secrets/scopes/create': {
        const name = this.name(body.scope, 'scope');
        const backend = body.scope_backend_type ?? 'DATABRICKS';
        if (backend !== 'DATABRICKS') throw this.apiError(400, 'INVALID_PARAMETER_VALUE', `scope_backend_type ${String(backend)} is not supported by this workspace emulator; use DATABRICKS.`);
        if (this.find(name)) throw this.apiError(409, 'RESOURCE_ALREADY_EXISTS', `Scope ${name} already exists!`);
        const principal = body.initial_manage_principal;
        if (principal !== undefined && principal !== 'users') throw this.apiError(400, 'INVALID_PARAMETER_VALUE', 'initial_manage_principal must be "users" or omitted.');
        this.createScope(name, { [principal === 'users' ? 'users' : who.userName]: 'MANAGE' });
        return {};
      }
      case 'GET /api/2.0/secrets/scopes/list':
        return { scopes: [...this.scopes.values()].map((s) => ({ name: s.name, backend_type: 'DATABRICKS' })) };
      case 'POST /api/2.0/secrets/scopes/delete': {
        const scope = this.existing(body.scope, who, 'MANAGE');
        this.scopes.delete(scope.name.toLowerCase());
        return {};
      }
      case 'POST /api/2.0/secrets/put': {
        const scope = this.existing(body.scope, who, 'WRITE');
        const key = this.name(body.key, 'key');
        const hasString = typeof body.string_value === 'string';
        const hasBytes = typeof body.bytes_value === 'string';
        if (hasString === hasBytes) throw this.apiError(400, 'INVALID_PARAMETER_VALUE', 'Exactly one of string_value and bytes_value must be given.');
        if (hasBytes && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.bytes_value as string)) throw this.apiError(400, 'INVALID_PARAMETER_VALUE', 'bytes_value is not valid base64.');
        const value = hasString ? (body.string_value as string) : Buffer.from(body.bytes_value as string, 'base64').toString('latin1');
        if (Buffer.byteLength(value, hasString ? 'utf8' : 'latin1') > MAX_VALUE_BYTES)
          throw this.apiError(400, 'INVALID_PARAMETER_VALUE', `The secret value exceeds ${MAX_VALUE_BYTES} bytes.`);
        scope.secrets.set(key, { value, updatedAt: this.now() });
        return {};
      }
      case 'POST /api/2.0/secrets/delete': {
        const scope = this.existing(body.scope, who, 'WRITE');
        const key = this.name(body.key, 'key');
        if (!scope.secrets.delete(key)) throw this.apiError(404, 'RESOURCE_DOES_NOT_EXIST', `Secret ${key} does not exist in scope ${scope.name}.`);
        return {};
      }
      case 'GET /api/2.0/secrets/list': {
        const scope = this.existing(query.get('scope'), who, 'READ');
        // Keys and timestamps only: values never leave through a list.
        return { secrets: [...scope.secrets].map(([key, s]) => ({ key, last_updated_timestamp: s.updatedAt })) };
      }
      case 'POST /api/2.0/secrets/acls/put': {
        const scope = this.existing(body.scope, who, 'MANAGE');
        const principal = this.principal(body.principal);
        const permission = body.permission;
        if (permission !== 'READ' && permission !== 'WRITE' && permission !== 'MANAGE') throw this.apiError(400, 'INVALID_PARAMETER_VALUE', 'permission must be READ, WRITE or MANAGE.');
        scope.acls.set(principal, permission);
        return {};
      }
      case 'POST /api/2.0/secrets/acls/delete': {
        const scope = this.existing(body.scope, who, 'MANAGE');
        const principal = this.principal(body.principal);
        if (!scope.acls.delete(principal)) throw this.apiError(404, 'RESOURCE_DOES_NOT_EXIST', `No ACL for ${principal} on scope ${scope.name}.`);
        return {};
      }
      case 'GET /api/2.0/secrets/acls/list': {
        const scope = this.existing(query.get('scope'), who, 'MANAGE');
        return { items: [...scope.acls].map(([principal, permission]) => ({ principal, permission })) };
      }
      case 'GET /api/2.0/secrets/acls/get': {
        const scope = this.existing(query.get('scope'), who, 'MANAGE');
        const principal = this.principal(query.get('principal'));
        const permission = scope.acls.get(principal);
        if (!permission) throw this.apiError(404, 'RESOURCE_DOES_NOT_EXIST', `No ACL for ${principal} on scope ${scope.name}.`);
        return { principal, permission };
      }
      default:
        throw this.apiError(404, 'ENDPOINT_NOT_FOUND', `No API found for '${method} ${path}'.`);
    }
  }

  // ---- Knobs for tests and the demo ----

  /** Creates (or replaces) a scope with these ACLs, e.g. one that only its owner may write. */
  createScope(name: string, acls: Record<string, SecretPermission>): void {
    this.scopes.set(name.toLowerCase(), { name, acls: new Map(Object.entries(acls)), secrets: new Map() });
  }

  /** A stored value, for tests that check what a client put (the API itself never returns it). */
  storedValue(scope: string, key: string): string | undefined {
    return this.find(scope)?.secrets.get(key)?.value;
  }

  scopeNames(): string[] {
    return [...this.scopes.values()].map((s) => s.name);
  }

  // ---- Checks ----

  private find(name: string): Scope | undefined {
    return this.scopes.get(name.toLowerCase());
  }

  private name(value: unknown, what: 'scope' | 'key'): string {
    if (typeof value !== 'string' || !value) throw this.apiError(400, 'INVALID_PARAMETER_VALUE', `${what} is required.`);
    if (!NAME.test(value))
      throw this.apiError(400, 'INVALID_PARAMETER_VALUE', `${what === 'scope' ? 'Scope' : 'Key'} names may only contain letters, digits, dashes, underscores and periods, and may not exceed 128 characters.`);
    return value;
  }

  private principal(value: unknown): string {
    if (typeof value !== 'string' || !value.trim()) throw this.apiError(400, 'INVALID_PARAMETER_VALUE', 'principal is required.');
    return value;
  }

  /** The scope, if the caller holds at least `needed` on it (through themselves, a group or `users`). */
  private existing(value: unknown, who: SecretsCaller, needed: SecretPermission): Scope {
    const scope = this.find(this.name(value, 'scope'));
    if (!scope) throw this.apiError(404, 'RESOURCE_DOES_NOT_EXIST', `Scope ${String(value)} does not exist!`);
    const held = this.permission(scope, who);
    if (!held || RANK[held] < RANK[needed])
      throw this.apiError(403, 'PERMISSION_DENIED', `User ${who.userName} does not have ${needed} permission on scope ${scope.name}${held ? ` (has ${held})` : ''}.`);
    return scope;
  }

  private permission(scope: Scope, who: SecretsCaller): SecretPermission | undefined {
    if (who.groups.some((g) => ADMIN_GROUPS.includes(g))) return 'MANAGE';
    let best: SecretPermission | undefined;
    for (const p of [who.userName, 'users', ...who.groups]) {
      const held = scope.acls.get(p);
      if (held && (!best || RANK[held] > RANK[best])) best = held;
    }
    return best;
  }
}
