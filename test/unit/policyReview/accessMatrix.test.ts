import { strict as assert } from 'node:assert';
import { AccessGate, PURPOSES } from '../../../src/core/access/AccessGate';
import type { IdentitySession } from '../../../src/core/auth/IdentitySession';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { accessMatrix, ANY_USER, parseGroupList, policyGroups, type AccessMatrix, type MatrixCell } from '../../../src/core/policyReview/accessMatrix';
import { csvField, matrixToCsv, matrixToMarkdown } from '../../../src/core/policyReview/renderMatrix';
import { AUD, POLICY } from './policyFixture';

function cell(m: AccessMatrix, who: string, env: string, target: string): MatrixCell {
  const row = m.rows.find((r) => r.subject.label === who);
  assert.ok(row, `no row for ${who}`);
  const c = row.cells.find((x) => x.environment === env && x.target === target);
  assert.ok(c, `no cell ${env}/${target}`);
  return c;
}

describe('policy review: access matrix', () => {
  const resolution = resolveEnvironments(POLICY);
  const m = accessMatrix(resolution);

  it('has a row for no group and for every group the policy names, a cell per environment and target', () => {
    assert.deepEqual(resolution.problems, []);
    assert.deepEqual(policyGroups(resolution), ['ml-dev', 'ml-prod', 'ml-staging']);
    assert.deepEqual(
      m.rows.map((r) => r.subject.label),
      [ANY_USER, 'ml-dev', 'ml-prod', 'ml-staging'],
    );
    for (const r of m.rows) assert.equal(r.cells.length, 4 * 3);
  });

  const table: [who: string, env: string, target: string, verdict: string, ttl: number][] = [
    [ANY_USER, 'dev', 'databricks', 'denied', 3600],
    [ANY_USER, 'sandbox', 'databricks', 'granted', 3600],
    [ANY_USER, 'sandbox', 'aws', 'denied', 3600],
    ['ml-dev', 'dev', 'aws', 'granted', 3600],
    ['ml-dev', 'staging', 'aws', 'denied', 3600],
    ['ml-dev', 'prod', 'databricks', 'denied', 900],
    ['ml-staging', 'staging', 'google', 'granted', 3600],
    ['ml-staging', 'prod', 'google', 'denied', 900],
    ['ml-prod', 'prod', 'databricks', 'confirm', 900],
    ['ml-prod', 'prod', 'aws', 'confirm', 900],
    ['ml-prod', 'dev', 'databricks', 'denied', 3600],
  ];
  for (const [who, env, target, verdict, ttl] of table) {
    it(`${who} × ${env} × ${target} → ${verdict}, ${ttl} s`, () => {
      const c = cell(m, who, env, target);
      assert.equal(c.verdict, verdict);
      assert.equal(c.ttlCapSeconds, ttl);
    });
  }

  it('names the identity each grant rests on: host and clientId, audience and service account, role ARN', () => {
    const db = cell(m, 'ml-prod', 'prod', 'databricks').identity!;
    assert.equal(db.principal, 'https://prod.cloud.databricks.com');
    assert.deepEqual(
      db.fields.map((f) => `${f.key}=${f.value}`),
      ['databricks.host=https://prod.cloud.databricks.com', 'databricks.clientId=sp-prod', 'databricks.scopes=all-apis'],
    );
    const g = cell(m, 'ml-prod', 'prod', 'google').identity!;
    assert.equal(g.principal, 'runner@ml-prod.iam.gserviceaccount.com');
    assert.ok(g.fields.some((f) => f.key === 'spanner.workloadIdentityAudience' && f.value === AUD));
    assert.ok(g.endpoints.includes('https://iamcredentials.googleapis.com'));
    const aws = cell(m, 'ml-staging', 'staging', 'aws').identity!;
    assert.equal(aws.principal, 'arn:aws:iam::111122223333:role/ml-staging');
    assert.deepEqual(aws.endpoints, ['https://sts.us-east-1.amazonaws.com']);
    assert.equal(cell(m, ANY_USER, 'sandbox', 'aws').identity, undefined);
  });

  it('for a typed group list: one row, any-of (ml-dev + ml-staging reach dev and staging, not prod)', () => {
    const typed = accessMatrix(resolution, [parseGroupList('ml-staging, ml-dev')]);
    assert.equal(typed.rows.length, 1);
    assert.equal(typed.rows[0].subject.label, 'ml-dev + ml-staging');
    assert.equal(cell(typed, 'ml-dev + ml-staging', 'dev', 'databricks').verdict, 'granted');
    assert.equal(cell(typed, 'ml-dev + ml-staging', 'staging', 'aws').verdict, 'granted');
    assert.equal(cell(typed, 'ml-dev + ml-staging', 'prod', 'aws').verdict, 'denied');
  });

  it('parses typed group lists by commas and a spaced "+", keeping inner spaces', () => {
    assert.deepEqual(parseGroupList('ml-dev, ml-staging'), ['ml-dev', 'ml-staging']);
    assert.deepEqual(parseGroupList('ml-dev + ML Engineers ,ml-dev'), ['ml-dev', 'ML Engineers']);
    assert.deepEqual(parseGroupList('  '), []);
  });

  it('gives the access gate’s answer for every subject, environment, target and issuing purpose', () => {
    for (const row of m.rows) {
      const session: IdentitySession = {
        issuer: 'https://idp.example.com',
        subject: 'u',
        name: 'U',
        groups: [...row.subject.groups],
        claims: {},
        idToken: 'id',
        idTokenExpiresAt: Date.now() + 3600_000,
        accessToken: 'at',
        accessTokenExpiresAt: Date.now() + 3600_000,
        scopes: [],
      };
      const gate = new AccessGate({ identity: { current: () => session, fresh: async () => session }, environments: () => resolution, sink: { record: () => undefined } });
      try {
        for (const c of row.cells) {
          for (const purpose of PURPOSES.filter((p) => p !== 'explain')) {
            const d = gate.evaluate({ environment: c.environment, purpose, targets: [c.target] });
            assert.equal(d.kind, c.verdict, `${row.subject.label} ${c.environment} ${c.target} ${purpose}`);
          }
        }
      } finally {
        gate.dispose();
      }
    }
  });

  it('renders Markdown: a summary, a table per subject, identity mappings, problems', () => {
    const md = matrixToMarkdown(accessMatrix(resolveEnvironments({ ...POLICY, broken: { extends: 'nowhere' } })));
    assert.match(md, /^# Access matrix/);
    assert.match(md, /\| ml-prod \| denied \| denied \| confirm \| granted \|/);
    assert.match(md, /\| `prod` \| confirm · 15 min \| confirm · 15 min \| confirm · 15 min \| you are in ml-prod \|/);
    assert.match(md, /\| `prod` \| AWS session \| `arn:aws:iam::444455556666:role\/ml-prod` \|/);
    assert.match(md, /## Problems in the policy[\s\S]*mlspanner\.environments\.broken\.extends: unknown environment "nowhere"/);
  });

  it('renders CSV: a header, one line per subject × environment × target, quoted and formula-safe', () => {
    const csv = matrixToCsv(m);
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'who,groups,environment,credential,service,decision,ttl_cap_seconds,configured,acts_as,identity_settings,tokens_sent_to,reason');
    assert.equal(lines.length, 1 + 4 * 4 * 3);
    assert.ok(lines.includes('ml-prod,ml-prod,prod,aws,AWS,confirm,900,true,arn:aws:iam::444455556666:role/ml-prod,aws.roleArn=arn:aws:iam::444455556666:role/ml-prod; aws.region=us-east-1,https://sts.us-east-1.amazonaws.com,you are in ml-prod'));
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('+1'), "'+1");
  });

  it('has no environments and says so', () => {
    const empty = accessMatrix(resolveEnvironments({}));
    assert.deepEqual(empty.environments, []);
    assert.match(matrixToMarkdown(empty), /No environments are defined/);
  });
});
