import * as assert from 'node:assert/strict';
import { UserFacingError } from '../../src/core/errors';
import { ServiceError } from '../../src/core/http/HttpClient';
import { SpannerClient } from '../../src/core/spanner/SpannerClient';
import { scriptedServer as scripted, type Reply } from './fakes/scriptedServer';

const DB = 'projects/p/instances/i/databases/d';

const scriptedServer = (replies: Reply[]) => scripted(replies, { error: { code: 500, message: 'script exhausted', status: 'INTERNAL' } });

const session = (n: number): Reply => ({ status: 200, body: { name: `${DB}/sessions/s${n}` } });
const resultSet: Reply = { status: 200, body: { metadata: { rowType: { fields: [{ name: 'x', type: { code: 'INT64' } }] } }, rows: [['1']] } };
const googleError = (code: number, status: string, message: string): Reply => ({ status: code, body: { error: { code, message, status } } });

describe('SpannerClient', () => {
  let srv: Awaited<ReturnType<typeof scriptedServer>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  function client(getToken: (force?: boolean) => Promise<string> = async () => 'tok-1', principal?: string) {
    return new SpannerClient(srv!.url, DB, getToken, { principal, http: { retry: { maxRetries: 0 } } });
  }

  it('creates one session, reuses it, and queries in a single-use strong read-only transaction', async () => {
    srv = await scriptedServer([session(1), resultSet, resultSet, { status: 200, body: {} }]);
    const c = client();
    await c.executeSql('SELECT 1', { params: { id: '5' }, paramTypes: { id: { code: 'INT64' } }, queryMode: 'WITH_STATS' });
    await c.executeSql('SELECT 2');
    await c.dispose();
    assert.deepEqual(
      srv.seen.map((s) => `${s.method} ${s.path}`),
      [`POST /v1/${DB}/sessions`, `POST /v1/${DB}/sessions/s1:executeSql`, `POST /v1/${DB}/sessions/s1:executeSql`, `DELETE /v1/${DB}/sessions/s1`],
    );
    assert.deepEqual(srv.seen[0].body, { session: {} });
    assert.deepEqual(srv.seen[1].body, { sql: 'SELECT 1', params: { id: '5' }, paramTypes: { id: { code: 'INT64' } }, queryMode: 'WITH_STATS', transaction: { singleUse: { readOnly: { strong: true } } } });
    assert.deepEqual(srv.seen[2].body, { sql: 'SELECT 2', transaction: { singleUse: { readOnly: { strong: true } } } });
    assert.ok(srv.seen.every((s) => s.auth === 'Bearer tok-1'));
    assert.match(c.lastTokenFingerprint ?? '', /^sha256:[0-9a-f]{12}$/);
  });

  it('shares one session creation between concurrent queries', async () => {
    srv = await scriptedServer([session(1), resultSet, resultSet]);
    const c = client();
    await Promise.all([c.executeSql('SELECT 1'), c.executeSql('SELECT 2')]);
    assert.equal(srv.seen.filter((s) => s.path.endsWith('/sessions')).length, 1);
  });

  it('recreates an expired session (NOT_FOUND) once and retries the query', async () => {
    srv = await scriptedServer([session(1), resultSet, googleError(404, 'NOT_FOUND', `Session not found: ${DB}/sessions/s1`), session(2), resultSet, resultSet]);
    const c = client();
    await c.executeSql('SELECT 1');
    const rs = await c.executeSql('SELECT 2');
    assert.deepEqual(rs.rows, [['1']]);
    await c.executeSql('SELECT 3');
    assert.deepEqual(
      srv.seen.map((s) => s.path),
      [`/v1/${DB}/sessions`, `/v1/${DB}/sessions/s1:executeSql`, `/v1/${DB}/sessions/s1:executeSql`, `/v1/${DB}/sessions`, `/v1/${DB}/sessions/s2:executeSql`, `/v1/${DB}/sessions/s2:executeSql`],
    );
  });

  it('gives up after one recreation when the new session is not found either', async () => {
    srv = await scriptedServer([session(1), googleError(404, 'NOT_FOUND', 'Session not found: s1'), session(2), googleError(404, 'NOT_FOUND', 'Session not found: s2')]);
    await assert.rejects(client().executeSql('SELECT 1'), (e: ServiceError) => e.code === 'NOT_FOUND' && /Session not found: s2/.test(e.message));
    assert.equal(srv.seen.length, 4);
  });

  it('does not retry a missing database: createSession NOT_FOUND names the settings', async () => {
    srv = await scriptedServer([googleError(404, 'NOT_FOUND', `Database not found: ${DB}`)]);
    await assert.rejects(client().executeSql('SELECT 1'), (e: ServiceError) => {
      assert.equal(e.code, 'NOT_FOUND');
      assert.match(e.display, /Database not found/);
      assert.match(e.display, /spanner\.database in mlspanner\.environments/);
      return true;
    });
    assert.equal(srv.seen.length, 1);
  });

  it('asks once for a fresh token on 401', async () => {
    srv = await scriptedServer([googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'), session(1), resultSet]);
    const asked: boolean[] = [];
    const c = client(async (force) => {
      asked.push(force === true);
      return force ? 'tok-fresh' : 'tok-stale';
    });
    await c.executeSql('SELECT 1');
    assert.deepEqual(asked, [false, true, false]);
    assert.deepEqual(
      srv.seen.map((s) => s.auth),
      ['Bearer tok-stale', 'Bearer tok-fresh', 'Bearer tok-stale'],
    );
  });

  it('a second 401 is an auth error telling the user to sign in again', async () => {
    srv = await scriptedServer([googleError(401, 'UNAUTHENTICATED', 'bad token'), googleError(401, 'UNAUTHENTICATED', 'bad token')]);
    await assert.rejects(client().executeSql('SELECT 1'), (e: UserFacingError) => e.kind === 'auth' && /Sign in again/.test(e.display));
  });

  it('PERMISSION_DENIED names the principal and the database', async () => {
    srv = await scriptedServer([googleError(403, 'PERMISSION_DENIED', `Caller is missing IAM permission spanner.sessions.create on resource ${DB}.`)]);
    await assert.rejects(client(undefined, 'service account ml@p.iam.gserviceaccount.com').executeSql('SELECT 1'), (e: ServiceError) => {
      assert.equal(e.code, 'PERMISSION_DENIED');
      // A permission, not the identity: signing in again would not help.
      assert.equal(e.kind, 'denied');
      assert.match(e.message, new RegExp(`denied service account ml@p\\.iam\\.gserviceaccount\\.com access to ${DB}: Caller is missing`));
      assert.match(e.action ?? '', /roles\/spanner\.databaseReader/);
      return true;
    });
  });

  it('INVALID_ARGUMENT shows the SQL error and keeps the session', async () => {
    srv = await scriptedServer([session(1), googleError(400, 'INVALID_ARGUMENT', 'Table not found: nope [at 1:15]'), resultSet]);
    const c = client();
    await assert.rejects(c.executeSql('SELECT * FROM nope'), (e: ServiceError) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.equal(e.message, 'The query failed: Table not found: nope [at 1:15]');
      assert.equal(e.action, 'Fix the SQL and run it again.');
      return true;
    });
    await c.executeSql('SELECT 1');
    assert.equal(srv.seen.filter((s) => s.path.endsWith('/sessions')).length, 1);
  });

  it('dispose never rejects, and a client without a session sends nothing', async () => {
    srv = await scriptedServer([session(1), resultSet, googleError(404, 'NOT_FOUND', 'gone')]);
    const idle = client();
    await idle.dispose();
    assert.equal(srv.seen.length, 0);
    const c = client();
    await c.executeSql('SELECT 1');
    await c.dispose();
    assert.equal(srv.seen.at(-1)?.method, 'DELETE');
  });

  it('refuses a non-loopback http endpoint and a malformed database name', () => {
    assert.throws(() => new SpannerClient('http://spanner.example.com', DB, async () => 't'), (e: UserFacingError) => e.kind === 'config');
    assert.throws(() => new SpannerClient('https://spanner.googleapis.com', 'projects/p/databases/d', async () => 't'), (e: UserFacingError) => e.kind === 'config');
  });

  it('rejects a session name outside the database as a protocol error', async () => {
    srv = await scriptedServer([{ status: 200, body: { name: 'projects/other/instances/i/databases/d/sessions/x' } }]);
    await assert.rejects(client().executeSql('SELECT 1'), (e: UserFacingError) => e.kind === 'protocol');
  });

  const badResults: Array<[string, unknown, RegExp]> = [
    ['a list instead of a ResultSet', [1, 2], /the body is a list, expected an object/],
    ['rowType fields not a list', { metadata: { rowType: { fields: 'x' } } }, /metadata\.rowType\.fields is the text "x", expected a list/],
    ['a null field', { metadata: { rowType: { fields: [null] } } }, /metadata\.rowType\.fields\[0\] is null, expected an object/],
    ['a type code that is not text', { metadata: { rowType: { fields: [{ name: 'x', type: { code: 7 } }] } } }, /fields\[0\]\.type\.code is the number 7/],
    ['rows not lists', { metadata: { rowType: { fields: [] } }, rows: [5] }, /rows\[0\] is the number 5, expected a list of values/],
  ];
  for (const [name, body, message] of badResults) {
    it(`a malformed result (${name}) is a protocol error naming the field`, async () => {
      srv = await scriptedServer([session(1), { status: 200, body }]);
      await assert.rejects(client().executeSql('SELECT 1'), (e: unknown) => {
        assert.ok(e instanceof UserFacingError, String(e));
        assert.equal(e.kind, 'protocol');
        assert.match(e.message, /^Cloud Spanner returned a malformed result: /);
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it('an empty token is refused before any request', async () => {
    srv = await scriptedServer([session(1), resultSet]);
    await assert.rejects(client(async () => '').executeSql('SELECT 1'), (e: unknown) => e instanceof UserFacingError && /No Google token/.test(e.message));
    assert.equal(srv.seen.length, 0);
  });
});
