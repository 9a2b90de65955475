import * as assert from 'node:assert/strict';
import { UserFacingError } from '../../src/core/errors';
import { ServiceError } from '../../src/core/http/HttpClient';
import { looksLikeToken } from '../../src/core/redact';
import { assertReadOnlyQuery, classifyStatement, googleTokenSource, runQuery, stripSqlComments } from '../../src/core/spanner/QueryRunner';
import type { ResultSet } from '../../src/core/spanner/resultDecoding';
import type { ExecuteSqlOptions, SpannerQueryApi } from '../../src/core/spanner/SpannerClient';
import { RecordingSink } from './fakes/RecordingSink';

describe('read-only statement detection', () => {
  const allowed = [
    'SELECT 1',
    'select * from customers',
    '  \n\tSELECT 1',
    'WITH t AS (SELECT 1 AS x) SELECT x FROM t',
    '-- churn for DE\nSELECT * FROM ML.PREDICT(MODEL churn_model, TABLE customers)',
    '# hash comment\nSELECT 1',
    '/* leading\nblock */ SELECT 1',
    '(SELECT 1) UNION ALL (SELECT 2)',
    '@{USE_ADDITIONAL_PARALLELISM=TRUE} SELECT 1',
    'SELECT 1;',
    'SELECT 1;  -- trailing comment',
    "SELECT 'a;b' AS s",
    'SELECT "-- not a comment; DELETE FROM t" AS s',
    "SELECT '''multi ; line''' AS s",
    "SELECT r'\\' AS backslash; ",
    'SELECT `;` FROM t',
  ];
  for (const sql of allowed) {
    it(`allows ${JSON.stringify(sql)}`, () => assert.doesNotThrow(() => assertReadOnlyQuery(sql)));
  }

  const refused: Array<[string, string, RegExp]> = [
    ['INSERT INTO customers (customer_id) VALUES (1)', 'dml', /INSERT changes data/],
    ['update customers set churned = true where true', 'dml', /UPDATE changes data/],
    ['DELETE FROM customers WHERE true', 'dml', /DELETE changes data/],
    ['CREATE MODEL m INPUT (x INT64) OUTPUT (y BOOL) REMOTE OPTIONS (endpoint = "e")', 'ddl', /CREATE is DDL/],
    ['ALTER TABLE customers ADD COLUMN x INT64', 'ddl', /ALTER is DDL/],
    ['DROP TABLE customers', 'ddl', /DROP is DDL/],
    ['-- SELECT\nDELETE FROM customers WHERE true', 'dml', /DELETE/],
    ['/* SELECT */ DELETE FROM customers WHERE true', 'dml', /DELETE/],
    ['GRAPH FinGraph MATCH (n) RETURN n', 'other', /GRAPH is not a query/],
    ['CALL cancel_query("1")', 'other', /CALL is not a query/],
  ];
  for (const [sql, kind, message] of refused) {
    it(`refuses ${JSON.stringify(sql)} as ${kind}`, () => {
      assert.equal(classifyStatement(sql).kind, kind);
      assert.throws(
        () => assertReadOnlyQuery(sql),
        (e: UserFacingError) => {
          assert.equal(e.kind, 'denied');
          assert.match(e.message, message);
          assert.match(e.message, /ML Spanner queries run read-only; use the console for DDL/);
          return true;
        },
      );
    });
  }

  it('refuses a second statement after a query, but not a semicolon inside a literal', () => {
    assert.equal(classifyStatement('SELECT 1; DELETE FROM t WHERE true').multiple, true);
    assert.throws(() => assertReadOnlyQuery('SELECT 1; DELETE FROM t WHERE true'), /one statement/);
    assert.equal(classifyStatement("SELECT ';' ; ").multiple, false);
  });

  it('refuses an empty or comment-only statement', () => {
    for (const sql of ['', '   ', '-- nothing\n', '/* */']) assert.throws(() => assertReadOnlyQuery(sql), /empty/);
  });

  it('strips comments but keeps literals verbatim', () => {
    assert.equal(stripSqlComments("SELECT '--x' /* c */, \"#y\" -- z\nFROM t").code, "SELECT '--x'  , \"#y\"  \nFROM t");
    assert.equal(stripSqlComments("SELECT 'it\\'s'; -- x").code.trim(), "SELECT 'it\\'s';");
  });
});

/** A SpannerQueryApi that answers from a function and counts calls. */
function fakeClient(answer: (sql: string, options?: ExecuteSqlOptions) => ResultSet | Promise<ResultSet>) {
  const calls: Array<{ sql: string; options?: ExecuteSqlOptions }> = [];
  let disposed = 0;
  const client: SpannerQueryApi = {
    database: 'projects/p/instances/i/databases/d',
    lastTokenFingerprint: 'sha256:0123456789ab',
    executeSql: async (sql, options) => {
      calls.push({ sql, options });
      return answer(sql, options);
    },
    dispose: async () => void disposed++,
  };
  return { client, calls, disposed: () => disposed };
}

describe('runQuery', () => {
  const spanner = { project: 'p', instance: 'i', database: 'd', endpoint: 'http://127.0.0.1:1' };
  const noToken = async (): Promise<string> => assert.fail('no token expected');

  it('decodes the result, times it, renders Markdown and records the access', async () => {
    const sink = new RecordingSink();
    const { client, calls } = fakeClient(() => ({
      metadata: { rowType: { fields: [{ name: 'customer_id', type: { code: 'INT64' } }, { name: 'churn_probability', type: { code: 'FLOAT64' } }] } },
      rows: [
        ['1001', 0.9],
        ['1002', 0.1],
      ],
      stats: { queryStats: { rows_returned: '2' } },
    }));
    let t = 1000;
    const sql = `SELECT customer_id, churn_probability FROM ML.PREDICT(MODEL churn_model, TABLE customers) WHERE country = 'DE' ${'-- padding '.repeat(30)}`;
    const r = await runQuery({ environment: 'dev', spanner, sql, getToken: noToken, sink, client, now: () => (t += 25) });
    assert.deepEqual(r.rows, [
      [1001, 0.9],
      [1002, 0.1],
    ]);
    assert.deepEqual(
      r.columns.map((c) => c.name),
      ['customer_id', 'churn_probability'],
    );
    assert.equal(r.elapsedMs, 25);
    assert.equal(r.database, 'projects/p/instances/i/databases/d');
    assert.deepEqual(r.stats, { queryStats: { rows_returned: '2' } });
    assert.match(r.markdown, /^\| customer_id \| churn_probability \|\n\| ---: \| ---: \|\n\| 1001 \| 0\.9 \|/);
    assert.equal(calls[0].options?.queryMode, 'WITH_STATS');
    assert.equal(sink.events.length, 1);
    const e = sink.events[0];
    assert.equal(e.type, 'queryExecuted');
    assert.equal(e.outcome, 'success');
    assert.equal(e.environment, 'dev');
    assert.equal(e.target, 'google');
    assert.equal(e.resource, 'projects/p/instances/i/databases/d');
    assert.equal(e.rows, 2);
    assert.equal(e.tokenFingerprint, 'sha256:0123456789ab');
    assert.equal(e.detail, `${sql.slice(0, 200)}…`, 'the first 200 characters, literals kept');
    assert.match(String(e.detail), /country = 'DE'/);
  });

  it('refuses DML before any token or request, and records the denial', async () => {
    const sink = new RecordingSink();
    const { client, calls } = fakeClient(() => assert.fail('not sent'));
    await assert.rejects(runQuery({ environment: 'prod', spanner, sql: 'DELETE FROM customers WHERE true', getToken: noToken, sink, client }), /read-only/);
    assert.equal(calls.length, 0);
    assert.deepEqual(
      sink.events.map((e) => [e.type, e.outcome, e.tokenFingerprint]),
      [['queryExecuted', 'denied', undefined]],
    );
    assert.match(String(sink.events[0].reason), /DELETE changes data/);
  });

  it('records a failure with the reason and rethrows the service error', async () => {
    const sink = new RecordingSink();
    const { client } = fakeClient(() => {
      throw new ServiceError('Cloud Spanner', 400, 'INVALID_ARGUMENT', 'The query failed: Table not found: nope', 'Fix the SQL and run it again.');
    });
    await assert.rejects(runQuery({ environment: 'dev', spanner, sql: 'SELECT * FROM nope', getToken: noToken, sink, client }), (e: ServiceError) => e.code === 'INVALID_ARGUMENT');
    assert.equal(sink.events[0].outcome, 'failure');
    assert.match(String(sink.events[0].reason), /Table not found: nope/);
  });

  it('disposes a client it made itself, never one it was given', async () => {
    const given = fakeClient(() => ({ metadata: { rowType: { fields: [] } } }));
    await runQuery({ environment: 'dev', spanner, sql: 'SELECT 1', getToken: noToken, sink: new RecordingSink(), client: given.client });
    assert.equal(given.disposed(), 0);
  });

  it('googleTokenSource passes forceRefresh to the broker and returns the access token only', async () => {
    const asked: Array<boolean | undefined> = [];
    const broker = {
      get: async (_env: string, _target: 'google', opts?: { forceRefresh?: boolean }) => {
        asked.push(opts?.forceRefresh);
        return { target: 'google', accessToken: 'ya29.secret-token-value' } as never;
      },
    };
    const source = googleTokenSource(broker, 'dev');
    assert.equal(await source(), 'ya29.secret-token-value');
    await source(true);
    assert.deepEqual(asked, [false, true]);
    assert.ok(looksLikeToken('ya29.secret-token-value'), 'the fixture is token-shaped, so the access log would redact it');
  });
});
