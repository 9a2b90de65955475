import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyFederatedJwt, TokenRejected, type FederationTrust } from '../verifyJwt';
import { SecretScopesEmulator } from './SecretScopesEmulator';
import { escapeHtml, parseRunPagePath, renderRunPage, runPagePath } from './RunPage';

/**
 * A Databricks workspace emulator on loopback: OAuth discovery, RFC 8693 token federation,
 * Jobs API 2.2, Workspace API 2.0 and SCIM Me, following /work/shared/contracts/CONTRACTS.md
 * ("Databricks"). Run timing is driven by an injectable clock so tests and the benchmark can
 * run minutes of simulated time in milliseconds.
 */

export type ResultState = 'SUCCESS' | 'FAILED';

export interface RunDurations {
  queuedMs: number;
  pendingMs: number;
  runningMs: number;
  terminatingMs: number;
}

export interface DemoJobSpec {
  name: string;
  description?: string;
  /** Fixed id; assigned from the workspace name otherwise. */
  jobId?: number;
  result?: ResultState;
  /** The notebook's `dbutils.notebook.exit` value on success. */
  output?: string;
  /** Error text on failure. */
  error?: string;
  durations?: Partial<RunDurations>;
  /** Completed runs created in the past (one a day), so runs/list has history for the job. */
  pastRuns?: number;
  parameters?: { name: string; default: string }[];
  /** When set, only these subjects (or holders of these groups) may run the job: others get 403. */
  runAllowedSubjects?: string[];
  runAllowedGroups?: string[];
  tags?: Record<string, string>;
}

export interface WorkspaceStats {
  /** Requests per "METHOD path" (REST and OAuth; not /__sandbox). */
  requests: Record<string, number>;
  /** Idempotency tokens in the order requests carried them (repeats included). */
  idempotencyTokens: string[];
  tokensIssued: number;
}

export interface WorkspaceKnobs {
  /** The next `count` REST requests answer 429 with `Retry-After: retryAfterSeconds`. */
  fail429(count: number, retryAfterSeconds?: number): void;
  /** The next `count` REST requests answer 503 with `Retry-After: retryAfterSeconds`. */
  fail503(count: number, retryAfterSeconds?: number): void;
  /** Result of future runs of a job (by id or name). */
  setJobResult(job: number | string, result: ResultState, error?: string): void;
  /** Durations of future runs: of one job, or the default for all when `job` is omitted. */
  setDurations(durations: Partial<RunDurations>, job?: number | string): void;
  /** Lifetime (seconds) of tokens issued from now on; undefined restores "follow the subject token". */
  setTokenLifetime(seconds: number | undefined): void;
  /** Service-principal federation policy: client_id → subjects allowed to federate as it. */
  setServicePrincipalPolicy(policy: Record<string, string[]>): void;
  /** Who may run a job; undefined allows everyone. */
  setRunPermission(job: number | string, allowed: { subjects?: string[]; groups?: string[] } | undefined): void;
  /** Makes every issued token invalid immediately (as after a revocation). */
  expireAllTokens(): void;
  /** Replaces the run clock (epoch ms). */
  setClock(now: () => number): void;
  stats(): WorkspaceStats;
  resetStats(): void;
  /** Workspace files as stored by workspace/import: path → decoded content. */
  files(): Map<string, { objectType: 'NOTEBOOK' | 'DIRECTORY' | 'FILE'; language?: string; content?: Buffer }>;
  /** Secret scopes (Secrets API 2.0): seed scopes with ACLs, read what a client stored. */
  secrets(): Pick<SecretScopesEmulator, 'createScope' | 'storedValue' | 'scopeNames'>;
}

export interface StartDatabricksWorkspaceOptions {
  host: string;
  port: number;
  name: string;
  trust: FederationTrust;
  quiet?: boolean;
  jobs?: DemoJobSpec[];
  /** Clock for runs and token expiry, epoch ms; Date.now by default. */
  now?: () => number;
  defaultDurations?: Partial<RunDurations>;
  /**
   * Each phase of each run lasts its duration times a factor drawn uniformly from
   * [1 - jitter, 1 + jitter], as real runs of one job vary; 0.15 by default, 0 for exact durations.
   */
  jitter?: number;
  /** Seed of the jitter; per job the sequence is fixed, so a benchmark is reproducible. Derived from `name` by default. */
  seed?: number;
  servicePrincipals?: Record<string, string[]>;
}

export interface DatabricksWorkspaceHandle {
  url: string;
  close(): Promise<void>;
  knobs: WorkspaceKnobs;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const SUPPORTED_SCOPES = new Set(['all-apis', 'sql', 'offline_access']);
/** The service refuses tokens in their last 30 s (CONTRACTS.md, databricks-vscode#583). */
const REJECT_BEFORE_EXPIRY_MS = 30_000;
const MAX_TOKEN_LIFETIME_S = 3600;
const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

/** TERMINATING (cluster teardown, log delivery) takes a couple of seconds after the task ends. */
export const DEFAULT_DURATIONS: RunDurations = { queuedMs: 1000, pendingMs: 3000, runningMs: 8000, terminatingMs: 2000 };
export const DEFAULT_JITTER = 0.15;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_DEMO_JOBS: DemoJobSpec[] = [
  {
    name: 'train-churn-model',
    description: 'Trains the churn classifier on the latest feature snapshot and registers it.',
    output: '{"model":"churn","version":7,"auc":0.912}',
    parameters: [
      { name: 'snapshot', default: 'latest' },
      { name: 'max_depth', default: '8' },
    ],
    tags: { team: 'ml-platform' },
  },
  {
    name: 'nightly-features',
    description: 'Recomputes the nightly feature tables.',
    output: 'features written: 42 tables',
    durations: { runningMs: 15_000 },
  },
  {
    name: 'score-leads',
    description: 'Scores new leads with the current model.',
    output: '{"scored":1873}',
    durations: { runningMs: 5_000 },
    parameters: [{ name: 'region', default: 'emea' }],
  },
  {
    name: 'evaluate-ranker',
    description: 'Offline evaluation of the search ranker.',
    result: 'FAILED',
    error: 'AssertionError: NDCG@10 0.41 is below the 0.45 gate',
  },
  {
    name: 'backfill-embeddings',
    description: 'Backfills item embeddings; restricted to the ml-admins group.',
    output: 'embedded 120000 items',
    runAllowedGroups: ['ml-admins'],
  },
];

interface IssuedToken {
  subject: string;
  userName: string;
  groups: string[];
  scope: string;
  expiresAt: number;
}

interface Job {
  jobId: number;
  spec: DemoJobSpec;
  createdTime: number;
  result: ResultState;
  error?: string;
  durations?: Partial<RunDurations>;
  allowed?: { subjects?: string[]; groups?: string[] };
}

interface TaskRun {
  runId: number;
  taskKey: string;
  notebookPath: string;
  source: string;
  baseParameters?: Record<string, string>;
  existingClusterId?: string;
}

interface RunRecord {
  runId: number;
  jobId?: number;
  numberInJob?: number;
  runName: string;
  runType: 'JOB_RUN' | 'SUBMIT_RUN';
  creator: string;
  createdAt: number;
  durations: RunDurations;
  result: ResultState | 'INTERNAL_ERROR';
  output?: string;
  error?: string;
  cancelledAt?: number;
  jobParameters?: { name: string; value?: string; default?: string }[];
  task: TaskRun;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? body.error_description ?? status));
  }
}

function apiError(status: number, errorCode: string, message: string): HttpError {
  return new HttpError(status, { error_code: errorCode, message });
}

function oauthError(status: number, error: string, description: string): HttpError {
  return new HttpError(status, { error, error_description: description });
}

function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(apiError(413, 'MAX_NOTEBOOK_SIZE_EXCEEDED', `Request body exceeds ${limit} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function intParam(value: unknown, name: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Invalid value for ${name}: expected an integer, got ${JSON.stringify(value)}.`);
  return n;
}

function stableId(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 100_000 + (h % 800_000) * 1000;
}

export async function startDatabricksWorkspace(opts: StartDatabricksWorkspaceOptions): Promise<DatabricksWorkspaceHandle> {
  if (!isLoopbackHost(opts.host)) throw new Error(`Databricks workspace emulator binds to loopback only (127.0.0.x), not ${opts.host}.`);
  let now = opts.now ?? Date.now;
  let defaultDurations: RunDurations = { ...DEFAULT_DURATIONS, ...opts.defaultDurations };
  let servicePrincipals: Record<string, string[]> = { ...opts.servicePrincipals };
  let tokenLifetimeOverride: number | undefined;
  let pending429 = { count: 0, retryAfter: 1 };
  let pending503 = { count: 0, retryAfter: 1 };
  let stats: WorkspaceStats = { requests: {}, idempotencyTokens: [], tokensIssued: 0 };

  const tokens = new Map<string, IssuedToken>();
  const jobs = new Map<number, Job>();
  const runs = new Map<number, RunRecord>();
  const taskRunToRun = new Map<number, number>();
  const idempotency = new Map<string, number>();
  const files: ReturnType<WorkspaceKnobs['files']> = new Map();
  const secretScopes = new SecretScopesEmulator(apiError, () => now());
  const orgId = (stableId(opts.name) % 9_000_000) + 1_000_000;
  let nextRunId = stableId(opts.name) + 1;
  const jitter = Math.min(0.9, Math.max(0, opts.jitter ?? DEFAULT_JITTER));
  const seed = opts.seed ?? stableId(opts.name);
  // One sequence per job (and one for submitted runs): a job's runs vary the same way however
  // other jobs' runs interleave with them.
  const randoms = new Map<string, () => number>();
  function jittered(d: RunDurations, key: string): RunDurations {
    let rnd = randoms.get(key);
    if (!rnd) randoms.set(key, (rnd = seededRandom((seed ^ stableId(key)) >>> 0)));
    const f = (ms: number) => Math.round(ms * (1 + jitter * (2 * (rnd as () => number)() - 1)));
    return { queuedMs: f(d.queuedMs), pendingMs: f(d.pendingMs), runningMs: f(d.runningMs), terminatingMs: f(d.terminatingMs) };
  }

  const base = stableId(opts.name);
  (opts.jobs ?? DEFAULT_DEMO_JOBS).forEach((spec, i) => {
    const jobId = spec.jobId ?? base + i * 7 + 1;
    jobs.set(jobId, {
      jobId,
      spec,
      createdTime: now() - (30 - i) * 86_400_000,
      result: spec.result ?? 'SUCCESS',
      error: spec.error,
      durations: spec.durations,
      allowed: spec.runAllowedSubjects || spec.runAllowedGroups ? { subjects: spec.runAllowedSubjects, groups: spec.runAllowedGroups } : undefined,
    });
  });
  // Earlier runs of scheduled jobs, oldest first, drawn from the same per-job sequence as new runs.
  for (const job of jobs.values()) {
    const count = job.spec.pastRuns ?? 0;
    for (let k = count; k >= 1; k--) {
      const run = createRun(jobRunFields(job, 'scheduler@example.com', {}), now() - k * 86_400_000);
      run.numberInJob = run.runId;
    }
  }

  let url = '';
  const log = (line: string) => {
    if (!opts.quiet) process.stderr.write(`[databricks:${opts.name}] ${line}\n`);
  };

  function findJob(job: number | string): Job {
    const found = typeof job === 'number' ? jobs.get(job) : [...jobs.values()].find((j) => j.spec.name === job || String(j.jobId) === job);
    if (!found) throw new Error(`no job ${job} in workspace ${opts.name}`);
    return found;
  }

  // ---- OAuth ----

  function oauthMetadata() {
    return {
      issuer: `${url}/oidc`,
      authorization_endpoint: `${url}/oidc/v1/authorize`,
      token_endpoint: `${url}/oidc/v1/token`,
      jwks_uri: `${url}/oidc/jwks.json`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      scopes_supported: ['all-apis', 'sql', 'offline_access'],
    };
  }

  async function tokenEndpoint(body: Buffer, contentType: string) {
    if (!contentType.startsWith('application/x-www-form-urlencoded'))
      throw oauthError(400, 'invalid_request', 'The token request must be application/x-www-form-urlencoded (RFC 6749 §4.1.3).');
    const form = new URLSearchParams(body.toString('utf8'));
    const grantType = form.get('grant_type');
    if (!grantType) throw oauthError(400, 'invalid_request', 'Missing grant_type.');
    if (grantType !== TOKEN_EXCHANGE) throw oauthError(400, 'unsupported_grant_type', `Grant type ${grantType} is not supported by this workspace emulator; use ${TOKEN_EXCHANGE}.`);
    const subjectToken = form.get('subject_token');
    if (!subjectToken) throw oauthError(400, 'invalid_request', 'Missing subject_token.');
    const subjectTokenType = form.get('subject_token_type');
    if (subjectTokenType !== JWT_TOKEN_TYPE) throw oauthError(400, 'invalid_request', `subject_token_type must be ${JWT_TOKEN_TYPE}.`);
    const scope = (form.get('scope') ?? '').trim();
    if (!scope) throw oauthError(400, 'invalid_request', 'Missing scope (use all-apis).');
    const scopes = scope.split(/\s+/);
    const unknown = scopes.filter((s) => !SUPPORTED_SCOPES.has(s));
    if (unknown.length) throw oauthError(400, 'invalid_scope', `Unsupported scope: ${unknown.join(' ')}.`);

    let verified: Awaited<ReturnType<typeof verifyFederatedJwt>>;
    try {
      verified = await verifyFederatedJwt(subjectToken, opts.trust);
    } catch (e) {
      const why = e instanceof TokenRejected ? e.message : (e as Error).message;
      throw oauthError(400, 'invalid_grant', `Token federation failed: ${why}. The federation policy trusts issuer ${opts.trust.issuer}.`);
    }
    const { payload, subject } = verified;
    const clientId = form.get('client_id');
    let userName = typeof payload.email === 'string' ? payload.email : typeof payload.preferred_username === 'string' ? payload.preferred_username : subject;
    if (clientId) {
      const allowed = servicePrincipals[clientId];
      if (!allowed) throw oauthError(400, 'invalid_grant', `No service-principal federation policy for client_id ${clientId}.`);
      if (!allowed.includes(subject)) throw oauthError(400, 'invalid_grant', `Subject ${subject} is not allowed by the federation policy of service principal ${clientId}.`);
      userName = clientId;
    }
    const remaining = Math.floor(((payload.exp ?? 0) * 1000 - Date.now()) / 1000);
    const expiresIn = tokenLifetimeOverride ?? Math.max(0, Math.min(MAX_TOKEN_LIFETIME_S, remaining));
    const accessToken = 'dose' + randomBytes(32).toString('hex');
    const groups = Array.isArray(payload.groups) ? payload.groups.filter((g): g is string => typeof g === 'string') : [];
    tokens.set(accessToken, { subject, userName, groups, scope: scopes.join(' '), expiresAt: now() + expiresIn * 1000 });
    stats.tokensIssued++;
    log(`issued token for ${userName} (${expiresIn}s)`);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, scope: scopes.join(' ') };
  }

  function authenticate(req: http.IncomingMessage): IssuedToken {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw apiError(401, 'UNAUTHENTICATED', 'Missing or malformed Authorization header: expected "Bearer <token>".');
    const t = tokens.get(m[1]);
    if (!t) throw apiError(401, 'UNAUTHENTICATED', 'Invalid access token.');
    if (now() >= t.expiresAt - REJECT_BEFORE_EXPIRY_MS) throw apiError(401, 'UNAUTHENTICATED', 'Access token expired (or expires within 30 s).');
    return t;
  }

  // ---- Runs ----

  function runTimeline(r: RunRecord) {
    const d = r.durations;
    const queuedEnd = r.createdAt + d.queuedMs;
    const pendingEnd = queuedEnd + d.pendingMs;
    const runningEnd = pendingEnd + d.runningMs;
    const naturalEnd = runningEnd + d.terminatingMs;
    // A cancel takes effect at once: TERMINATING for the terminating duration, then CANCELED.
    const cancelEnd = r.cancelledAt !== undefined && r.cancelledAt < runningEnd ? r.cancelledAt + d.terminatingMs : undefined;
    const end = cancelEnd ?? naturalEnd;
    return { queuedEnd, pendingEnd, runningEnd, end, cancelled: cancelEnd !== undefined };
  }

  function runView(r: RunRecord) {
    const t = now();
    const tl = runTimeline(r);
    let life: string;
    let v2: string;
    let message = '';
    if (t >= tl.end) {
      life = r.result === 'INTERNAL_ERROR' && !tl.cancelled ? 'INTERNAL_ERROR' : 'TERMINATED';
      v2 = 'TERMINATED';
    } else if (tl.cancelled && t >= (r.cancelledAt ?? 0)) {
      life = 'TERMINATING';
      v2 = 'TERMINATING';
      message = 'Run cancellation requested.';
    } else if (t < tl.queuedEnd) {
      life = 'QUEUED';
      v2 = 'QUEUED';
      message = 'Waiting for the run to start.';
    } else if (t < tl.pendingEnd) {
      life = 'PENDING';
      v2 = 'PENDING';
      message = 'Waiting for cluster.';
    } else if (t < tl.runningEnd) {
      life = 'RUNNING';
      v2 = 'RUNNING';
      message = 'In run';
    } else {
      life = 'TERMINATING';
      v2 = 'TERMINATING';
    }
    const done = v2 === 'TERMINATED';
    let resultState: string | undefined;
    let termination: { code: string; type: string; message: string } | undefined;
    if (done) {
      if (tl.cancelled) {
        resultState = 'CANCELED';
        message = 'Run cancelled by user.';
        termination = { code: 'USER_CANCELED', type: 'SUCCESS', message };
      } else if (r.result === 'SUCCESS') {
        resultState = 'SUCCESS';
        message = '';
        termination = { code: 'SUCCESS', type: 'SUCCESS', message: '' };
      } else if (r.result === 'FAILED') {
        resultState = 'FAILED';
        message = `Workload failed, see run output for details`;
        termination = { code: 'RUN_EXECUTION_ERROR', type: 'CLIENT_ERROR', message: r.error ?? 'Task failed.' };
      } else {
        message = r.error ?? 'Internal error.';
        termination = { code: 'INTERNAL_ERROR', type: 'INTERNAL_ERROR', message };
      }
    }
    const state: Record<string, unknown> = { life_cycle_state: life, state_message: message, user_cancelled_or_timedout: tl.cancelled && done };
    if (resultState) state.result_state = resultState;
    const status: Record<string, unknown> = { state: v2 };
    if (termination) status.termination_details = termination;
    if (v2 === 'QUEUED') status.queue_details = { code: 'ACTIVE_RUNS_LIMIT_REACHED', message: 'Queued behind other runs.' };
    const startTime = r.createdAt;
    const endTime = done ? tl.end : 0;
    const setup = Math.max(0, Math.min(t, tl.pendingEnd) - tl.queuedEnd);
    const execution = t >= tl.pendingEnd ? Math.max(0, Math.min(t, tl.runningEnd, tl.end) - tl.pendingEnd) : 0;
    // cleanup_duration is the TERMINATING phase: teardown after the task ended or was cancelled.
    const cleanupFrom = tl.cancelled ? (r.cancelledAt ?? tl.runningEnd) : tl.runningEnd;
    const cleanup = Math.max(0, Math.min(t, tl.end) - cleanupFrom);
    // A path the emulator serves (RunPage.ts), as Databricks' current run links are.
    const runPageUrl = `${url}${runPagePath(r.runId, r.jobId)}?o=${orgId}`;
    const task: Record<string, unknown> = {
      run_id: r.task.runId,
      task_key: r.task.taskKey,
      notebook_task: { notebook_path: r.task.notebookPath, source: r.task.source, ...(r.task.baseParameters ? { base_parameters: r.task.baseParameters } : {}) },
      state,
      status,
      start_time: startTime,
      end_time: endTime,
      setup_duration: setup,
      execution_duration: execution,
      cleanup_duration: cleanup,
      attempt_number: 0,
      run_page_url: `${url}${runPagePath(r.task.runId, r.jobId)}?o=${orgId}`,
    };
    if (r.task.existingClusterId) task.existing_cluster_id = r.task.existingClusterId;
    const view: Record<string, unknown> = {
      run_id: r.runId,
      run_name: r.runName,
      run_type: r.runType,
      creator_user_name: r.creator,
      run_page_url: runPageUrl,
      start_time: startTime,
      end_time: endTime,
      setup_duration: setup,
      execution_duration: execution,
      cleanup_duration: cleanup,
      run_duration: (done ? tl.end : t) - r.createdAt,
      queue_duration: Math.min(t, tl.queuedEnd) - r.createdAt,
      attempt_number: 0,
      trigger: 'ONE_TIME',
      state,
      status,
      tasks: [task],
    };
    if (r.jobId !== undefined) view.job_id = r.jobId;
    if (r.numberInJob !== undefined) view.number_in_job = r.numberInJob;
    if (r.jobParameters) view.job_parameters = r.jobParameters;
    return { view, done, task };
  }

  function createRun(fields: Omit<RunRecord, 'runId' | 'createdAt' | 'task'> & { task: Omit<TaskRun, 'runId'> }, createdAt = now()): RunRecord {
    const runId = nextRunId;
    nextRunId += 2;
    const run: RunRecord = { ...fields, runId, createdAt, task: { ...fields.task, runId: runId + 1 } };
    runs.set(runId, run);
    taskRunToRun.set(runId + 1, runId);
    return run;
  }

  function jobRunFields(job: Job, creator: string, given: Record<string, unknown>): Parameters<typeof createRun>[0] {
    const defs = job.spec.parameters ?? [];
    return {
      jobId: job.jobId,
      runName: job.spec.name,
      runType: 'JOB_RUN',
      creator,
      durations: jittered({ ...defaultDurations, ...job.durations }, `job:${job.jobId}`),
      result: job.result,
      output: job.spec.output,
      error: job.error,
      jobParameters: defs.map((d) => ({ name: d.name, default: d.default, value: given[d.name] !== undefined ? String(given[d.name]) : d.default })),
      task: { taskKey: 'main', notebookPath: `/Repos/ml/${job.spec.name}/main`, source: 'WORKSPACE' },
    };
  }

  function canRun(job: Job, who: IssuedToken): boolean {
    if (!job.allowed) return true;
    return (job.allowed.subjects ?? []).includes(who.subject) || (job.allowed.groups ?? []).some((g) => who.groups.includes(g));
  }

  function checkIdempotencyToken(body: Record<string, unknown>): string | undefined {
    const token = body.idempotency_token;
    if (token === undefined) return undefined;
    if (typeof token !== 'string' || token.length === 0 || token.length > 64)
      throw apiError(400, 'INVALID_PARAMETER_VALUE', 'idempotency_token must be a string of at most 64 characters.');
    stats.idempotencyTokens.push(token);
    return token;
  }

  function jobView(job: Job, withTasks: boolean, full = false) {
    const settings: Record<string, unknown> = {
      name: job.spec.name,
      format: 'MULTI_TASK',
      max_concurrent_runs: 1,
      timeout_seconds: 0,
    };
    if (job.spec.description) settings.description = job.spec.description;
    if (job.spec.tags) settings.tags = job.spec.tags;
    if (job.spec.parameters) settings.parameters = job.spec.parameters;
    if (withTasks)
      settings.tasks = [{ task_key: 'main', notebook_task: { notebook_path: `/Repos/ml/${job.spec.name}/main`, source: 'WORKSPACE' }, timeout_seconds: 0 }];
    const view: Record<string, unknown> = { job_id: job.jobId, creator_user_name: 'ml-platform@example.com', created_time: job.createdTime, settings };
    // run_as_user_name is a field of jobs.Job (get), not of jobs.BaseJob (list).
    if (full) view.run_as_user_name = 'ml-platform@example.com';
    return view;
  }

  // ---- Workspace files ----

  function parentOf(p: string): string {
    const i = p.lastIndexOf('/');
    return i <= 0 ? '/' : p.slice(0, i);
  }

  function dirExists(p: string, who: IssuedToken): boolean {
    if (p === '/' || p === '/Users' || p === '/Shared' || p === `/Users/${who.userName}`) return true;
    return files.get(p)?.objectType === 'DIRECTORY';
  }

  function checkPath(p: unknown): string {
    if (typeof p !== 'string' || !p.startsWith('/') || p.includes('//') || p.split('/').includes('..'))
      throw apiError(400, 'INVALID_PARAMETER_VALUE', `Path must be absolute and normalised, got ${JSON.stringify(p)}.`);
    return p.replace(/\/$/, '') || '/';
  }

  function importObject(body: Record<string, unknown>, who: IssuedToken) {
    const p = checkPath(body.path);
    const format = typeof body.format === 'string' ? body.format : 'SOURCE';
    if (!['SOURCE', 'JUPYTER', 'AUTO', 'HTML', 'DBC', 'RAW', 'R_MARKDOWN'].includes(format)) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Unknown format ${format}.`);
    if (!['SOURCE', 'JUPYTER', 'AUTO'].includes(format)) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Format ${format} is not supported by this workspace emulator.`);
    if (typeof body.content !== 'string') throw apiError(400, 'INVALID_PARAMETER_VALUE', 'content (base64) is required.');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.content)) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'content is not valid base64.');
    const content = Buffer.from(body.content, 'base64');
    if (content.length > MAX_IMPORT_BYTES) throw apiError(400, 'MAX_NOTEBOOK_SIZE_EXCEEDED', `File size imported is (${content.length} bytes), exceeded max size (${MAX_IMPORT_BYTES} bytes).`);
    let language = typeof body.language === 'string' ? body.language : undefined;
    if (language && !['PYTHON', 'SQL', 'SCALA', 'R'].includes(language)) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Unknown language ${language}.`);
    let kind: 'NOTEBOOK' | 'FILE' = 'NOTEBOOK';
    if (format === 'SOURCE' && !language) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'language is required when format is SOURCE.');
    if (format === 'JUPYTER' || (format === 'AUTO' && p.endsWith('.ipynb'))) {
      try {
        const nb = JSON.parse(content.toString('utf8')) as { cells?: unknown };
        if (!Array.isArray(nb.cells)) throw new Error('no cells');
      } catch {
        throw apiError(400, 'INVALID_PARAMETER_VALUE', 'Unable to parse the content as a Jupyter notebook (.ipynb JSON with cells).');
      }
      language = 'PYTHON';
    } else if (format === 'AUTO') {
      const head = content.toString('utf8', 0, 64);
      if (/^# Databricks notebook source/.test(head)) language = 'PYTHON';
      else kind = 'FILE';
    }
    if (!dirExists(parentOf(p), who)) throw apiError(404, 'RESOURCE_DOES_NOT_EXIST', `The parent folder (${parentOf(p)}) does not exist.`);
    const existing = files.get(p);
    if (existing && (existing.objectType === 'DIRECTORY' || body.overwrite !== true))
      throw apiError(400, 'RESOURCE_ALREADY_EXISTS', `${p} already exists.${existing.objectType === 'DIRECTORY' ? '' : ' Pass overwrite=true to replace it.'}`);
    files.set(p, { objectType: kind, language, content });
    return {};
  }

  // ---- Routing ----

  async function handleApi(req: http.IncomingMessage, u: URL, who: IssuedToken): Promise<unknown> {
    const method = req.method ?? 'GET';
    const q = u.searchParams;
    const body = method === 'POST' ? await jsonBody(req) : {};
    const route = `${method} ${u.pathname}`;
    if (u.pathname.startsWith('/api/2.0/secrets/')) return secretScopes.handle(method, u.pathname, body, q, who);
    switch (route) {
      case 'GET /api/2.2/jobs/list': {
        const limit = q.has('limit') ? intParam(q.get('limit'), 'limit') : 20;
        if (limit < 1 || limit > 100) throw apiError(400, 'INVALID_PARAMETER_VALUE', `limit must be between 1 and 100, got ${limit}.`);
        let offset = 0;
        const pageToken = q.get('page_token');
        if (pageToken) {
          const m = /^o:(\d+)$/.exec(Buffer.from(pageToken, 'base64url').toString('utf8'));
          if (!m) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'Invalid page_token.');
          offset = Number(m[1]);
        }
        const name = q.get('name');
        const all = [...jobs.values()].filter((j) => !name || j.spec.name.toLowerCase() === name.toLowerCase()).sort((a, b) => a.jobId - b.jobId);
        const page = all.slice(offset, offset + limit);
        const hasMore = offset + limit < all.length;
        const res: Record<string, unknown> = { jobs: page.map((j) => jobView(j, q.get('expand_tasks') === 'true')), has_more: hasMore };
        if (hasMore) res.next_page_token = Buffer.from(`o:${offset + limit}`).toString('base64url');
        if (offset > 0) res.prev_page_token = Buffer.from(`o:${Math.max(0, offset - limit)}`).toString('base64url');
        return res;
      }
      case 'GET /api/2.2/jobs/get': {
        const jobId = intParam(q.get('job_id'), 'job_id');
        const job = jobs.get(jobId);
        if (!job) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Job ${jobId} does not exist.`);
        return jobView(job, true, true);
      }
      case 'POST /api/2.2/jobs/run-now': {
        const jobId = intParam(body.job_id, 'job_id');
        const job = jobs.get(jobId);
        if (!job) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Job ${jobId} does not exist.`);
        if (!canRun(job, who))
          throw apiError(403, 'PERMISSION_DENIED', `User ${who.userName} does not have Manage Run or Owner or Admin permissions on job ${jobId}`);
        const token = checkIdempotencyToken(body);
        if (token && idempotency.has(token)) {
          const existing = runs.get(idempotency.get(token) ?? -1);
          if (existing) return { run_id: existing.runId, number_in_job: existing.numberInJob ?? existing.runId };
        }
        const params = body.job_parameters;
        if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
          throw apiError(400, 'INVALID_PARAMETER_VALUE', 'job_parameters must be an object of name → value.');
        const given = (params ?? {}) as Record<string, unknown>;
        const defs = job.spec.parameters ?? [];
        const unknownParam = Object.keys(given).find((k) => !defs.some((d) => d.name === k));
        if (unknownParam) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Job ${jobId} has no parameter named ${unknownParam}.`);
        const run = createRun(jobRunFields(job, who.userName, given));
        // number_in_job is deprecated and equals run_id in Jobs 2.1+.
        run.numberInJob = run.runId;
        if (token) idempotency.set(token, run.runId);
        log(`run-now job ${jobId} → run ${run.runId} by ${who.userName}`);
        return { run_id: run.runId, number_in_job: run.numberInJob };
      }
      case 'POST /api/2.2/jobs/runs/submit': {
        const token = checkIdempotencyToken(body);
        if (token && idempotency.has(token)) return { run_id: idempotency.get(token) };
        const tasks = body.tasks;
        if (!Array.isArray(tasks) || tasks.length !== 1)
          throw apiError(400, 'INVALID_PARAMETER_VALUE', 'tasks must hold exactly one task in this workspace emulator.');
        const t = tasks[0] as Record<string, unknown>;
        if (typeof t.task_key !== 'string' || !t.task_key) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'tasks[0].task_key is required.');
        const nt = t.notebook_task as Record<string, unknown> | undefined;
        if (!nt || typeof nt.notebook_path !== 'string') throw apiError(400, 'INVALID_PARAMETER_VALUE', 'tasks[0].notebook_task.notebook_path is required.');
        const source = typeof nt.source === 'string' ? nt.source : 'WORKSPACE';
        const notebook = files.get(nt.notebook_path);
        let result: RunRecord['result'] = 'SUCCESS';
        let output: string | undefined;
        let error: string | undefined;
        if (source === 'WORKSPACE' && notebook?.objectType !== 'NOTEBOOK') {
          result = 'INTERNAL_ERROR';
          error = `Notebook not found: ${nt.notebook_path}`;
        } else if (notebook?.content) {
          const text = notebook.content.toString('utf8');
          const raised = /raise\s+(\w+)\((?:\\?["'])(.*?)(?:\\?["'])\)/.exec(text);
          const exit = /dbutils\.notebook\.exit\((?:\\?["'])(.*?)(?:\\?["'])\)/.exec(text);
          if (raised) {
            result = 'FAILED';
            error = `${raised[1]}: ${raised[2]}`;
          } else output = exit ? exit[1] : '';
        }
        const runName = typeof body.run_name === 'string' && body.run_name ? body.run_name : 'Untitled';
        const run = createRun({
          runName,
          runType: 'SUBMIT_RUN',
          creator: who.userName,
          durations: jittered(defaultDurations, 'runs/submit'),
          result,
          output,
          error,
          task: {
            taskKey: t.task_key,
            notebookPath: nt.notebook_path,
            source,
            baseParameters: (nt.base_parameters as Record<string, string> | undefined) ?? undefined,
            existingClusterId: typeof t.existing_cluster_id === 'string' ? t.existing_cluster_id : undefined,
          },
        });
        if (token) idempotency.set(token, run.runId);
        log(`runs/submit ${nt.notebook_path} → run ${run.runId} by ${who.userName}`);
        return { run_id: run.runId };
      }
      case 'GET /api/2.2/jobs/runs/list': {
        const limit = q.has('limit') ? intParam(q.get('limit'), 'limit') : 25;
        if (limit > 25) throw apiError(400, 'INVALID_PARAMETER_VALUE', `limit must be between 0 and 25, got ${limit}.`);
        const activeOnly = q.get('active_only') === 'true';
        const completedOnly = q.get('completed_only') === 'true';
        if (activeOnly && completedOnly) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'active_only and completed_only cannot both be true.');
        const jobId = q.has('job_id') ? intParam(q.get('job_id'), 'job_id') : undefined;
        if (jobId !== undefined && !jobs.has(jobId)) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Job ${jobId} does not exist.`);
        let offset = q.has('offset') ? intParam(q.get('offset'), 'offset') : 0;
        const pageToken = q.get('page_token');
        if (pageToken) {
          const m = /^r:(\d+)$/.exec(Buffer.from(pageToken, 'base64url').toString('utf8'));
          if (!m) throw apiError(400, 'INVALID_PARAMETER_VALUE', 'Invalid page_token.');
          offset = Number(m[1]);
        }
        const runType = q.get('run_type');
        const from = q.has('start_time_from') ? intParam(q.get('start_time_from'), 'start_time_from') : undefined;
        const to = q.has('start_time_to') ? intParam(q.get('start_time_to'), 'start_time_to') : undefined;
        const size = limit === 0 ? 25 : limit;
        // Most recently started first, as the service lists them.
        const all = [...runs.values()]
          .filter((r) => jobId === undefined || r.jobId === jobId)
          .filter((r) => !runType || r.runType === runType)
          .filter((r) => (from === undefined || r.createdAt >= from) && (to === undefined || r.createdAt <= to))
          .map((r) => runView(r))
          .filter((v) => (!activeOnly || !v.done) && (!completedOnly || v.done))
          .sort((a, b) => Number(b.view.start_time) - Number(a.view.start_time) || Number(b.view.run_id) - Number(a.view.run_id));
        const page = all.slice(offset, offset + size).map(({ view }) => {
          if (q.get('expand_tasks') === 'true') return view;
          const { tasks: _tasks, ...rest } = view;
          return rest;
        });
        const hasMore = offset + size < all.length;
        const res: Record<string, unknown> = { runs: page, has_more: hasMore };
        if (hasMore) res.next_page_token = Buffer.from(`r:${offset + size}`).toString('base64url');
        if (offset > 0) res.prev_page_token = Buffer.from(`r:${Math.max(0, offset - size)}`).toString('base64url');
        return res;
      }
      case 'GET /api/2.2/jobs/runs/get': {
        const runId = intParam(q.get('run_id'), 'run_id');
        const r = runs.get(runId);
        if (!r) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Run ${runId} does not exist.`);
        return runView(r).view;
      }
      case 'GET /api/2.2/jobs/runs/get-output': {
        const runId = intParam(q.get('run_id'), 'run_id');
        if (runs.has(runId))
          throw apiError(
            400,
            'INVALID_PARAMETER_VALUE',
            `Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead (run ${runId} has task run ${runs.get(runId)?.task.runId}).`,
          );
        const parent = runs.get(taskRunToRun.get(runId) ?? -1);
        if (!parent) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Run ${runId} does not exist.`);
        const { task, done, view } = runView(parent);
        // RunOutput.metadata is a Run (jobs.RunOutput in the SDK field list): the task run's own view.
        const metadata: Record<string, unknown> = {
          run_id: task.run_id,
          run_name: view.run_name,
          run_type: view.run_type,
          run_page_url: task.run_page_url,
          creator_user_name: view.creator_user_name,
          start_time: task.start_time,
          end_time: task.end_time,
          setup_duration: task.setup_duration,
          execution_duration: task.execution_duration,
          cleanup_duration: task.cleanup_duration,
          attempt_number: 0,
          state: task.state,
          status: task.status,
        };
        if (parent.jobId !== undefined) metadata.job_id = parent.jobId;
        const res: Record<string, unknown> = { metadata };
        if (!done) return res;
        const cancelled = (task.state as Record<string, unknown>).result_state === 'CANCELED';
        if (parent.result === 'SUCCESS' && !cancelled) {
          const result = parent.output ?? '';
          const max = 5 * 1024 * 1024;
          res.notebook_output = { result: result.slice(0, max), truncated: result.length > max };
        } else if (!cancelled) {
          res.error = parent.error ?? 'Task failed.';
          res.error_trace = `---------------------------------------------------------------------------\n${parent.error ?? 'Error'}\n  File "<notebook>", cell 3, line 12`;
        }
        return res;
      }
      case 'POST /api/2.2/jobs/runs/cancel': {
        const runId = intParam(body.run_id, 'run_id');
        const r = runs.get(runId);
        if (!r) throw apiError(400, 'INVALID_PARAMETER_VALUE', `Run ${runId} does not exist.`);
        if (r.cancelledAt === undefined && !runView(r).done) r.cancelledAt = now();
        log(`cancel run ${runId}`);
        return {};
      }
      case 'POST /api/2.0/workspace/import':
        return importObject(body, who);
      case 'POST /api/2.0/workspace/mkdirs': {
        const p = checkPath(body.path);
        const parts = p.split('/').filter(Boolean);
        for (let i = 1; i <= parts.length; i++) {
          const dir = '/' + parts.slice(0, i).join('/');
          const existing = files.get(dir);
          if (existing && existing.objectType !== 'DIRECTORY') throw apiError(400, 'RESOURCE_ALREADY_EXISTS', `${dir} exists and is not a directory.`);
          if (!existing && !dirExists(dir, who)) files.set(dir, { objectType: 'DIRECTORY' });
        }
        return {};
      }
      case 'GET /api/2.0/workspace/get-status': {
        const p = checkPath(q.get('path'));
        const f = files.get(p);
        if (!f && !dirExists(p, who)) throw apiError(404, 'RESOURCE_DOES_NOT_EXIST', `Path (${p}) doesn't exist.`);
        const info: Record<string, unknown> = { path: p, object_type: f?.objectType ?? 'DIRECTORY', object_id: stableId(p) };
        if (f?.language) info.language = f.language;
        if (f?.content) info.size = f.content.length;
        return info;
      }
      case 'GET /api/2.0/preview/scim/v2/Me':
        return {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          id: String(stableId(who.subject)),
          userName: who.userName,
          displayName: who.userName,
          active: true,
          emails: who.userName.includes('@') ? [{ value: who.userName, type: 'work', primary: true }] : [],
          groups: who.groups.map((g) => ({ display: g })),
        };
      default:
        throw apiError(404, 'ENDPOINT_NOT_FOUND', `No API found for '${route}'.`);
    }
  }

  async function jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    // Base64 inflates by 4/3: allow the 10 MB import limit plus framing.
    const raw = await readBody(req, Math.ceil((MAX_IMPORT_BYTES * 4) / 3) + 64 * 1024);
    if (!raw.length) return {};
    try {
      const v = JSON.parse(raw.toString('utf8')) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch {
      throw apiError(400, 'MALFORMED_REQUEST', 'Request body is not a JSON object.');
    }
  }

  async function handleSandbox(req: http.IncomingMessage, u: URL): Promise<unknown> {
    const body = req.method === 'POST' ? await jsonBody(req) : {};
    switch (`${req.method} ${u.pathname}`) {
      case 'GET /__sandbox/stats':
        return knobs.stats();
      case 'POST /__sandbox/reset-stats':
        knobs.resetStats();
        return {};
      case 'POST /__sandbox/knobs': {
        if (typeof body.fail429 === 'number') knobs.fail429(body.fail429, Number(body.retryAfterSeconds ?? 1));
        if (typeof body.fail503 === 'number') knobs.fail503(body.fail503, Number(body.retryAfterSeconds ?? 1));
        if (body.jobResult && typeof body.jobResult === 'object') {
          const jr = body.jobResult as { job: number | string; result: ResultState; error?: string };
          knobs.setJobResult(jr.job, jr.result, jr.error);
        }
        if (body.durations && typeof body.durations === 'object') knobs.setDurations(body.durations as Partial<RunDurations>, body.job as number | string | undefined);
        if ('tokenLifetimeSeconds' in body) knobs.setTokenLifetime(typeof body.tokenLifetimeSeconds === 'number' ? body.tokenLifetimeSeconds : undefined);
        if (body.expireAllTokens === true) knobs.expireAllTokens();
        return {};
      }
      default:
        throw apiError(404, 'ENDPOINT_NOT_FOUND', `No sandbox control at ${req.method} ${u.pathname}.`);
    }
  }

  /** GET /jobs/{job_id}/runs/{run_id} (or a task run id, or /jobs/runs/{run_id}): the run page, for a browser. */
  function serveRunPage(res: http.ServerResponse, pathname: string): void {
    const where = parseRunPagePath(pathname);
    const run = where && (runs.get(where.runId) ?? runs.get(taskRunToRun.get(where.runId) ?? -1));
    const html = (status: number, body: string) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    };
    if (!run || (where.jobId !== undefined && where.jobId !== run.jobId)) {
      const what = where ? `Run ${where.runId}${where.jobId !== undefined ? ` of job ${where.jobId}` : ''}` : 'This page';
      return html(404, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head><body><p>${escapeHtml(what)} does not exist in workspace ${escapeHtml(opts.name)}.</p></body></html>\n`);
    }
    const { view, task, done } = runView(run);
    const state = view.state as { life_cycle_state: string; result_state?: string; state_message: string };
    const taskState = task.state as { life_cycle_state: string; result_state?: string };
    const failed = done && state.result_state !== 'SUCCESS' && state.result_state !== 'CANCELED';
    html(
      200,
      renderRunPage({
        workspace: opts.name,
        runId: run.runId,
        jobId: run.jobId,
        runName: run.runName,
        creator: run.creator,
        lifeCycleState: state.life_cycle_state,
        resultState: state.result_state,
        stateMessage: state.state_message,
        startTime: view.start_time as number,
        endTime: view.end_time as number,
        now: now(),
        parameters: (run.jobParameters ?? []).map((p) => ({ name: p.name, value: p.value ?? p.default ?? '' })),
        tasks: [{ taskKey: run.task.taskKey, runId: run.task.runId, notebookPath: run.task.notebookPath, lifeCycleState: taskState.life_cycle_state, resultState: taskState.result_state }],
        output: done && state.result_state === 'SUCCESS' ? (run.output ?? '') : undefined,
        error: failed ? (run.error ?? 'Task failed.') : undefined,
      }),
    );
  }

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(text);
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', url || 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    void (async () => {
      try {
        if (u.pathname.startsWith('/__sandbox/')) return send(res, 200, await handleSandbox(req, u));
        if (method === 'GET' && u.pathname.startsWith('/jobs/')) return serveRunPage(res, u.pathname);
        stats.requests[`${method} ${u.pathname}`] = (stats.requests[`${method} ${u.pathname}`] ?? 0) + 1;
        if (method === 'GET' && (u.pathname === '/oidc/.well-known/oauth-authorization-server' || u.pathname === '/oidc/.well-known/openid-configuration'))
          return send(res, 200, oauthMetadata());
        if (u.pathname === '/oidc/v1/token') {
          if (method !== 'POST') throw oauthError(405, 'invalid_request', 'Use POST for the token endpoint.');
          const body = await readBody(req, 64 * 1024);
          return send(res, 200, await tokenEndpoint(body, String(req.headers['content-type'] ?? '')));
        }
        if (u.pathname.startsWith('/api/')) {
          // Throttling is decided before authentication, as a gateway would.
          if (pending429.count > 0) {
            pending429.count--;
            throw new HttpError(429, { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'Too many requests. Please wait and retry.' }, { 'retry-after': String(pending429.retryAfter) });
          }
          if (pending503.count > 0) {
            pending503.count--;
            throw new HttpError(503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'The service is temporarily unavailable.' }, { 'retry-after': String(pending503.retryAfter) });
          }
          const who = authenticate(req);
          return send(res, 200, await handleApi(req, u, who));
        }
        throw apiError(404, 'ENDPOINT_NOT_FOUND', `No API found for '${method} ${u.pathname}'.`);
      } catch (e) {
        if (e instanceof HttpError) {
          if (e.status >= 400) log(`${method} ${u.pathname} → ${e.status} ${String(e.body.error_code ?? e.body.error)}`);
          return send(res, e.status, e.body, e.headers);
        }
        log(`${method} ${u.pathname} → 500 ${(e as Error).message}`);
        return send(res, 500, { error_code: 'INTERNAL_ERROR', message: `Workspace emulator error: ${(e as Error).message}` });
      }
    })();
  });

  const knobs: WorkspaceKnobs = {
    fail429(count, retryAfterSeconds = 1) {
      pending429 = { count, retryAfter: retryAfterSeconds };
    },
    fail503(count, retryAfterSeconds = 1) {
      pending503 = { count, retryAfter: retryAfterSeconds };
    },
    setJobResult(job, result, error) {
      const j = findJob(job);
      j.result = result;
      j.error = error ?? (result === 'FAILED' ? (j.error ?? 'Exception: the job failed (sandbox knob).') : undefined);
    },
    setDurations(durations, job) {
      if (job === undefined) defaultDurations = { ...defaultDurations, ...durations };
      else {
        const j = findJob(job);
        j.durations = { ...j.durations, ...durations };
      }
    },
    setTokenLifetime(seconds) {
      tokenLifetimeOverride = seconds;
    },
    setServicePrincipalPolicy(policy) {
      servicePrincipals = { ...policy };
    },
    setRunPermission(job, allowed) {
      findJob(job).allowed = allowed;
    },
    expireAllTokens() {
      for (const t of tokens.values()) t.expiresAt = Math.min(t.expiresAt, now());
    },
    setClock(clock) {
      now = clock;
    },
    stats() {
      return { requests: { ...stats.requests }, idempotencyTokens: [...stats.idempotencyTokens], tokensIssued: stats.tokensIssued };
    },
    resetStats() {
      stats = { requests: {}, idempotencyTokens: [], tokensIssued: 0 };
    },
    files() {
      return files;
    },
    secrets() {
      return secretScopes;
    },
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${opts.host}:${port}`;
  log(`workspace ${opts.name} at ${url} (federation trusts ${opts.trust.issuer})`);

  return {
    url,
    knobs,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
