import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkEndpointUrl, isLoopbackHost } from '../../src/core/policy/endpointUrl';
import { formatProblem, isProdLikeName } from '../../src/core/policy/Environment';
import { parseBundleTargets } from '../../src/core/policy/parseBundleTargets';
import { FIELD_PATTERNS, KNOWN_PROPERTIES, resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import { decideAccess } from '../../src/core/policy/decideAccess';

const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/corp';

function problemsOf(settings: unknown): string[] {
  return resolveEnvironments(settings).problems.map(formatProblem);
}

describe('environment resolution', () => {
  it('applies extends: objects merge, arrays and scalars replace, and records each origin', () => {
    const r = resolveEnvironments({
      base: { requiredGroups: ['ml-dev'], maxTtlSeconds: 1800, databricks: { host: 'https://dev.example.com', scopes: ['all-apis', 'sql'] } },
      dev: { extends: 'base', aws: { roleArn: 'arn:aws:iam::123456789012:role/dev', region: 'eu-west-1' } },
      staging: { extends: 'dev', requiredGroups: ['ml-staging'], databricks: { scopes: ['sql'] }, aws: { roleArn: 'arn:aws:iam::123456789012:role/staging' } },
    });
    assert.deepEqual(r.problems, []);
    const s = r.environments.staging;
    assert.deepEqual(s.chain, ['staging', 'dev', 'base']);
    assert.deepEqual(s.requiredGroups, ['ml-staging']);
    assert.equal(s.maxTtlSeconds, 1800);
    assert.deepEqual(s.databricks, { host: 'https://dev.example.com', scopes: ['sql'], subjectToken: 'idToken' });
    assert.equal(s.aws?.roleArn, 'arn:aws:iam::123456789012:role/staging');
    assert.equal(s.aws?.region, 'eu-west-1');
    assert.equal(s.aws?.stsEndpoint, 'https://sts.eu-west-1.amazonaws.com', 'regional endpoint from an inherited region');
    assert.deepEqual(s.origins['requiredGroups'], { kind: 'own' });
    assert.deepEqual(s.origins['databricks.host'], { kind: 'inherited', from: 'base' }, 'the environment that set it, not the nearest parent');
    assert.deepEqual(s.origins['aws.region'], { kind: 'inherited', from: 'dev' });
    assert.deepEqual(s.origins['databricks.subjectToken'], { kind: 'default' });
    assert.deepEqual(s.origins['confirm'], { kind: 'default' });
    assert.equal(s.spanner, undefined);
  });

  it('fills defaults: endpoints, scopes, subject token, TTL cap, confirm for prod-like names', () => {
    const r = resolveEnvironments({
      prod: { spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD }, aws: { roleArn: 'arn:aws:iam::123456789012:role/x' } },
      dev: { databricks: { host: 'https://dev.example.com/' } },
    });
    assert.deepEqual(r.problems, []);
    const p = r.environments.prod;
    assert.equal(p.confirm, true);
    assert.equal(p.maxTtlSeconds, 3600);
    assert.deepEqual(p.requiredGroups, []);
    assert.equal(p.spanner?.stsEndpoint, 'https://sts.googleapis.com');
    assert.equal(p.spanner?.iamCredentialsEndpoint, 'https://iamcredentials.googleapis.com');
    assert.equal(p.spanner?.endpoint, 'https://spanner.googleapis.com');
    assert.equal(p.spanner?.subjectToken, 'idToken');
    assert.equal(p.aws?.stsEndpoint, 'https://sts.amazonaws.com');
    assert.equal(r.environments.dev.confirm, false);
    assert.equal(r.environments.dev.databricks?.host, 'https://dev.example.com', 'normalised to the origin');
    assert.deepEqual(r.environments.dev.databricks?.scopes, ['all-apis']);
  });

  it('lets an explicit confirm override the prod-like default', () => {
    const r = resolveEnvironments({ prod: { confirm: false }, sandbox: { confirm: true } });
    assert.equal(r.environments.prod.confirm, false);
    assert.equal(r.environments.sandbox.confirm, true);
  });

  const cases: { name: string; settings: unknown; expect: string[]; good?: string[] }[] = [
    {
      name: 'cycle of two, naming both in order',
      settings: { staging: { extends: 'prod' }, prod: { extends: 'staging' }, dev: {} },
      expect: [
        'mlspanner.environments.staging.extends: inheritance cycle: staging → prod → staging; remove one of these "extends"',
        'mlspanner.environments.prod.extends: inheritance cycle: prod → staging → prod; remove one of these "extends"',
      ],
      good: ['dev'],
    },
    {
      name: 'self cycle',
      settings: { a: { extends: 'a' } },
      expect: ['mlspanner.environments.a.extends: inheritance cycle: a → a; remove one of these "extends"'],
      good: [],
    },
    {
      name: 'unknown parent, listing the known ones',
      settings: { staging: { extends: 'qa' }, dev: {} },
      expect: ['mlspanner.environments.staging.extends: unknown environment "qa" (known: dev)'],
      good: ['dev'],
    },
    {
      name: 'child of a broken parent is reported, siblings survive',
      settings: { prod: { extends: 'staging' }, staging: { maxTtlSeconds: 'long' }, dev: {} },
      expect: [
        'mlspanner.environments.staging.maxTtlSeconds: must be a whole number of seconds from 300 to 43200, not "long"',
        'mlspanner.environments.prod.extends: extends "staging", which has problems of its own (fix those first)',
      ],
      good: ['dev'],
    },
    {
      name: 'http host that is not loopback',
      settings: { staging: { databricks: { host: 'http://staging.example.com' } } },
      expect: ['mlspanner.environments.staging.databricks.host: must be an https:// origin such as https://example.cloud.databricks.com (http:// only for loopback hosts)'],
    },
    {
      name: 'host with a path',
      settings: { dev: { databricks: { host: 'https://dev.example.com/login' } } },
      expect: ['mlspanner.environments.dev.databricks.host: must be the workspace origin only (https://dev.example.com), without a path'],
    },
    {
      name: 'credentials in an endpoint, query in another',
      settings: {
        dev: {
          spanner: { project: 'p', instance: 'i', database: 'd', workloadIdentityAudience: AUD, stsEndpoint: 'https://u:p@sts.example.com', endpoint: 'https://spanner.example.com/?x=1' },
        },
      },
      expect: [
        'mlspanner.environments.dev.spanner.stsEndpoint: must not contain credentials (user:password@)',
        'mlspanner.environments.dev.spanner.endpoint: must not have a query or fragment',
      ],
    },
    {
      name: 'bad audience, role ARN, enum, unknown keys (with a hint) and missing required fields, all at once',
      settings: {
        dev: {
          requiredGroup: ['ml'],
          spanner: { project: 'p', workloadIdentityAudience: 'projects/1/pools/x', subjectToken: 'refreshToken' },
          aws: { roleArn: 'arn:aws:iam::123:role/x' },
        },
      },
      expect: [
        'mlspanner.environments.dev.requiredGroup: is not a known setting (did you mean "requiredGroups"?); expected one of extends, requiredGroups, confirm, maxTtlSeconds, databricks, spanner, aws',
        'mlspanner.environments.dev.spanner.workloadIdentityAudience: must be //iam.googleapis.com/projects/<NUMBER>/locations/global/workloadIdentityPools/<POOL>/providers/<PROVIDER>, not "projects/1/pools/x"',
        'mlspanner.environments.dev.spanner.subjectToken: must be one of "idToken", "accessToken", not "refreshToken"',
        'mlspanner.environments.dev.aws.roleArn: must be arn:aws:iam::<12-digit account>:role/<name>, not "arn:aws:iam::123:role/x"',
      ],
    },
    {
      name: 'required fields after inheritance',
      settings: { dev: { spanner: { project: 'p' } } },
      expect: [
        'mlspanner.environments.dev.spanner.instance: is required when "spanner" is configured',
        'mlspanner.environments.dev.spanner.database: is required when "spanner" is configured',
        'mlspanner.environments.dev.spanner.workloadIdentityAudience: is required when "spanner" is configured',
      ],
    },
    {
      name: 'not an object at all',
      settings: ['dev'],
      expect: ['mlspanner.environments: must be an object mapping environment names to definitions, not an array'],
    },
    {
      name: 'definition not an object, bad group item, bad duration',
      settings: { dev: 'https://x', qa: { requiredGroups: ['ok', ' padded'], aws: { roleArn: 'arn:aws:iam::123456789012:role/r', sessionDurationSeconds: 60 } } },
      expect: [
        'mlspanner.environments.dev: must be an object (an environment definition), not "https://x"',
        'mlspanner.environments.qa.requiredGroups: item 1 must be group names without surrounding spaces, not " padded"',
        'mlspanner.environments.qa.aws.sessionDurationSeconds: must be a whole number of seconds from 900 to 43200, not 60',
      ],
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const r = resolveEnvironments(c.settings);
      assert.deepEqual(r.problems.map(formatProblem), c.expect);
      if (c.good) assert.deepEqual(Object.keys(r.environments).sort(), [...c.good].sort());
    });
  }

  it('tags each problem with the environment it disables', () => {
    const r = resolveEnvironments({ a: { confirm: 'yes' }, b: {} });
    assert.equal(r.problems[0].environment, 'a');
    assert.deepEqual(Object.keys(r.environments), ['b']);
  });

  it('accepts an absent setting as no environments', () => {
    const r = resolveEnvironments(undefined);
    assert.deepEqual({ environments: { ...r.environments }, problems: r.problems }, { environments: {}, problems: [] });
    assert.deepEqual(problemsOf(null), []);
  });
});

describe('endpoint URL checks', () => {
  const table: [string, boolean, string?][] = [
    ['https://sts.googleapis.com', true],
    ['http://127.0.0.1:8080', true],
    ['http://127.1.2.3', true],
    ['http://[::1]:9000/x', true],
    ['http://localhost:3000', true],
    ['http://128.0.0.1', false],
    ['http://localhost.example.com', false],
    ['http://example.com', false],
    ['ftp://example.com', false],
    ['https://user@example.com', false, 'must not contain credentials (user:password@)'],
    ['https://example.com/#frag', false, 'must not have a query or fragment'],
    ['https://example.com/?', false, 'must not have a query or fragment'],
    ['not a url', false],
  ];
  for (const [url, ok, message] of table) {
    it(`${ok ? 'accepts' : 'refuses'} ${url}`, () => {
      const r = checkEndpointUrl(url);
      assert.equal('url' in r, ok);
      if (message) assert.equal((r as { error: string }).error, message);
    });
  }
  it('knows loopback hosts', () => {
    assert.deepEqual(['127.0.0.1', '[::1]', 'LOCALHOST', '10.0.0.1', '::2'].map(isLoopbackHost), [true, true, true, false, false]);
  });
});

describe('prod-like names', () => {
  const table: [string, boolean][] = [
    ['prod', true],
    ['production', true],
    ['prd', true],
    ['live', true],
    ['prod-eu', true],
    ['us_live', true],
    ['prod2', true],
    ['PROD', true],
    ['staging', false],
    ['product-dev', false],
    ['delivery', false],
  ];
  for (const [name, expected] of table) it(`${name} → ${expected}`, () => assert.equal(isProdLikeName(name), expected));
});

describe('bundle discovery', () => {
  const yaml = `
bundle:
  name: ml
workspace:
  host: https://default.cloud.databricks.com
targets:
  dev:
    default: true
  staging:
    workspace:
      host: https://staging.cloud.databricks.com/
  prod:
    workspace:
      host: https://prod.cloud.databricks.com
  templated:
    workspace:
      host: \${var.host}
  insecure:
    workspace:
      host: http://insecure.example.com
`;
  it('reads target hosts, the top-level default, and reports what it cannot use', () => {
    const b = parseBundleTargets(yaml);
    assert.deepEqual(b.targets, {
      dev: { host: 'https://default.cloud.databricks.com' },
      staging: { host: 'https://staging.cloud.databricks.com' },
      prod: { host: 'https://prod.cloud.databricks.com' },
    });
    assert.deepEqual(
      b.problems.map(formatProblem),
      [
        'databricks.yml: targets.templated.workspace.host: uses a bundle variable, which the extension cannot resolve; set databricks.host for this environment in mlspanner.environments',
        'databricks.yml: targets.insecure.workspace.host: must be an https:// origin such as https://example.cloud.databricks.com (http:// only for loopback hosts)',
      ],
    );
  });

  it('reports YAML syntax errors', () => {
    const b = parseBundleTargets('targets: [unclosed', 'bundle/databricks.yml');
    assert.deepEqual(b.targets, {});
    assert.equal(b.problems.length > 0, true);
    assert.match(formatProblem(b.problems[0]), /^bundle\/databricks\.yml: is not valid YAML/);
  });

  it('merges with settings: explicit settings win, inherited settings win too, the bundle fills only what they leave open', () => {
    const b = parseBundleTargets(yaml);
    const r = resolveEnvironments(
      {
        base: { requiredGroups: ['ml'], databricks: { host: 'https://base.example.com' } },
        staging: { extends: 'base' },
        prod: { databricks: { host: 'https://explicit.example.com' }, requiredGroups: ['ml-prod'] },
      },
      b,
    );
    assert.equal(r.environments.prod.databricks?.host, 'https://explicit.example.com');
    assert.deepEqual(r.environments.prod.origins['databricks.host'], { kind: 'own' });
    assert.equal(r.environments.staging.databricks?.host, 'https://base.example.com', 'a host the settings give through extends is not overridden by the bundle');
    assert.deepEqual(r.environments.staging.origins['databricks.host'], { kind: 'inherited', from: 'base' });
    assert.deepEqual(r.environments.staging.requiredGroups, ['ml']);
    assert.equal(r.environments.staging.definedBy, 'settings');
    assert.deepEqual(r.environments.dev.databricks, { host: 'https://default.cloud.databricks.com', scopes: ['all-apis'], subjectToken: 'idToken' });
    assert.deepEqual(r.environments.dev.origins['databricks.host'], { kind: 'bundle', source: 'databricks.yml' });
    assert.equal(r.environments.dev.definedBy, 'bundle');
    assert.equal(r.environments.dev.spanner, undefined);
    assert.equal(r.problems.length, 2, 'bundle problems are passed on');
  });

  it('fills a host the settings leave open, and a target only the bundle names is listed but not usable', () => {
    const b = parseBundleTargets(yaml);
    const r = resolveEnvironments({ base: { requiredGroups: ['ml'] }, staging: { extends: 'base' } }, b);
    assert.equal(r.environments.staging.databricks?.host, 'https://staging.cloud.databricks.com');
    assert.deepEqual(r.environments.staging.origins['databricks.host'], { kind: 'bundle', source: 'databricks.yml' });
    const dev = decideAccess(r.environments.dev, ['ml', 'anything']);
    assert.equal(dev.granted, false);
    assert.match(dev.reason, /defined only by a databricks\.yml target; add mlspanner\.environments\.dev\.requiredGroups/);
    assert.equal(dev.targets.databricks.granted, false);
  });
});

describe('environments.schema.json', () => {
  const schema = JSON.parse(readFileSync(path.join(__dirname, '../../src/core/policy/environments.schema.json'), 'utf8')) as {
    $schema: string;
    type: string;
    additionalProperties: { properties: Record<string, { properties?: Record<string, { pattern?: string }> ; pattern?: string }> };
  };
  const env = schema.additionalProperties;

  it('is a draft-07 object schema whose properties match what the validator knows', () => {
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(schema.type, 'object');
    assert.deepEqual(Object.keys(env.properties).sort(), [...KNOWN_PROPERTIES[''].sort()]);
    for (const section of ['databricks', 'spanner', 'aws'])
      assert.deepEqual(Object.keys(env.properties[section].properties!).sort(), [...KNOWN_PROPERTIES[section]].sort(), section);
  });

  it('uses the same patterns as the validator', () => {
    const p = (s: string, k: string) => new RegExp(env.properties[s].properties![k].pattern!);
    const table: [RegExp, RegExp, string[], string[]][] = [
      [p('aws', 'roleArn'), FIELD_PATTERNS.roleArn, ['arn:aws:iam::123456789012:role/ml', 'arn:aws-cn:iam::123456789012:role/a/b'], ['arn:aws:iam::12:role/x', 'arn:aws:sts::123456789012:role/x']],
      [p('spanner', 'workloadIdentityAudience'), FIELD_PATTERNS.workloadIdentityAudience, [AUD], ['//iam.googleapis.com/projects/my-proj/locations/global/workloadIdentityPools/p/providers/x', AUD + '/extra']],
    ];
    for (const [fromSchema, fromCode, good, bad] of table) {
      for (const g of good) assert.ok(fromSchema.test(g) && fromCode.test(g), g);
      for (const b of bad) assert.ok(!fromSchema.test(b) && !fromCode.test(b), b);
    }
    const host = p('databricks', 'host');
    for (const h of ['https://x.cloud.databricks.com', 'http://127.0.0.1:8080', 'http://localhost:1']) assert.ok(host.test(h), h);
    for (const h of ['http://x.example.com', 'https://x.example.com/path', 'https://u:p@x.example.com']) assert.ok(!host.test(h), h);
  });
});
