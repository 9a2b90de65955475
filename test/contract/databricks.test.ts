import * as assert from 'node:assert/strict';
import { parse } from 'yaml';
import { startDatabricksWorkspace, type DatabricksWorkspaceHandle } from '../../sandbox/databricks/DatabricksWorkspace';
import { startTestIssuer, type TestIssuer } from '../../sandbox/TestIssuer';
import { loadContract, readContract } from './contracts';

/**
 * The workspace emulator against the machine-readable contracts (CONTRACTS.md: "a contract test
 * should check the emulator against the machine-readable files"): response field names ⊆ the
 * official SDK's dataclass fields, enum values ⊆ its enums, errors match the OpenAPI Error schema.
 */

interface FieldSpec {
  name: string;
  type: string;
}
interface SdkFields {
  types: Record<string, FieldSpec[]>;
  enums: Record<string, string[]>;
}
const sdk = loadContract<SdkFields>('databricks-sdk-py-jobs-workspace-fields.json');
const openapi = parse(readContract('databricks-jobs-2.1-aws.openapi.yaml')) as {
  components: { schemas: { Error: { properties: Record<string, { type: string }> } } };
};

/** The named type inside "Optional[List[jobs.RunTask]]", qualified by the parent's module. */
function innerType(type: string, module: string): string {
  const m = /([A-Za-z_.]+)\]*$/.exec(type.replace(/^Optional\[|^List\[/g, '').replace(/^List\[/, ''));
  const name = m ? m[1] : type;
  return name.includes('.') ? name : `${module}.${name}`;
}

/** Checks keys and enum values of `value` against SDK type `typeName`; returns the problems found. */
function check(value: unknown, typeName: string, at: string, problems: string[]): void {
  const fields = sdk.types[typeName];
  if (!fields) return; // a type the field list does not expand (e.g. TriggerInfo): nothing to compare
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at}: expected an object of ${typeName}`);
    return;
  }
  const module = typeName.split('.')[0];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const field = fields.find((f) => f.name === key);
    if (!field) {
      problems.push(`${at}.${key} is not a field of ${typeName}`);
      continue;
    }
    if (/Dict\[/.test(field.type)) continue;
    const inner = innerType(field.type, module);
    const isList = /List\[/.test(field.type);
    const items = isList ? (Array.isArray(v) ? v : (problems.push(`${at}.${key} should be a list`), [])) : [v];
    items.forEach((item, i) => {
      const where = isList ? `${at}.${key}[${i}]` : `${at}.${key}`;
      if (sdk.enums[inner]) {
        if (!sdk.enums[inner].includes(String(item))) problems.push(`${where} = ${JSON.stringify(item)} is not in enum ${inner}`);
      } else check(item, inner, where, problems);
    });
  }
}

function assertConforms(body: unknown, typeName: string, what: string) {
  assert.ok(sdk.types[typeName], `contract has type ${typeName}`);
  const problems: string[] = [];
  check(body, typeName, what, problems);
  assert.deepEqual(problems, [], `${what} does not follow ${typeName}`);
}

function assertErrorBody(body: unknown, expectedCode: string) {
  const schema = openapi.components.schemas.Error.properties;
  assert.ok(body && typeof body === 'object');
  const o = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(o).sort(), Object.keys(schema).sort(), 'error body has exactly {error_code, message}');
  for (const [k, s] of Object.entries(schema)) assert.equal(typeof o[k], s.type, `error ${k} is a ${s.type}`);
  assert.equal(o.error_code, expectedCode);
  assert.ok((o.message as string).length > 5, 'the message says what is wrong');
}

describe('Databricks workspace emulator vs. contracts', function () {
  this.timeout(20_000);
  let issuer: TestIssuer;
  let ws: DatabricksWorkspaceHandle;
  let token = '';
  const clock = { t: Date.now() };

  async function api(method: 'GET' | 'POST', route: string, body?: unknown, bearer = token) {
    const res = await fetch(`${ws.url}${route}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  before(async () => {
    issuer = await startTestIssuer();
    ws = await startDatabricksWorkspace({ host: '127.0.0.1', port: 0, name: 'contract', trust: issuer.trust, quiet: true, now: () => clock.t });
    const res = await fetch(`${ws.url}/oidc/v1/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await issuer.sign(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'all-apis',
      }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await ws?.close();
    await issuer?.close();
  });

  it('loads the contract files', () => {
    assert.ok(Object.keys(sdk.types).length > 20);
    assert.ok(sdk.enums['jobs.RunLifeCycleState'].includes('TERMINATED'));
  });

  it('jobs/list and jobs/get return ListJobsResponse / Job fields', async () => {
    const list = await api('GET', '/api/2.2/jobs/list?limit=2&expand_tasks=true');
    assert.equal(list.status, 200);
    assertConforms(list.body, 'jobs.ListJobsResponse', 'list');
    const page2 = await api('GET', `/api/2.2/jobs/list?limit=2&page_token=${list.body.next_page_token}`);
    assertConforms(page2.body, 'jobs.ListJobsResponse', 'list page 2');
    const id = (list.body.jobs as { job_id: number }[])[0].job_id;
    const job = await api('GET', `/api/2.2/jobs/get?job_id=${id}`);
    assertConforms(job.body, 'jobs.Job', 'get');
  });

  it('run-now, runs/get through every state, get-output and cancel follow Run, RunOutput and the enums', async () => {
    const list = await api('GET', '/api/2.2/jobs/list?name=train-churn-model');
    const id = (list.body.jobs as { job_id: number }[])[0].job_id;
    const now = await api('POST', '/api/2.2/jobs/run-now', { job_id: id, job_parameters: { snapshot: 'x' }, idempotency_token: 'contract-1' });
    assertConforms(now.body, 'jobs.RunNowResponse', 'run-now');
    const runId = now.body.run_id as number;
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const run = await api('GET', `/api/2.2/jobs/runs/get?run_id=${runId}`);
      assertConforms(run.body, 'jobs.Run', `runs/get at +${i}s`);
      seen.add(String((run.body.state as { life_cycle_state: string }).life_cycle_state));
      const taskRunId = (run.body.tasks as { run_id: number }[])[0].run_id;
      const out = await api('GET', `/api/2.2/jobs/runs/get-output?run_id=${taskRunId}`);
      assertConforms(out.body, 'jobs.RunOutput', 'get-output');
      clock.t += 1000;
    }
    assert.deepEqual([...seen], ['QUEUED', 'PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED']);

    const again = await api('POST', '/api/2.2/jobs/run-now', { job_id: id, idempotency_token: 'contract-2' });
    const cancel = await api('POST', '/api/2.2/jobs/runs/cancel', { run_id: again.body.run_id });
    assert.deepEqual(cancel.body, {});
    clock.t += 5000;
    const cancelled = await api('GET', `/api/2.2/jobs/runs/get?run_id=${again.body.run_id}`);
    assertConforms(cancelled.body, 'jobs.Run', 'cancelled run');
    assert.equal((cancelled.body.state as { result_state: string }).result_state, 'CANCELED');
  });

  it('runs/list returns {runs, has_more, next_page_token} with jobs.Run items and takes only list_runs query keys', async () => {
    const list = await api('GET', '/api/2.2/jobs/list?name=train-churn-model');
    const id = (list.body.jobs as { job_id: number }[])[0].job_id;
    const query = `job_id=${id}&completed_only=true&limit=1&expand_tasks=true`;
    for (const key of new URLSearchParams(query).keys())
      assert.ok((sdk as unknown as { endpoints: Record<string, { query: string[] }> }).endpoints['JobsAPI.list_runs'].query.includes(key), key);
    const page = await api('GET', `/api/2.2/jobs/runs/list?${query}`);
    assert.equal(page.status, 200);
    // The field list has no ListRunsResponse; its keys are those of the OpenAPI response plus the 2.2 page tokens.
    for (const key of Object.keys(page.body)) assert.ok(['runs', 'has_more', 'next_page_token', 'prev_page_token'].includes(key), key);
    const runs = page.body.runs as unknown[];
    assert.equal(runs.length, 1);
    runs.forEach((run, i) => assertConforms(run, 'jobs.Run', `runs/list runs[${i}]`));
    assert.equal(page.body.has_more, true);
    const next = await api('GET', `/api/2.2/jobs/runs/list?job_id=${id}&completed_only=true&limit=1&page_token=${page.body.next_page_token}`);
    (next.body.runs as unknown[]).forEach((run, i) => assertConforms(run, 'jobs.Run', `runs/list page 2 runs[${i}]`));
    assertErrorBody((await api('GET', '/api/2.2/jobs/runs/list?limit=26')).body, 'INVALID_PARAMETER_VALUE');
    assertErrorBody((await api('GET', '/api/2.2/jobs/runs/list?active_only=true&completed_only=true')).body, 'INVALID_PARAMETER_VALUE');
  });

  it('workspace import / mkdirs / get-status and runs/submit follow ObjectInfo and SubmitRunResponse', async () => {
    assert.deepEqual((await api('POST', '/api/2.0/workspace/mkdirs', { path: '/Users/ada@example.com/.mlspanner' })).body, {});
    const content = Buffer.from('# Databricks notebook source\ndbutils.notebook.exit("ok")\n').toString('base64');
    const imp = await api('POST', '/api/2.0/workspace/import', { path: '/Users/ada@example.com/.mlspanner/nb', format: 'SOURCE', language: 'PYTHON', content, overwrite: true });
    assert.deepEqual(imp.body, {});
    const status = await api('GET', '/api/2.0/workspace/get-status?path=/Users/ada@example.com/.mlspanner/nb');
    assertConforms(status.body, 'workspace.ObjectInfo', 'get-status');
    const submit = await api('POST', '/api/2.2/jobs/runs/submit', {
      run_name: 'contract',
      tasks: [{ task_key: 'nb', notebook_task: { notebook_path: '/Users/ada@example.com/.mlspanner/nb', source: 'WORKSPACE' } }],
      idempotency_token: 'contract-3',
    });
    assertConforms(submit.body, 'jobs.SubmitRunResponse', 'runs/submit');
    clock.t += 60_000;
    const run = await api('GET', `/api/2.2/jobs/runs/get?run_id=${submit.body.run_id}`);
    assertConforms(run.body, 'jobs.Run', 'submitted run');
  });

  it('the requests the client sends use only fields of the SDK endpoints', () => {
    const endpoint = (name: string) => (sdk as unknown as { endpoints: Record<string, { body: string[]; query: string[] }> }).endpoints[name];
    for (const k of ['job_id', 'job_parameters', 'idempotency_token']) assert.ok(endpoint('JobsAPI.run_now').body.includes(k), k);
    for (const k of ['run_name', 'tasks', 'idempotency_token', 'timeout_seconds']) assert.ok(endpoint('JobsAPI.submit').body.includes(k), k);
    for (const k of ['path', 'format', 'language', 'content', 'overwrite']) assert.ok(endpoint('WorkspaceAPI.import_').body.includes(k), k);
    for (const k of ['limit', 'page_token', 'name', 'expand_tasks']) assert.ok(endpoint('JobsAPI.list').query.includes(k), k);
    for (const k of ['task_key', 'notebook_task', 'existing_cluster_id']) assert.ok(sdk.types['jobs.SubmitTask'].some((f) => f.name === k), k);
  });

  it('errors are {error_code, message} as in the OpenAPI Error schema', async () => {
    assertErrorBody((await api('GET', '/api/2.2/jobs/list', undefined, '')).body, 'UNAUTHENTICATED');
    assertErrorBody((await api('GET', '/api/2.2/jobs/list?limit=1000')).body, 'INVALID_PARAMETER_VALUE');
    assertErrorBody((await api('GET', '/api/2.2/jobs/get?job_id=1')).body, 'INVALID_PARAMETER_VALUE');
    assertErrorBody((await api('GET', '/api/2.2/nope')).body, 'ENDPOINT_NOT_FOUND');
    const list = await api('GET', '/api/2.2/jobs/list?name=backfill-embeddings');
    const denied = await api('POST', '/api/2.2/jobs/run-now', { job_id: (list.body.jobs as { job_id: number }[])[0].job_id });
    assert.equal(denied.status, 403);
    assertErrorBody(denied.body, 'PERMISSION_DENIED');
    const content = Buffer.from('x').toString('base64');
    const dup = await api('POST', '/api/2.0/workspace/import', { path: '/Users/ada@example.com/.mlspanner/nb', format: 'SOURCE', language: 'PYTHON', content });
    assertErrorBody(dup.body, 'RESOURCE_ALREADY_EXISTS');
    ws.knobs.fail429(1, 2);
    const res = await fetch(`${ws.url}/api/2.2/jobs/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '2');
    assertErrorBody(await res.json(), 'REQUEST_LIMIT_EXCEEDED');
  });
});
