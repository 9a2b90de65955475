import * as assert from 'node:assert/strict';
import { DatabricksClient, newIdempotencyToken, normaliseWorkspaceHost } from '../../src/core/databricks/DatabricksClient';
import { UserFacingError, errorMessage } from '../../src/core/errors';
import { ServiceError } from '../../src/core/http/HttpClient';
import { scriptedServer as scripted, type Reply } from './fakes/scriptedServer';

const scriptedServer = (replies: Reply[]) => scripted(replies, { error_code: 'INTERNAL_ERROR', message: 'script exhausted' });

describe('DatabricksClient', () => {
  let srv: Awaited<ReturnType<typeof scriptedServer>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  function client(getToken: (force?: boolean) => Promise<string> = async () => 'tok-1') {
    const slept: number[] = [];
    const c = new DatabricksClient(srv!.url, getToken, { http: { sleep: async (ms) => void slept.push(ms) } });
    return { c, slept };
  }

  it('sends the same idempotency token on every retry of run-now, and a new one per call', async () => {
    srv = await scriptedServer([
      { status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }, headers: { 'retry-after': '1' } },
      { status: 200, body: { run_id: 7, number_in_job: 7 } },
      { status: 200, body: { run_id: 8, number_in_job: 8 } },
    ]);
    const { c, slept } = client();
    assert.deepEqual(await c.runNow({ job_id: 1 }), { run_id: 7, number_in_job: 7 });
    await c.runNow({ job_id: 1 });
    const tokens = srv.seen.map((s) => s.body?.idempotency_token as string);
    assert.equal(tokens.length, 3);
    assert.equal(tokens[0], tokens[1], 'a retry repeats the token');
    assert.notEqual(tokens[1], tokens[2], 'a new call gets a new token');
    assert.ok(tokens.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 64));
    assert.deepEqual(slept, [1000]);
  });

  it('keeps a caller-provided idempotency token', async () => {
    srv = await scriptedServer([{ status: 200, body: { run_id: 3 } }]);
    const { c } = client();
    await c.submitRun({ tasks: [{ task_key: 't', notebook_task: { notebook_path: '/x' } }], idempotency_token: 'fixed-token' });
    assert.equal(srv.seen[0].body?.idempotency_token, 'fixed-token');
  });

  it('newIdempotencyToken is unique and within 64 characters', () => {
    const set = new Set(Array.from({ length: 200 }, newIdempotencyToken));
    assert.equal(set.size, 200);
    for (const t of set) assert.ok(t.length <= 64);
  });

  it('honours Retry-After on 429 (whole seconds) before retrying', async () => {
    srv = await scriptedServer([
      { status: 429, body: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' }, headers: { 'retry-after': '3' } },
      { status: 429, body: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' }, headers: { 'retry-after': '2' } },
      { status: 200, body: { run_id: 5, state: { life_cycle_state: 'RUNNING' } } },
    ]);
    const { c, slept } = client();
    const run = await c.getRun(5);
    assert.equal(run.state?.life_cycle_state, 'RUNNING');
    assert.deepEqual(slept, [3000, 2000]);
    assert.equal(srv.seen.length, 3);
  });

  it('retries a 401 once with a forced-fresh token', async () => {
    srv = await scriptedServer([
      { status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'Access token expired.' } },
      { status: 200, body: { userName: 'ada@example.com' } },
    ]);
    const calls: boolean[] = [];
    const { c } = client(async (force) => {
      calls.push(force === true);
      return force ? 'fresh' : 'stale';
    });
    assert.equal((await c.me()).userName, 'ada@example.com');
    assert.deepEqual(calls, [false, true]);
    assert.deepEqual(srv.seen.map((s) => s.auth), ['Bearer stale', 'Bearer fresh']);
  });

  it('a second 401 becomes an auth error that says to sign in, without the token', async () => {
    srv = await scriptedServer([
      { status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' } },
      { status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' } },
    ]);
    const { c } = client(async () => 'dose0123456789abcdef0123456789abcdef');
    const e = await c.getRun(1).then(
      () => assert.fail('expected a rejection'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof ServiceError);
    assert.equal(e.kind, 'auth');
    assert.equal(e.status, 401);
    assert.match(errorMessage(e), /UNAUTHENTICATED: Invalid access token\. Sign in again/);
    assert.doesNotMatch(errorMessage(e), /dose0123/);
    assert.equal(srv.seen.length, 2);
  });

  it('maps {error_code, message} to an actionable error and does not retry 4xx', async () => {
    srv = await scriptedServer([{ status: 403, body: { error_code: 'PERMISSION_DENIED', message: 'User ada does not have Manage Run permissions on job 9' } }]);
    const { c } = client();
    await assert.rejects(c.runNow({ job_id: 9 }), (e: unknown) => {
      assert.ok(e instanceof ServiceError);
      assert.equal(e.code, 'PERMISSION_DENIED');
      assert.match(e.display, /refused \/api\/2\.2\/jobs\/run-now: PERMISSION_DENIED: User ada/);
      assert.match(e.display, /Can Manage Run/);
      return true;
    });
    assert.equal(srv.seen.length, 1);
  });

  it('passes a sign-in failure of the token source through unchanged', async () => {
    srv = await scriptedServer([]);
    const signIn = new UserFacingError('auth', 'Your session expired.', 'Sign in again.');
    const c = new DatabricksClient(srv.url, async () => {
      throw signIn;
    });
    await assert.rejects(c.getRun(1), (e) => e === signIn);
    assert.equal(srv.seen.length, 0);
  });

  it('lists all jobs across pages with page_token and the name filter', async () => {
    srv = await scriptedServer([
      { status: 200, body: { jobs: [{ job_id: 1 }, { job_id: 2 }], has_more: true, next_page_token: 'p2' } },
      { status: 200, body: { jobs: [{ job_id: 3 }], has_more: false } },
    ]);
    const { c } = client();
    const jobs = await c.listAllJobs({ name: 'train', pageSize: 2, expandTasks: true });
    assert.deepEqual(jobs.map((j) => j.job_id), [1, 2, 3]);
    assert.equal(srv.seen[0].path, '/api/2.2/jobs/list?limit=2&name=train&expand_tasks=true');
    assert.equal(srv.seen[1].path, '/api/2.2/jobs/list?limit=2&page_token=p2&name=train&expand_tasks=true');
  });

  it('records the fingerprint of the token used, never the token', async () => {
    srv = await scriptedServer([{ status: 200, body: {} }]);
    const { c } = client(async () => 'secret-token-value');
    await c.cancelRun(4);
    assert.match(c.lastTokenFingerprint ?? '', /^sha256:[0-9a-f]{12}$/);
    assert.deepEqual(srv.seen[0].body, { run_id: 4 });
  });

  it('stops listing jobs when the server repeats a page token, with a warning', async () => {
    srv = await scriptedServer([
      { status: 200, body: { jobs: [{ job_id: 1 }], has_more: true, next_page_token: 'p2' } },
      { status: 200, body: { jobs: [{ job_id: 2 }], has_more: true, next_page_token: 'p2' } },
      { status: 200, body: { jobs: [{ job_id: 3 }], has_more: true, next_page_token: 'p3' } },
    ]);
    const warnings: string[] = [];
    const c = new DatabricksClient(srv.url, async () => 'tok', { onWarning: (w) => void warnings.push(w) });
    const jobs = await c.listAllJobs();
    assert.deepEqual(
      jobs.map((j) => j.job_id),
      [1, 2],
    );
    assert.equal(srv.seen.length, 2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /repeated a page token after 2 pages; the list may be incomplete/);
  });

  it('reads at most maxPages pages of jobs, with a warning', async () => {
    srv = await scriptedServer(Array.from({ length: 6 }, (_, i) => ({ status: 200, body: { jobs: [{ job_id: i }], has_more: true, next_page_token: `p${i + 1}` } })));
    const warnings: string[] = [];
    const c = new DatabricksClient(srv.url, async () => 'tok', { maxPages: 3, onWarning: (w) => void warnings.push(w) });
    assert.equal((await c.listAllJobs()).length, 3);
    assert.equal(srv.seen.length, 3);
    assert.match(warnings[0], /still had more after 3 pages; showing the first 3/);
  });

  const malformed: Array<[string, () => Promise<unknown>, unknown, RegExp]> = [
    ['state_message a number', () => client().c.getRun(1), { run_id: 1, state: { life_cycle_state: 'TERMINATED', state_message: 7 } }, /runs\/get answer: state\.state_message is the number 7, expected a string/],
    ['tasks not a list', () => client().c.getRun(1), { run_id: 1, tasks: { a: 1 } }, /runs\/get answer: tasks is an object, expected a list/],
    ['a null task', () => client().c.getRun(1), { run_id: 1, tasks: [null] }, /tasks\[0\] is null, expected an object/],
    ['run_id a string', () => client().c.runNow({ job_id: 1 }), { run_id: '42' }, /run-now answer: run_id is the text "42", expected an integer/],
    ['a null body', () => client().c.getRunOutput(1), null, /runs\/get-output answer: the body is null, expected an object/],
    ['metadata null-ish but wrong', () => client().c.getRunOutput(1), { metadata: 5 }, /metadata is the number 5, expected an object/],
    ['jobs not iterable', () => client().c.listAllJobs(), { jobs: 'many', has_more: false }, /jobs\/list answer: jobs is the text "many", expected a list/],
    ['a page token of the wrong type', () => client().c.listAllJobs(), { jobs: [], has_more: true, next_page_token: 5 }, /next_page_token is the number 5/],
    ['not JSON at all', () => client().c.me(), 'Bad gateway <html>', /SCIM Me answer: the body is the text .*expected an object/],
  ];
  for (const [name, call, body, message] of malformed) {
    it(`a malformed answer (${name}) is a protocol error naming the field, not a TypeError`, async () => {
      srv = await scripted([{ status: 200, body }]);
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof UserFacingError, String(e));
        assert.equal(e.kind, 'protocol');
        assert.match(e.message, /^Databricks at http:\/\/127\.0\.0\.1:\d+ sent a malformed /);
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it('keeps a run page link only when it is https (or loopback http) on the workspace origin', async () => {
    const links = [
      'javascript:alert(1)',
      'file:///etc/passwd',
      'command:workbench.action.terminal.new',
      'https://evil.example.com/#job/1/run/1',
      'data:text/html,<script>1</script>',
      '//evil.example.com/x',
    ];
    srv = await scriptedServer(links.map((u) => ({ status: 200, body: { run_id: 1, run_page_url: u, tasks: [{ task_key: 't', run_page_url: u }] } })));
    const { c } = client();
    for (const link of links) {
      const run = await c.getRun(1);
      assert.equal(run.run_page_url, undefined, link);
      assert.equal(run.tasks?.[0].run_page_url, undefined, link);
    }
  });

  it('keeps the workspace’s own run page link', async () => {
    const replies: Reply[] = [];
    srv = await scripted(replies);
    const own = `${srv.url}/?o=1#job/7/run/42`;
    replies.push({ status: 200, body: { run_id: 42, run_page_url: own, tasks: [{ task_key: 't', run_page_url: own }] } });
    const run = await new DatabricksClient(srv.url, async () => 'tok').getRun(42);
    assert.equal(run.run_page_url, own);
    assert.equal(run.tasks?.[0].run_page_url, own);
  });

  it('an empty token is refused before any request (never an empty bearer)', async () => {
    srv = await scriptedServer([{ status: 200, body: {} }]);
    const c = new DatabricksClient(srv.url, async () => '');
    await assert.rejects(c.getRun(1), (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol' && /No Databricks token/.test(e.message));
    assert.equal(srv.seen.length, 0);
  });

  it('accepts https hosts and loopback http only', () => {
    assert.equal(normaliseWorkspaceHost('adb-1.azuredatabricks.net/'), 'https://adb-1.azuredatabricks.net');
    assert.equal(normaliseWorkspaceHost('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.throws(() => normaliseWorkspaceHost('http://example.com'), /must be an https:\/\/ origin.*http:\/\/ only for loopback/);
    assert.throws(() => normaliseWorkspaceHost('https://adb-1.azuredatabricks.net/some/path'), /origin only/);
    assert.throws(() => normaliseWorkspaceHost('https://u:p@example.com'), /must not contain credentials/);
  });
});
