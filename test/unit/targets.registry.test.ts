import { strict as assert } from 'node:assert';
import { AccessGate } from '../../src/core/access/AccessGate';
import { environmentView, type ViewNode } from '../../src/core/access/environmentView';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';
import type { VerifyResult } from '../../src/core/audit/AccessLog';
import { runDiagnostics } from '../../src/core/doctor/Doctor';
import { decideAccess } from '../../src/core/policy/decideAccess';
import { explainAccess } from '../../src/core/policy/explainAccess';
import { knownProperties, resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import type { CredentialTargetSpec } from '../../src/core/targets/CredentialTargetSpec';
import { BUILTIN_TARGETS, TargetRegistry } from '../../src/core/targets/TargetRegistry';

/** A fourth kind of credential, defined in one place as a real one would be (here: Snowflake OAuth). */
interface SnowflakeSettings {
  account: string;
  role: string;
  subjectToken: 'idToken' | 'accessToken';
}
const exchanged: { subjectToken: string; account: string }[] = [];
const snowflake: CredentialTargetSpec<SnowflakeSettings> = {
  id: 'snowflake',
  section: 'snowflake',
  label: 'Snowflake token',
  service: 'Snowflake',
  fields: {
    account: { kind: 'string', pattern: /^[a-z0-9-]+$/, hint: 'a Snowflake account locator' },
    role: { kind: 'string', hint: 'a Snowflake role' },
    subjectToken: { kind: 'enum', values: ['idToken', 'accessToken'] },
  },
  required: ['account'],
  keyField: 'account',
  sourceLabels: { 'external-oauth': 'External OAuth' },
  defaults: () => ({ role: 'PUBLIC', subjectToken: 'accessToken' }),
  subjectToken: (s) => s.subjectToken,
  identity: (s) => ({ principal: `${s.account}/${s.role}`, parts: [s.account, s.role, s.subjectToken] }),
  ttlCapSeconds: (_s, env) => Math.min(env.maxTtlSeconds, 600),
  exchange: async (ctx) => {
    exchanged.push({ subjectToken: ctx.subjectToken, account: ctx.settings.account });
    return { kind: 'bearer', accessToken: `snowflake-token-for-${ctx.settings.role}`, serviceExpiresAt: ctx.now + 3600_000, scopes: [`session:role:${ctx.settings.role}`], source: 'external-oauth', principal: ctx.settings.account };
  },
  processEnv: (c, s): Record<string, string> => (c.kind === 'bearer' ? { SNOWFLAKE_ACCOUNT: s.account, SNOWFLAKE_TOKEN: c.accessToken } : {}),
  explain: (s) => [`Your IdP **${s.subjectToken === 'idToken' ? 'ID token' : 'access token'}** is exchanged for a Snowflake token for role \`${s.role}\` at \`${s.account}\`.`],
  endpoints: (s) => [`https://${s.account}.snowflakecomputing.com`],
  check: (s) => (s.role === 'ACCOUNTADMIN' ? [{ status: 'warn', message: 'ACCOUNTADMIN is more than a notebook needs.' }] : []),
};

const registry = BUILTIN_TARGETS.with(snowflake);
const SETTINGS = {
  analytics: { requiredGroups: ['ml-dev'], maxTtlSeconds: 3600, snowflake: { account: 'acme-ml', role: 'ANALYST' }, databricks: { host: 'https://dev.example.com' } },
  broken: { snowflake: { role: 'X', acount: 'typo' } },
};
const session: IdentitySession = {
  issuer: 'https://idp.example.com',
  subject: 'alice',
  name: 'Alice',
  groups: ['ml-dev'],
  claims: {},
  idToken: 'the-id-token',
  idTokenExpiresAt: Date.now() + 3600_000,
  accessToken: 'the-access-token',
  accessTokenExpiresAt: Date.now() + 3600_000,
  scopes: ['openid'],
};

function find(nodes: ViewNode[], id: string): ViewNode | undefined {
  for (const n of nodes) {
    if (n.id === id) return n;
    const c = find(n.children ?? [], id);
    if (c) return c;
  }
  return undefined;
}

describe('credential target registry', () => {
  it('refuses a target that reuses an id or a reserved or taken section', () => {
    assert.throws(() => BUILTIN_TARGETS.with(snowflake, snowflake), /registered twice/);
    assert.throws(() => new TargetRegistry([{ ...snowflake, section: 'requiredGroups' }]), /cannot use the section/);
    assert.throws(() => BUILTIN_TARGETS.with({ ...snowflake, section: 'spanner' }), /cannot use the section/);
  });

  describe('a fourth target registered in one place', () => {
    const resolution = resolveEnvironments(SETTINGS, undefined, registry);
    const env = resolution.environments.analytics;

    it('is validated, defaulted and resolved like the built-in ones', () => {
      assert.deepEqual(env.sections.snowflake, { account: 'acme-ml', role: 'ANALYST', subjectToken: 'accessToken' });
      assert.deepEqual(env.origins['snowflake.subjectToken'], { kind: 'default' });
      assert.deepEqual(
        resolution.problems.map((p) => p.path),
        ['mlspanner.environments.broken.snowflake.acount'],
      );
      assert.match(resolution.problems[0].message, /did you mean "account"/);
      assert.ok(knownProperties(registry)[''].includes('snowflake'));
      // Without the registration the section is unknown.
      assert.match(resolveEnvironments(SETTINGS).problems[0].message, /is not a known setting/);
    });

    it('gets a decision with its own TTL cap, and Explain Access describes it', () => {
      const d = decideAccess(env, ['ml-dev'], registry);
      assert.deepEqual([d.targets.snowflake.granted, d.targets.snowflake.ttlCapSeconds], [true, 600]);
      const md = explainAccess(env, session, d, registry);
      assert.match(md, /### Snowflake: granted/);
      assert.match(md, /exchanged for a Snowflake token for role `ANALYST` at `acme-ml`/);
      assert.match(md, /\| `mlspanner\.environments\.analytics\.snowflake\.role` \| `"ANALYST"` \| set in this environment \|/);
    });

    it('is issued through the gate, capped, and shows in the tree model', async () => {
      const gate = new AccessGate({
        identity: { current: () => session, fresh: async () => session },
        environments: () => resolution,
        registry,
        sink: { record: () => undefined },
        http: () => assert.fail('the fake target makes no HTTP request'),
      });
      const d = gate.request({ environment: 'analytics', purpose: 'terminal', targets: ['snowflake'] });
      assert.equal(d.kind, 'granted');
      const c = await gate.credential(d.kind === 'granted' ? d.grant : assert.fail(), 'snowflake');
      assert.equal(c.kind === 'bearer' && c.accessToken, 'snowflake-token-for-ANALYST');
      assert.ok(c.expiresAt - c.issuedAt <= 600_000, 'capped at the target TTL');
      assert.deepEqual(exchanged.at(-1), { subjectToken: 'the-access-token', account: 'acme-ml' });
      assert.deepEqual(snowflake.processEnv(c, env.sections.snowflake as unknown as SnowflakeSettings, env), { SNOWFLAKE_ACCOUNT: 'acme-ml', SNOWFLAKE_TOKEN: 'snowflake-token-for-ANALYST' });

      const nodes = environmentView(gate, () => resolution, session, Date.now());
      const node = find(nodes, 'env/analytics/snowflake');
      assert.equal(node?.label, 'Snowflake token');
      assert.match(node?.description ?? '', /^\d+ min left · External OAuth$/);
      assert.match(find(nodes, 'env/analytics')?.description ?? '', /2 credentials/);
      gate.dispose();
    });

    it('is checked by the doctor: hosts, its own checks and a credential', async () => {
      const admin = resolveEnvironments({ analytics: { ...SETTINGS.analytics, snowflake: { account: 'acme-ml', role: 'ACCOUNTADMIN' } } }, undefined, registry);
      const gate = new AccessGate({
        identity: { current: () => session, fresh: async () => session },
        environments: () => admin,
        registry,
        sink: { record: () => undefined },
        http: () => ({ post: () => Promise.reject(new Error('unreachable')), get: () => Promise.reject(new Error('unreachable')) }) as never,
      });
      const results = await runDiagnostics({
        idp: { issuer: '', clientId: '', scopes: ['openid'], groupsClaim: 'groups', flow: 'auto' },
        session,
        environments: admin,
        gate,
        verifyAccessLog: async () => ({ ok: true, count: 0 }) as VerifyResult,
        workspaceTrusted: true,
      });
      const mine = results.filter((r) => r.area === 'Environment analytics');
      assert.ok(mine.some((r) => r.status === 'ok' && /acme-ml\.snowflakecomputing\.com/.test(r.message)), JSON.stringify(mine));
      assert.ok(mine.some((r) => r.status === 'warn' && /ACCOUNTADMIN/.test(r.message)));
      assert.ok(mine.some((r) => r.status === 'ok' && /^Snowflake token for acme-ml, valid for \d+ s\.$/.test(r.message)), JSON.stringify(mine));
      gate.dispose();
    });
  });
});
