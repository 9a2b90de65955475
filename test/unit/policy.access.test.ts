import { strict as assert } from 'node:assert';
import { decideAccess } from '../../src/core/policy/decideAccess';
import { explainAccess } from '../../src/core/policy/explainAccess';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';
const { environments, problems } = resolveEnvironments({
  dev: {
    requiredGroups: ['ml-dev', 'ml-staging', 'ml-prod'],
    databricks: { host: 'https://dev.cloud.databricks.com' },
    spanner: { project: 'ml', instance: 'main', database: 'features', workloadIdentityAudience: AUD },
    aws: { roleArn: 'arn:aws:iam::123456789012:role/ml-dev', region: 'us-east-1' },
  },
  prod: {
    extends: 'dev',
    requiredGroups: ['ml-prod'],
    maxTtlSeconds: 600,
    databricks: { host: 'https://prod.cloud.databricks.com', subjectToken: 'accessToken', clientId: 'sp-123' },
    spanner: { serviceAccount: 'runner@ml.iam.gserviceaccount.com' },
  },
  open: { databricks: { host: 'https://open.cloud.databricks.com' } },
  short: { maxTtlSeconds: 3600, aws: { roleArn: 'arn:aws:iam::123456789012:role/s', sessionDurationSeconds: 1200 } },
});

describe('access decisions', () => {
  before(() => assert.deepEqual(problems, []));

  const table: { env: string; groups: string[]; granted: boolean; reason: string }[] = [
    { env: 'prod', groups: ['ml-dev', 'ml-staging'], granted: false, reason: 'requires one of groups ml-prod; you have ml-dev, ml-staging' },
    { env: 'prod', groups: [], granted: false, reason: 'requires one of groups ml-prod; you have no groups' },
    { env: 'prod', groups: ['ml-prod', 'other'], granted: true, reason: 'you are in ml-prod' },
    { env: 'dev', groups: ['ml-staging'], granted: true, reason: 'you are in ml-staging' },
    { env: 'open', groups: [], granted: true, reason: 'no group is required' },
  ];
  for (const c of table) {
    it(`${c.env} with [${c.groups.join(', ')}] → ${c.granted ? 'granted' : 'denied'}`, () => {
      const d = decideAccess(environments[c.env], c.groups);
      assert.equal(d.granted, c.granted);
      assert.equal(d.reason, c.reason);
      for (const t of ['databricks', 'google', 'aws'] as const) {
        const configured = environments[c.env][t === 'google' ? 'spanner' : t] !== undefined;
        assert.equal(d.targets[t].granted, c.granted && configured, t);
      }
    });
  }

  it('denies unconfigured targets naming the setting to add', () => {
    const d = decideAccess(environments.open, []);
    assert.equal(d.targets.aws.granted, false);
    assert.equal(d.targets.aws.reason, 'AWS is not configured for "open" (set mlspanner.environments.open.aws.roleArn)');
    assert.equal(d.targets.google.reason, 'Google (ML Spanner) is not configured for "open" (set mlspanner.environments.open.spanner.workloadIdentityAudience)');
  });

  it('caps TTLs: maxTtlSeconds for every target, and the AWS session duration when shorter', () => {
    const prod = decideAccess(environments.prod, ['ml-prod']);
    assert.deepEqual([prod.targets.databricks.ttlCapSeconds, prod.targets.google.ttlCapSeconds, prod.targets.aws.ttlCapSeconds], [600, 600, 600]);
    assert.equal(decideAccess(environments.short, []).targets.aws.ttlCapSeconds, 1200);
    assert.equal(decideAccess(environments.dev, ['ml-dev']).maxTtlSeconds, 3600);
  });

  it('asks for confirmation in prod-like environments only', () => {
    assert.equal(decideAccess(environments.prod, ['ml-prod']).confirm, true);
    assert.equal(decideAccess(environments.dev, ['ml-dev']).confirm, false);
  });
});

describe('explain access', () => {
  const session = { issuer: 'https://idp.example.com', subject: 'u-42', name: 'Ada', groups: ['ml-dev'] };

  it('shows the effective definition, origins, decisions, caps and the token flow', () => {
    const md = explainAccess(environments.prod, session, decideAccess(environments.prod, session.groups));
    const expected = [
      '# Access to `prod`',
      'Inherits: `prod` → `dev`',
      'Your groups: `ml-dev`.',
      '**Environment access: denied**: requires one of groups ml-prod; you have ml-dev.',
      'Confirmation before use: required',
      'Every credential lives at most 10 min (`maxTtlSeconds` 600)',
      '### Databricks: denied',
      'Your IdP **access token** is sent to the workspace token endpoint found at `https://prod.cloud.databricks.com/oidc/.well-known/oauth-authorization-server`',
      'service principal `sp-123`',
      'Your IdP **ID token** is sent to Google STS `https://sts.googleapis.com/v1/token` with audience `' + AUD + '`',
      'The STS token is sent to `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/runner@ml.iam.gserviceaccount.com:generateAccessToken`',
      '(impersonation asks for 600 s)',
      'database `projects/ml/instances/main/databases/features`',
      'Your IdP **ID token** is sent to AWS STS `https://sts.us-east-1.amazonaws.com` (AssumeRoleWithWebIdentity) for role `arn:aws:iam::123456789012:role/ml-dev`',
      '| `mlspanner.environments.prod.databricks.host` | `"https://prod.cloud.databricks.com"` | set in this environment |',
      '| `mlspanner.environments.prod.aws.roleArn` | `"arn:aws:iam::123456789012:role/ml-dev"` | inherited from `dev` |',
      '| `mlspanner.environments.prod.confirm` | `true` | default |',
      '| `mlspanner.environments.prod.spanner.stsEndpoint` | `"https://sts.googleapis.com"` | default |',
    ];
    for (const line of expected) assert.ok(md.includes(line), `missing: ${line}\n---\n${md}`);
  });

  it('says every credential is denied when signed out, and which targets are not configured', () => {
    const md = explainAccess(environments.open, undefined, decideAccess(environments.open, []));
    assert.match(md, /\*\*Not signed in\*\*/);
    assert.match(md, /### Databricks: denied/);
    assert.match(md, /### AWS: not configured\n\n- AWS is not configured for "open" \(set mlspanner\.environments\.open\.aws\.roleArn\)/);
  });
});
