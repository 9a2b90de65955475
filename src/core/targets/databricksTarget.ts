import type * as DatabricksModule from '../credentials/exchangeDatabricksToken';
import { DEFAULT_DATABRICKS_SCOPES, DEFAULT_SUBJECT_TOKEN, type DatabricksSettings } from '../policy/Environment';
import { formatDuration, tokenName } from '../format/duration';
import { FIELD_PATTERNS, SUBJECT_TOKEN_FIELD } from '../policy/settingFields';
import type { CredentialTargetSpec } from './CredentialTargetSpec';

/** The exchange loads on first use (features.js), not at activation. */
function databricks(): typeof DatabricksModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../credentials/exchangeDatabricksToken') as typeof DatabricksModule;
}

function code(v: string): string {
  return '`' + v.replace(/`/g, "'") + '`';
}

/** Databricks OAuth tokens by token federation (RFC 8693 at the workspace's token endpoint). */
export const databricksTarget: CredentialTargetSpec<DatabricksSettings> = {
  id: 'databricks',
  section: 'databricks',
  label: 'Databricks token',
  service: 'Databricks',
  fields: {
    host: { kind: 'origin' },
    clientId: { kind: 'string', pattern: /^\S+$/, hint: 'a service principal application id' },
    scopes: { kind: 'strings', pattern: FIELD_PATTERNS.scope, hint: 'OAuth scope tokens such as all-apis', minItems: 1 },
    subjectToken: SUBJECT_TOKEN_FIELD,
  },
  required: ['host'],
  keyField: 'host',
  sourceLabels: { federation: 'token federation' },
  defaults: () => ({ scopes: [...DEFAULT_DATABRICKS_SCOPES], subjectToken: DEFAULT_SUBJECT_TOKEN }),
  subjectToken: (s) => s.subjectToken,
  identity: (s) => ({ principal: s.host, parts: [s.host, s.clientId ?? null, [...s.scopes].sort(), s.subjectToken] }),
  ttlCapSeconds: (_s, env) => env.maxTtlSeconds,
  createState: (http) => new (databricks().DatabricksDiscovery)(http),
  exchange: (ctx) =>
    databricks().exchangeDatabricksToken(ctx.http, ctx.state as DatabricksModule.DatabricksDiscovery, {
      environment: ctx.environment.name,
      host: ctx.settings.host,
      clientId: ctx.settings.clientId,
      scopes: ctx.settings.scopes,
      subjectToken: ctx.subjectToken,
      now: ctx.now,
    }),
  processEnv: (c, s): Record<string, string> =>
    c.kind === 'bearer'
      ? {
          DATABRICKS_HOST: s.host,
          DATABRICKS_TOKEN: c.accessToken,
          DATABRICKS_AUTH_TYPE: 'pat', // the CLI's name for "use DATABRICKS_TOKEN as a bearer token"
        }
      : {},
  explain: (s, _env, ttl) => [
    `Lifetime: at most ${formatDuration(ttl)}; refreshed with at least 60 s to spare (the workspace rejects tokens in their last 30 s).`,
    `Your IdP **${tokenName(s.subjectToken)}** is sent to the workspace token endpoint found at ${code(s.host + '/oidc/.well-known/oauth-authorization-server')} (normally ${code(s.host + '/oidc/v1/token')}) in an RFC 8693 token exchange, scopes ${code(s.scopes.join(' '))}${s.clientId ? `, service principal ${code(s.clientId)}` : ''}.`,
    `The Databricks token is sent only to ${code(s.host)}.`,
  ],
  endpoints: (s) => [s.host],
};
