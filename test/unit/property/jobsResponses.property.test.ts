import * as assert from 'node:assert/strict';
import type { AxiosAdapter, InternalAxiosRequestConfig } from 'axios';
import fc from 'fast-check';
import { DatabricksClient } from '../../../src/core/databricks/DatabricksClient';
import { runShape, withSafeRunPageUrls } from '../../../src/core/databricks/responses';
import { parseShape } from '../../../src/core/http/shape';
import { classifyRun, runStateIcon, runStateKey, runStateText } from '../../../src/core/databricks/RunStateMapping';
import type { Run, RunState } from '../../../src/core/databricks/types';
import { assertNoPollution, boolText, intText, jsonText, junkText, mostly, objectText, onlyUserFacing, RUNS, stringText } from './arbitraries';

const HOST = 'https://dbc-1234.cloud.databricks.com';

/**
 * A client per page limit over an axios adapter that answers 200 with the JSON texts of the
 * current case in turn (axios parses them as from the wire). Clients are reused across cases:
 * making one costs more than a request.
 */
const transport = { bodies: [] as string[], requests: 0, warnings: [] as string[] };
const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
  const data = transport.bodies[Math.min(transport.requests, transport.bodies.length - 1)];
  transport.requests++;
  return { data, status: 200, statusText: 'OK', headers: { 'content-type': 'application/json' }, config, request: {} };
};
const clients = new Map<number, DatabricksClient>();

function client(bodies: string[], maxPages = 100) {
  transport.bodies = bodies;
  transport.requests = 0;
  transport.warnings = [];
  let c = clients.get(maxPages);
  if (!c) {
    c = new DatabricksClient(HOST, async () => 'dose0123', { http: { adapter, retry: { maxRetries: 0 } }, maxPages, onWarning: (w) => void transport.warnings.push(w) });
    clients.set(maxPages, c);
  }
  return { c, transport, warnings: transport.warnings };
}

const lifeCycle = fc.constantFrom('"QUEUED"', '"PENDING"', '"RUNNING"', '"TERMINATING"', '"TERMINATED"', '"SKIPPED"', '"INTERNAL_ERROR"', '"BLOCKED"', '"__proto__"', '"constructor"');
const resultState = fc.constantFrom('"SUCCESS"', '"FAILED"', '"CANCELED"', '"TIMEDOUT"', '"SUCCESS_WITH_FAILURES"', '"toString"', '"EXCLUDED"');
const url = fc.constantFrom(
  `"${HOST}/?o=1#job/1/run/2"`,
  '"javascript:alert(1)"',
  '"file:///etc/passwd"',
  '"command:workbench.action.terminal.new"',
  '"https://evil.example.com/#job/1"',
  `"${HOST.replace('https', 'http')}/#x"`,
  '"//evil.example.com"',
  '"not a url"',
);
const stateText = objectText({ life_cycle_state: mostly(lifeCycle), result_state: mostly(resultState), state_message: mostly(stringText), user_cancelled_or_timedout: mostly(boolText) });
const taskText = objectText({ task_key: mostly(stringText), run_id: mostly(intText), state: mostly(stateText), run_page_url: mostly(url), start_time: mostly(intText) });
const runText = objectText({
  run_id: mostly(intText),
  job_id: mostly(intText),
  run_page_url: mostly(url),
  state: mostly(stateText),
  status: mostly(objectText({ state: mostly(lifeCycle), termination_details: mostly(objectText({ code: mostly(stringText), message: mostly(stringText) })) })),
  tasks: mostly(fc.array(mostly(taskText), { maxLength: 3 }).map((t) => `[${t.join(',')}]`)),
  start_time: mostly(intText),
  end_time: mostly(intText),
  job_parameters: mostly(fc.array(objectText({ name: mostly(stringText), value: mostly(stringText) }), { maxLength: 3 }).map((t) => `[${t.join(',')}]`)),
});
const jobText = objectText({ job_id: mostly(intText), settings: mostly(objectText({ name: mostly(stringText), tags: mostly(junkText), parameters: mostly(junkText) })) });
/** Page tokens from a tiny set, so repeats are common. */
const pageText = objectText({
  jobs: mostly(fc.array(mostly(jobText), { maxLength: 3 }).map((j) => `[${j.join(',')}]`)),
  has_more: mostly(fc.constantFrom('true', 'true', 'false')),
  next_page_token: mostly(fc.constantFrom('"a"', '"b"', '"c"', '""')),
});

function checkRunPageUrls(run: { run_page_url?: string; tasks?: Array<{ run_page_url?: string }> }): void {
  for (const u of [run.run_page_url, ...(run.tasks ?? []).map((t) => t.run_page_url)]) {
    if (u === undefined) continue;
    const parsed = new URL(u);
    assert.equal(parsed.origin, HOST, u);
    assert.equal(parsed.protocol, 'https:');
  }
}

describe('property: Jobs API answers', () => {
  afterEach(assertNoPollution);

  function checkRun(run: Run | undefined): void {
    if (!run) return;
    checkRunPageUrls(run);
    assert.equal(typeof runStateText(run.state), 'string');
    assert.equal(typeof runStateIcon(run.state), 'string');
    assert.equal(typeof runStateKey(run.state), 'string');
    classifyRun(run.state);
    for (const t of run.tasks ?? []) assert.equal(typeof t.task_key, 'string');
  }

  const runBody = fc.oneof({ weight: 3, arbitrary: runText }, { weight: 1, arbitrary: jsonText });

  it('runs/get at the boundary: a Run with safe links, or a protocol UserFacingError; its state always renders', async () => {
    await fc.assert(
      fc.asyncProperty(runBody, async (body) => {
        checkRun(await onlyUserFacing(() => withSafeRunPageUrls(parseShape(runShape, JSON.parse(body), 'Databricks', 'runs/get answer'), HOST)));
      }),
      { ...RUNS, numRuns: 3000 },
    );
  });

  it('runs/get through the client (HTTP layer, JSON parsing, shape check): the same', async () => {
    await fc.assert(
      fc.asyncProperty(runBody, async (body) => checkRun(await onlyUserFacing(() => client([body]).c.getRun(1)))),
      { ...RUNS, numRuns: 500 },
    );
  });

  it('run states restored from storage (any JSON) render without a crash', () => {
    fc.assert(
      fc.property(fc.oneof(stateText, jsonText), (text) => {
        const state = JSON.parse(text) as RunState;
        assert.equal(typeof runStateText(state), 'string');
        assert.equal(typeof runStateIcon(state), 'string');
      }),
      RUNS,
    );
  });

  it('jobs/list: ends after at most maxPages requests, whatever the page tokens; jobs or a protocol error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 5, arbitrary: pageText }, { weight: 1, arbitrary: jsonText }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 6 }), async (pages, maxPages) => {
        const { c } = client(pages, maxPages);
        const jobs = await onlyUserFacing(() => c.listAllJobs());
        assert.ok(transport.requests <= maxPages, `${transport.requests} requests`);
        if (jobs) for (const j of jobs) assert.equal(typeof j, 'object');
        assert.ok(transport.warnings.length <= 1);
      }),
      RUNS,
    );
  });

  it('run-now, runs/get-output, SCIM Me: the documented shape or a protocol error', async () => {
    const outputText = objectText({ notebook_output: mostly(objectText({ result: mostly(stringText), truncated: mostly(boolText) })), error: mostly(stringText), metadata: mostly(runText) });
    await fc.assert(
      fc.asyncProperty(fc.oneof(objectText({ run_id: mostly(intText) }), outputText, objectText({ userName: mostly(stringText) }), jsonText), async (body) => {
        const started = await onlyUserFacing(() => client([body]).c.runNow({ job_id: 1 }));
        if (started && started.run_id !== undefined) assert.ok(Number.isSafeInteger(started.run_id));
        const out = await onlyUserFacing(() => client([body]).c.getRunOutput(1));
        if (out?.metadata) checkRunPageUrls(out.metadata);
        const me = await onlyUserFacing(() => client([body]).c.me());
        if (me) assert.equal(typeof me.userName, 'string');
      }),
      { ...RUNS, numRuns: 500 },
    );
  });
});
