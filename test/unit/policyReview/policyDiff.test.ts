import { strict as assert } from 'node:assert';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { policyDiff, policyDiffToMarkdown, policyDiffToText, summarizeChanges, widenings } from '../../../src/core/policyReview/policyDiff';
import { POLICY } from './policyFixture';

type Policy = Record<string, Record<string, unknown>>;

function edit(change: (p: Policy) => void): Policy {
  const p = JSON.parse(JSON.stringify(POLICY)) as Policy;
  change(p);
  return p;
}

function diff(after: Policy, before: Policy = POLICY as unknown as Policy) {
  return policyDiff(resolveEnvironments(before), resolveEnvironments(after));
}

describe('policy review: decision diff', () => {
  const table: { name: string; change: (p: Policy) => void; expect: string[] }[] = [
    {
      name: 'a group added to prod widens it for that group',
      change: (p) => (p.prod.requiredGroups = ['ml-prod', 'ml-dev']),
      expect: ['widened: ml-dev now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation)'],
    },
    {
      name: 'a wrong extends: prod without its own groups inherits staging’s',
      change: (p) => delete p.prod.requiredGroups,
      expect: ['widened: ml-staging now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation)', 'narrowed: ml-prod no longer reaches prod Databricks, Google (ML Spanner), AWS'],
    },
    {
      name: 'prod open to everyone is reported once, for any signed-in user',
      change: (p) => (p.prod.requiredGroups = []),
      expect: ['widened: any signed-in user now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation)'],
    },
    {
      name: 'confirm turned off in prod',
      change: (p) => (p.prod.confirm = false),
      expect: ['widened: ml-prod reaches prod Databricks, Google (ML Spanner), AWS without a confirmation now'],
    },
    {
      name: 'a longer TTL widens; the AWS session duration still caps AWS',
      change: (p) => (p.prod.maxTtlSeconds = 3600),
      expect: ['widened: prod Databricks, Google (ML Spanner) credentials for ml-prod live up to 1 h now (was 15 min)'],
    },
    {
      name: 'a shorter TTL narrows',
      change: (p) => (p.staging.maxTtlSeconds = 1800),
      expect: ['narrowed: staging Databricks, Google (ML Spanner), AWS credentials for ml-staging live at most 30 min now (was 1 h)'],
    },
    {
      name: 'another AWS role is a new principal: widened',
      change: (p) => ((p.staging.aws as Record<string, unknown>).roleArn = 'arn:aws:iam::444455556666:role/ml-prod'),
      expect: ['widened: ml-staging reaches staging AWS as arn:aws:iam::444455556666:role/ml-prod now (was arn:aws:iam::111122223333:role/ml-staging)'],
    },
    {
      name: 'a token sent to another STS endpoint: widened, in dev and where dev is inherited',
      change: (p) => ((p.dev.aws as Record<string, unknown>).stsEndpoint = 'https://sts.attacker.example'),
      expect: [
        'widened: dev AWS tokens for ml-dev are sent to https://sts.attacker.example now',
        'widened: prod AWS tokens for ml-prod are sent to https://sts.attacker.example now',
        'widened: staging AWS tokens for ml-staging are sent to https://sts.attacker.example now',
      ],
    },
    {
      name: 'other Databricks scopes (not a subset): widened, wherever they are inherited',
      change: (p) => {
        (p.dev.databricks as Record<string, unknown>).scopes = ['sql'];
      },
      expect: [
        'widened: dev Databricks for ml-dev: databricks.scopes: all-apis → sql',
        'widened: prod Databricks for ml-prod: databricks.scopes: all-apis → sql',
        'widened: staging Databricks for ml-staging: databricks.scopes: all-apis → sql',
      ],
    },
    {
      name: 'a new environment widens for its groups only',
      change: (p) => (p.research = { requiredGroups: ['ml-research'], databricks: { host: 'https://research.cloud.databricks.com' } }),
      expect: ['widened: ml-research now reaches research Databricks'],
    },
    {
      name: 'a removed group narrows',
      change: (p) => (p.dev.requiredGroups = ['ml-staging']),
      expect: ['widened: ml-staging now reaches dev Databricks, Google (ML Spanner), AWS', 'narrowed: ml-dev no longer reaches dev Databricks, Google (ML Spanner), AWS'],
    },
    {
      name: 'a broken environment is usable by nobody: narrowed',
      change: (p) => (p.sandbox.extends = 'nowhere'),
      expect: ['narrowed: any signed-in user no longer reaches sandbox Databricks'],
    },
    { name: 'a comment-only change (same values) changes nothing', change: () => undefined, expect: [] },
  ];
  for (const c of table) {
    it(c.name, () => {
      const changes = diff(edit(c.change));
      assert.deepEqual(
        summarizeChanges(changes).map((l) => `${l.direction}: ${l.text}`),
        c.expect,
      );
    });
  }

  it('fewer scopes alone is narrowed (dev and the environments that inherit them)', () => {
    const before = edit((p) => ((p.dev.databricks as Record<string, unknown>).scopes = ['all-apis', 'sql']));
    const after = edit((p) => ((p.dev.databricks as Record<string, unknown>).scopes = ['sql']));
    const changes = diff(after, before);
    assert.deepEqual(
      changes.map((c) => [c.direction, c.kind, c.subject.label]),
      [
        ['narrowed', 'identity', 'ml-dev'],
        ['narrowed', 'identity', 'ml-prod'],
        ['narrowed', 'identity', 'ml-staging'],
      ],
    );
  });

  it('each change carries the cells before and after', () => {
    const [c] = widenings(diff(edit((p) => (p.prod.requiredGroups = ['ml-prod', 'ml-dev']))));
    assert.equal(c.before?.verdict, 'denied');
    assert.equal(c.after?.verdict, 'confirm');
    assert.equal(c.after?.identity?.principal, 'https://prod.cloud.databricks.com');
    assert.equal(c.message, 'ml-dev now reaches prod Databricks (after a confirmation)');
  });

  it('renders text and Markdown, widened first', () => {
    const changes = diff(edit((p) => delete p.prod.requiredGroups));
    assert.equal(
      policyDiffToText(changes),
      '+ widened: ml-staging now reaches prod Databricks, Google (ML Spanner), AWS (after a confirmation)\n- narrowed: ml-prod no longer reaches prod Databricks, Google (ML Spanner), AWS\n\n3 decisions widened, 3 narrowed.\n',
    );
    const md = policyDiffToMarkdown(changes);
    assert.ok(md.indexOf('## Widened (3)') < md.indexOf('## Narrowed (3)'));
    assert.match(md, /\| ml-staging \| `prod` \| aws \| ml-staging now reaches prod AWS \(after a confirmation\) \| denied \| confirm · 15 min · `arn:aws:iam::444455556666:role\/ml-prod` \|/);
    assert.match(policyDiffToMarkdown([]), /No access decision changed/);
  });
});
