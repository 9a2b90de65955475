import { AccessGate } from '../../../src/core/access/AccessGate';
import type { AccessEventInput } from '../../../src/core/audit/AccessLog';
import type { IdentitySession } from '../../../src/core/auth/IdentitySession';
import type { BrokerTimers } from '../../../src/core/credentials/CredentialBroker';
import { UserFacingError } from '../../../src/core/errors';
import { describeHttpFailure } from '../../../src/core/http/HttpClient';
import { settingPath } from '../../../src/core/policy/Environment';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import type { CredentialTargetSpec } from '../../../src/core/targets/CredentialTargetSpec';
import { BUILTIN_TARGETS } from '../../../src/core/targets/TargetRegistry';

/**
 * A credential target whose service can be switched between answering, being down, refusing a
 * setting and leaking a token into its error text: for tests of how failures are shown.
 */
export type LakehouseMode = 'ok' | 'down' | 'config' | 'leak';

/** A JWT-shaped value a careless service might echo in an error. */
export const LEAKED_JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6Imxha2UifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl';

interface LakehouseSettings {
  host: string;
  subjectToken: 'idToken' | 'accessToken';
}

export function lakehouse() {
  const state = { mode: 'ok' as LakehouseMode, exchanges: 0 };
  const spec: CredentialTargetSpec<LakehouseSettings> = {
    id: 'lakehouse',
    section: 'lakehouse',
    label: 'Lakehouse token',
    service: 'Lakehouse',
    fields: { host: { kind: 'origin' }, subjectToken: { kind: 'enum', values: ['idToken', 'accessToken'] } },
    required: ['host'],
    keyField: 'host',
    sourceLabels: { federation: 'token federation' },
    defaults: () => ({ subjectToken: 'accessToken' }),
    subjectToken: (s) => s.subjectToken,
    identity: (s) => ({ principal: s.host, parts: [s.host, s.subjectToken] }),
    ttlCapSeconds: (_s, env) => env.maxTtlSeconds,
    exchange: async (ctx) => {
      state.exchanges++;
      const env = ctx.environment.name;
      if (state.mode === 'down') throw describeHttpFailure('Lakehouse', { code: 'ECONNREFUSED', origin: ctx.settings.host, path: '/oidc/v1/token' });
      if (state.mode === 'config') throw new UserFacingError('config', `Lakehouse at ${ctx.settings.host} does not accept tokens for "${env}" (invalid_target).`, `Check ${settingPath(env, 'lakehouse', 'host')}.`);
      if (state.mode === 'leak') throw new Error(`upstream said: Authorization: Bearer ${LEAKED_JWT} is not valid here`);
      return { kind: 'bearer', accessToken: `lakehouse-${state.exchanges}-a7f3c9e1b5d2a8f4c6e0b9d3`, serviceExpiresAt: ctx.now + 3600_000, scopes: ['all-apis'], source: 'federation', principal: ctx.settings.host };
    },
    processEnv: () => ({}),
    explain: () => [],
    endpoints: (s) => [s.host],
  };
  return { state, spec, registry: BUILTIN_TARGETS.with(spec) };
}

export const T0 = Date.parse('2030-01-01T12:00:00Z');

export const SETTINGS = {
  dev: { requiredGroups: ['ml-dev'], maxTtlSeconds: 900, lakehouse: { host: 'https://lake-dev.example.com' } },
  staging: { extends: 'dev', requiredGroups: ['ml-dev'] },
};

export function aliceSession(expiresAt: number): IdentitySession {
  return {
    issuer: 'https://idp.example.com',
    subject: 'alice',
    name: 'Alice',
    groups: ['ml-dev'],
    claims: {},
    idToken: 'id-token-value-for-alice-1234567890',
    idTokenExpiresAt: expiresAt,
    accessToken: 'access-token-value-for-alice-1234567890',
    accessTokenExpiresAt: expiresAt,
    scopes: ['openid'],
  };
}

/** A gate over the lakehouse target, on a fake clock; `identityDown` makes the IdP refuse to renew. */
export function lakehouseGate(clock: { now: number } & BrokerTimers, settings: unknown = SETTINGS) {
  const lake = lakehouse();
  const events: AccessEventInput[] = [];
  const session = aliceSession(T0 + 8 * 3600_000);
  const identity = {
    down: false,
    current: () => session,
    fresh: async () => {
      if (identity.down) throw new UserFacingError('network', 'The identity provider is unreachable at https://idp.example.com (ECONNREFUSED: connection refused).', 'Check your network or VPN, then retry.');
      return session;
    },
  };
  const gate = new AccessGate({
    identity,
    environments: () => resolveEnvironments(settings, undefined, lake.registry),
    registry: lake.registry,
    sink: { record: (e) => void events.push(e) },
    http: () => {
      throw new Error('the lakehouse target makes no HTTP request');
    },
    now: () => clock.now,
    timers: clock,
  });
  return { gate, lake, events, session, identity };
}
