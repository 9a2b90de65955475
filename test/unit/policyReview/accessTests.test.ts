import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { VERDICTS } from '../../../src/core/policyReview/accessMatrix';
import { parseAccessTests, parseTtl, TEST_FILE_KEYS } from '../../../src/core/policyReview/accessTestFile';
import { formatAccessTestReport, runAccessTests } from '../../../src/core/policyReview/evaluateAccessTests';
import { junitReport } from '../../../src/core/policyReview/junitReport';
import { JsoncSyntaxError, parseJsonc } from '../../../src/core/policyReview/parseJsonc';
import { environmentsFromSettings, PolicySourceError } from '../../../src/core/policyReview/policySource';
import { starterAccessTests } from '../../../src/core/policyReview/starterTests';
import { parseYamlWithPositions, positionAt } from '../../../src/core/policyReview/yamlPositions';
import { diagnosticsOf } from '../../../src/vscode/policyReview/AccessTestsCommand';
import { POLICY } from './policyFixture';

const resolution = resolveEnvironments(POLICY);

/** Numbered YAML: each line's number is where it sits in the text (tests name lines by number). */
function yaml(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

describe('policy review: access test files', () => {
  describe('problems in the file, with their line', () => {
    const table: { name: string; text: string; line: number; path: string; message: RegExp }[] = [
      { name: 'YAML syntax', text: yaml('cases:', '  - name: a', '    groups: [ml-dev', '    expect: {}'), line: 4, path: '(syntax)', message: /is not valid YAML/ },
      { name: 'an unknown top-level key, with a suggestion', text: yaml('version: 1', 'invariant:', '  maxTtlSeconds: 1', 'cases: []'), line: 2, path: 'invariant', message: /"invariant" is not a known key here \(did you mean "invariants"\?\)/ },
      { name: 'a wrong version', text: yaml('version: 2', 'cases: []'), line: 1, path: 'version', message: /must be 1/ },
      {
        name: 'a verdict that is not one',
        text: yaml('cases:', '  - name: dev', '    groups: [ml-dev]', '    expect:', '      dev: allowed'),
        line: 5,
        path: 'cases[0].expect.dev',
        message: /must be one of granted, confirm, denied, not "allowed"/,
      },
      {
        name: 'a per-credential decision that is not one',
        text: yaml('cases:', '  - name: dev', '    groups: [ml-dev]', '    expect:', '      dev:', '        aws: granted', '        google: { decision: yes }'),
        line: 7,
        path: 'cases[0].expect.dev.google.decision',
        message: /must be one of granted, confirm, denied/,
      },
      {
        name: 'the settings section instead of the credential',
        text: yaml('cases:', '  - name: dev', '    groups: [ml-dev]', '    expect:', '      dev:', '        spanner: granted'),
        line: 6,
        path: 'cases[0].expect.dev.spanner',
        message: /"spanner" is the settings section of the google credential: write google/,
      },
      { name: 'a TTL that is no duration', text: yaml('cases:', '  - name: dev', '    expect:', '      dev: { decision: granted, maxTtl: forever }'), line: 4, path: 'cases[0].expect.dev.maxTtl', message: /a number of seconds or a duration such as 900s, 15m, 1h/ },
      { name: 'groups as a string', text: yaml('cases:', '  - name: dev', '    groups: ml-dev', '    expect: { dev: granted }'), line: 3, path: 'cases[0].groups', message: /must be a list of group names/ },
      { name: 'a case without a name', text: yaml('cases:', '  - groups: [ml-dev]', '    expect: { dev: granted }'), line: 2, path: 'cases[0]', message: /needs a name/ },
      { name: 'a case without expect', text: yaml('cases:', '  - name: a', '  - name: b', '    groups: []'), line: 3, path: 'cases[1]', message: /needs expect/ },
      { name: 'an invariant of the wrong type', text: yaml('invariants:', '  prodRequiresConfirm: true', '  maxTtlSeconds: one hour'), line: 3, path: 'invariants.maxTtlSeconds', message: /whole number of seconds, not "one hour"/ },
      { name: 'onlyGroupsReach with a string', text: yaml('invariants:', '  onlyGroupsReach:', '    prod: ml-prod'), line: 3, path: 'invariants.onlyGroupsReach.prod', message: /must be a list of group names/ },
      { name: 'an empty document', text: '# nothing yet\n', line: 1, path: '(top level)', message: /is empty: write cases and\/or invariants/ },
      { name: 'no cases and no invariants', text: yaml('version: 1'), line: 1, path: '(top level)', message: /neither cases nor invariants/ },
      { name: 'two cases with one name', text: yaml('cases:', '  - name: same', '    expect: { dev: denied }', '  - name: same', '    expect: { dev: denied }'), line: 4, path: 'cases', message: /two cases are named "same" \(the first on line 2\)/ },
      { name: 'an environment name that cannot be one', text: yaml('cases:', '  - name: a', '    expect:', '      "prod env": denied'), line: 4, path: 'cases[0].expect.prod env', message: /is not an environment name/ },
    ];
    for (const c of table) {
      it(c.name, () => {
        const { errors } = parseAccessTests(c.text);
        assert.ok(errors.length >= 1, 'expected a problem');
        const e = errors.find((x) => x.path === c.path);
        assert.ok(e, `no problem at ${c.path}: ${JSON.stringify(errors)}`);
        assert.equal(e.line, c.line, e.message);
        assert.match(e.message, c.message);
      });
    }

    it('a case with a problem is left out; the others run', () => {
      const r = runAccessTests(yaml('cases:', '  - name: broken', '    expect: { dev: maybe }', '  - name: fine', '    groups: [ml-dev]', '    expect: { dev: granted }'), resolution);
      assert.equal(r.errors.length, 1);
      assert.deepEqual(
        r.results.map((x) => [x.name, x.passed]),
        [['fine', true]],
      );
    });
  });

  describe('evaluation', () => {
    const text = readFileSync(path.join(__dirname, '../../fixtures/policy/base/.mlspanner/access-tests.yaml'), 'utf8');

    it('passes where the policy does what the cases say', () => {
      const fixture = resolveEnvironments(
        environmentsFromSettings({ name: 'settings.json', text: readFileSync(path.join(__dirname, '../../fixtures/policy/base/.vscode/settings.json'), 'utf8') }),
        undefined,
      );
      const r = runAccessTests(text.replace(/\n\s+scratch: denied.*\n/, '\n'), fixture);
      assert.deepEqual(r.errors, []);
      assert.equal(r.failed, 0, formatAccessTestReport(r, 'tests'));
      assert.equal(r.passed, 8);
    });

    it('fails each wrong expectation on its own line, with expected and actual', () => {
      const r = runAccessTests(
        yaml(
          'cases:',
          '  - name: ml-dev is kept out of staging',
          '    groups: [ml-dev, ml-staging]',
          '    expect:',
          '      dev: granted',
          '      staging:',
          '        databricks: denied',
          '        aws: { decision: granted, maxTtl: 30m }',
          '      prod: { maxTtl: 900 }',
          '      nowhere: denied',
        ),
        resolution,
      );
      const [c] = r.results;
      assert.equal(c.line, 2);
      assert.equal(c.passed, false);
      assert.deepEqual(
        c.failures.map((f) => `${f.line}: ${f.message}`),
        [
          '7: staging Databricks: expected denied, got granted (you are in ml-staging)',
          '8: staging AWS: expected a TTL cap of 1800 s (30 min), got 3600 s (1 h)',
          '9: prod Databricks: expected a credential living at most 15 min, got denied (requires one of groups ml-prod; you have ml-dev, ml-staging)',
          '9: prod Google (ML Spanner): expected a credential living at most 15 min, got denied (requires one of groups ml-prod; you have ml-dev, ml-staging)',
          '9: prod AWS: expected a credential living at most 15 min, got denied (requires one of groups ml-prod; you have ml-dev, ml-staging)',
          '10: nowhere: the policy defines no environment "nowhere" (known: dev, staging, prod, sandbox)',
        ],
      );
    });

    it('a failed decision or TTL points at its own key', () => {
      const r = runAccessTests(yaml('cases:', '  - name: prod', '    groups: [ml-prod]', '    expect:', '      prod:', '        maxTtl: 1h', '        decision: confirm', '        aws:', '          decision: granted'), resolution);
      assert.deepEqual(
        r.results[0].failures.map((f) => `${f.line}: ${f.message.split(':')[0]}`),
        ['6: prod Databricks', '6: prod Google (ML Spanner)', '9: prod AWS'],
      );
    });

    it('an environment the settings break: denied holds, anything else fails with the problem', () => {
      const broken = resolveEnvironments({ ...POLICY, prod: { ...POLICY.prod, extends: 'nowhere' } });
      const r = runAccessTests(yaml('cases:', '  - name: a', '    groups: [ml-prod]', '    expect:', '      prod: denied', '  - name: b', '    groups: [ml-prod]', '    expect: { prod: confirm }'), broken);
      assert.deepEqual(
        r.results.map((x) => x.passed),
        [true, false],
      );
      assert.match(r.results[1].failures[0].message, /prod: not usable: mlspanner\.environments\.prod\.extends: unknown environment "nowhere"/);
    });

    it('invariants: prod without confirm, a TTL above the limit, a group that should not reach prod, policy problems', () => {
      const lax = resolveEnvironments({ ...POLICY, prod: { ...POLICY.prod, confirm: false, requiredGroups: ['ml-prod', 'ml-staging'] }, staging: { ...POLICY.staging, maxTtlSeconds: 7200 }, bad: { extends: 'x' } });
      const r = runAccessTests(yaml('invariants:', '  prodRequiresConfirm: true', '  maxTtlSeconds: 3600', '  onlyGroupsReach:', '    prod: [ml-prod]', '    sandbox: [ml-dev]', '    gone: [ml-dev]', '  noPolicyProblems: true'), lax);
      const by = Object.fromEntries(r.results.map((x) => [x.name, x]));
      assert.deepEqual(Object.keys(by), ['invariant prodRequiresConfirm', 'invariant maxTtlSeconds', 'invariant onlyGroupsReach prod', 'invariant onlyGroupsReach sandbox', 'invariant onlyGroupsReach gone', 'invariant noPolicyProblems']);
      assert.deepEqual(by['invariant prodRequiresConfirm'].failures, [
        { line: 2, message: 'prod is production-like but gives Databricks, Google (ML Spanner), AWS without a confirmation to ml-prod, ml-staging: set "confirm": true for prod' },
      ]);
      assert.deepEqual(
        by['invariant maxTtlSeconds'].failures.map((f) => f.message),
        [
          'staging Databricks: credentials live up to 7200 s (2 h), more than 3600 s; reached by ml-staging',
          'staging Google (ML Spanner): credentials live up to 7200 s (2 h), more than 3600 s; reached by ml-staging',
          'staging AWS: credentials live up to 7200 s (2 h), more than 3600 s; reached by ml-staging',
        ],
      );
      assert.deepEqual(by['invariant onlyGroupsReach prod'].failures, [{ line: 5, message: 'prod is reached by ml-staging (requiredGroups of prod: ml-prod, ml-staging), not only by ml-prod' }]);
      assert.deepEqual(
        by['invariant onlyGroupsReach sandbox'].failures.map((f) => f.message),
        ['sandbox is reached by any signed-in user (its requiredGroups is empty), not only by ml-dev'],
      );
      assert.match(by['invariant onlyGroupsReach gone'].failures[0].message, /the policy defines no environment "gone"/);
      assert.match(by['invariant noPolicyProblems'].failures[0].message, /mlspanner\.environments\.bad\.extends/);
      assert.equal(r.passed, 0);
    });

    it('invariants hold for the shared policy', () => {
      const r = runAccessTests(yaml('invariants:', '  prodRequiresConfirm: true', '  maxTtlSeconds: 3600', '  onlyGroupsReach: { prod: [ml-prod], staging: [ml-staging] }', '  noPolicyProblems: true'), resolution);
      assert.equal(r.failed, 0, formatAccessTestReport(r, 't'));
      assert.equal(r.passed, 5);
    });

    it('prodEnvironments adds environments to prodRequiresConfirm', () => {
      const r = runAccessTests(yaml('invariants:', '  prodRequiresConfirm: true', '  prodEnvironments: [staging]'), resolution);
      assert.match(r.results[0].failures[0].message, /^staging is production-like/);
    });

    it('diagnostics: one per file problem and per failed expectation, on its line', () => {
      const r = runAccessTests(yaml('cases:', '  - name: a', '    groups: [ml-dev]', '    expect: { staging: granted }', '  - name: b', '    expect: { dev: nope }'), resolution);
      assert.deepEqual(
        diagnosticsOf(r).map((d) => [d.line, d.code]),
        [
          [6, 'test file'],
          [4, 'case'],
          [4, 'case'],
          [4, 'case'],
        ],
      );
    });

    it('a JUnit report names each case, its line and its failures; XML is escaped', () => {
      const r = runAccessTests(yaml('cases:', '  - name: a <b> & "c"', '    groups: [ml-dev]', '    expect: { prod: granted }', '  - name: ok', '    groups: [ml-dev]', '    expect: { dev: granted }'), resolution);
      const xml = junitReport(r, '.mlspanner/access-tests.yaml');
      assert.match(xml, /<testsuites name="ML Spanner access policy" tests="2" failures="1" errors="0">/);
      assert.match(xml, /<testcase name="a &lt;b&gt; &amp; &quot;c&quot;" classname="\.mlspanner\/access-tests\.yaml" file="\.mlspanner\/access-tests\.yaml" line="2">/);
      assert.match(xml, /<failure message="prod Databricks: expected granted, got denied/);
      assert.match(xml, /<testcase name="ok" [^>]*line="5"\/>/);
      assert.ok(!junitReport({ results: [], errors: [{ line: 1, column: 1, path: 'x', message: 'bad \u0001 char' }], passed: 0, failed: 0 }, 'f').includes('\u0001'));
    });

    it('a starter file pins the policy as it is and passes against it', () => {
      const text = starterAccessTests(resolution);
      const r = runAccessTests(text, resolution);
      assert.deepEqual(r.errors, []);
      assert.equal(r.failed, 0, formatAccessTestReport(r, 'starter'));
      assert.match(text, /onlyGroupsReach:\n {4}prod: \[ml-prod\]/);
      const widened = resolveEnvironments({ ...POLICY, prod: { ...POLICY.prod, requiredGroups: ['ml-prod', 'ml-dev'] } });
      assert.ok(runAccessTests(text, widened).failed > 0);
    });
  });

  describe('the JSON schema (schemas/access-tests.schema.json)', () => {
    const schema = JSON.parse(readFileSync(path.join(__dirname, '../../../schemas/access-tests.schema.json'), 'utf8'));

    it('is draft-07 and knows the same keys, verdicts and TTL forms as the validator', () => {
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
      assert.deepEqual(Object.keys(schema.properties), [...TEST_FILE_KEYS['']]);
      assert.deepEqual(Object.keys(schema.properties.invariants.properties), [...TEST_FILE_KEYS.invariants]);
      assert.deepEqual(Object.keys(schema.properties.cases.items.properties), [...TEST_FILE_KEYS.case]);
      assert.deepEqual(Object.keys(schema.definitions.expectation.oneOf[1].properties), [...TEST_FILE_KEYS.expectation]);
      assert.deepEqual(Object.keys(schema.definitions.environmentExpectation.oneOf[1].properties), [...TEST_FILE_KEYS.expectation, 'databricks', 'google', 'aws']);
      assert.deepEqual([...schema.definitions.verdict.enum].sort(), [...VERDICTS].sort());
      const ttl = new RegExp(schema.definitions.ttl.oneOf[1].pattern);
      for (const v of ['900s', '15m', '15min', '1h', '30 sec']) assert.ok(ttl.test(v) && parseTtl(v) !== undefined, v);
      for (const v of ['1d', 'forever', '-5m']) assert.ok(!ttl.test(v) && parseTtl(v) === undefined, v);
      assert.equal(parseTtl('15m'), 900);
      assert.equal(parseTtl(0), undefined);
    });
  });

  describe('YAML positions', () => {
    it('maps keys, values and sequence items in block and flow style to their lines', () => {
      const { root } = parseYamlWithPositions(yaml('# c', 'a:', '  - x: 1', '    y: [p, q]', '  -', '    # note', '    x: 2', 'b: { c: d }', 'e:', 'f: -3'));
      const line = (...p: (string | number)[]) => positionAt(root, p)?.line;
      assert.equal(line('a', 0), 3);
      assert.equal(line('a', 0, 'y', 1), 4);
      assert.equal(line('a', 1, 'x'), 7);
      assert.equal(line('b', 'c'), 8);
      assert.equal(line('e'), 9);
      assert.equal(line('f'), 10);
      assert.equal(positionAt(root, ['a', 1])?.keyLine, undefined);
      assert.equal(positionAt(root, ['b'])?.keyLine, 8);
    });

    it('parses plain data only: no custom tags', () => {
      assert.throws(() => parseYamlWithPositions('a: !!js/function "() => 1"'), /unknown tag/);
    });
  });

  describe('settings files (JSON with comments)', () => {
    it('reads comments and trailing commas, and the workspace file form', () => {
      assert.deepEqual(parseJsonc('// c\n{ "a": [1, 2,], /* x */ "b": {"c": "d\\"//e",}, }'), { a: [1, 2], b: { c: 'd"//e' } });
      assert.deepEqual(environmentsFromSettings({ name: 'w.code-workspace', text: '{ "folders": [], "settings": { "mlspanner.environments": { "dev": {} } } }' }), { dev: {} });
      assert.equal(environmentsFromSettings({ name: 's.json', text: '{}' }), undefined);
      assert.equal(environmentsFromSettings({ name: 's.json', text: '  // only a comment\n' }), undefined);
    });

    it('keeps "__proto__" a plain key', () => {
      const v = parseJsonc('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.deepEqual(Object.keys(v), ['__proto__']);
    });

    const errors: [string, string, number, number][] = [
      ['{"a": x}', 'expected a value, found "x"', 1, 7],
      ['{\n  "a": 1\n  "b": 2\n}', 'expected "," or "}" after a property value, found a string', 3, 3],
      ['{"a": "unterminated', 'unterminated string', 1, 20],
      ['{"a": 1} trailing', 'unexpected "t" after the value', 1, 10],
      ['{ /* open', 'unterminated /* comment', 1, 3],
    ];
    for (const [text, message, line, column] of errors) {
      it(`names line and column: ${message}`, () => {
        assert.throws(
          () => parseJsonc(text),
          (e: unknown) => e instanceof JsoncSyntaxError && e.line === line && e.column === column && e.message === `${message} (line ${line}, column ${column})`,
        );
      });
    }

    it('never quotes the file in an error (it may hold other secrets)', () => {
      assert.throws(
        () => environmentsFromSettings({ name: 'settings.json', text: '{"other.token": "dapi0123456789abcdef" oops}' }),
        (e: unknown) => e instanceof PolicySourceError && !/dapi/.test((e as Error).message) && /settings\.json is not valid JSON with comments/.test((e as Error).message),
      );
    });
  });
});
