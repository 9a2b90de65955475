import { randomUUID } from 'node:crypto';
import { checkEndpointUrl } from '../policy/endpointUrl';
import { UserFacingError } from '../errors';
import { AuthorizedClient, toTokenSource, type AuthorizedRequestConfig, type TokenSource } from '../http/AuthorizedClient';
import { createHttpClient, ServiceError, type HttpClientOptions } from '../http/HttpClient';
import { parseShape, type Shape } from '../http/shape';
import {
  ignoredShape,
  jobShape,
  listJobsShape,
  listRunsShape,
  objectInfoShape,
  runNowShape,
  runOutputShape,
  runShape,
  scimUserShape,
  submitRunShape,
  withSafeRunPageUrls,
} from './responses';
import type {
  BaseJob,
  ImportRequest,
  Job,
  ListRunsRequest,
  ListRunsResponse,
  ObjectInfo,
  Run,
  RunNowRequest,
  RunNowResponse,
  RunOutput,
  ScimUser,
  SubmitRunRequest,
  SubmitRunResponse,
} from './types';

/** Returns a Databricks access token; `forceRefresh` asks for a new one even if the cached one looks valid. */
export type DatabricksTokenSource = (forceRefresh?: boolean) => Promise<string>;

export interface DatabricksClientOptions {
  /** Passed to createHttpClient: retry policy, sleep and clock (tests use fakes). */
  http?: Omit<HttpClientOptions, 'service' | 'baseURL'>;
  /** Most pages one listing reads (jobs/list); the rest is left out with a warning. Default 100. */
  maxPages?: number;
  /** Told when a listing was cut short (a repeated page token, too many pages). */
  onWarning?: (message: string) => void;
}

/** Pages one listing reads at most by default: 100 pages of 100 jobs. */
export const DEFAULT_MAX_PAGES = 100;

/** What JobRunner needs from a client: an interface so tests can pass a fake. */
export interface DatabricksJobsApi {
  readonly host: string;
  /** Fingerprint of the token the last request carried (for the access log; never the token). */
  readonly lastTokenFingerprint: string | undefined;
  runNow(request: RunNowRequest): Promise<RunNowResponse>;
  submitRun(request: SubmitRunRequest): Promise<SubmitRunResponse>;
  getRun(runId: number): Promise<Run>;
  /** Earlier runs, e.g. to expect how long a job's run takes; optional so simple fakes need not list. */
  listRuns?(request: ListRunsRequest): Promise<ListRunsResponse>;
  getRunOutput(taskRunId: number): Promise<RunOutput>;
  cancelRun(runId: number): Promise<void>;
  importNotebook(request: ImportRequest): Promise<void>;
  mkdirs(path: string): Promise<void>;
  me(): Promise<ScimUser>;
}

/** A new idempotency token: a UUID, well under the 64-character limit of run-now and runs/submit. */
export function newIdempotencyToken(): string {
  return randomUUID();
}


/** Validates a workspace host: https, or http for loopback only (DESIGN.md "Settings"). */
export function normaliseWorkspaceHost(host: string): string {
  // The same rule as every token-receiving setting (policy/endpointUrl.ts); a bare host name
  // means https.
  const checked = checkEndpointUrl(host.includes('://') ? host : `https://${host}`, { originOnly: true });
  if ('error' in checked)
    throw new UserFacingError('config', `The Databricks host "${host}" ${checked.error}.`, 'Set databricks.host to the workspace URL, e.g. https://adb-123.azuredatabricks.net.');
  return checked.url;
}

function actionFor(e: ServiceError): string | undefined {
  if (e.status === 401) return 'Sign in again, then retry.';
  if (e.status === 403) return 'Ask a workspace admin for the needed permission (for jobs: Can Manage Run), or choose another environment.';
  if (e.status === 429) return 'The workspace is rate-limiting requests; wait a minute and retry.';
  if (e.code === 'RESOURCE_ALREADY_EXISTS') return 'Allow overwriting or choose another path.';
  if (e.code === 'MAX_NOTEBOOK_SIZE_EXCEEDED') return 'Notebooks are limited to 10 MB; clear large outputs and retry.';
  if (e.code === 'RESOURCE_DOES_NOT_EXIST') return 'Check that the path or job exists in this workspace.';
  return e.action;
}

/**
 * Jobs API 2.2 and Workspace API client. Every request goes through one AuthorizedClient: it
 * asks the TokenSource for the token (so an expired one is replaced transparently) and retries
 * a 401 once with a forced-fresh token. 429/503 retries with Retry-After come from
 * createHttpClient. Every answer is checked against the shape the code reads (responses.ts),
 * and run page links are kept only when they point into this workspace.
 */
export class DatabricksClient implements DatabricksJobsApi {
  readonly host: string;
  private readonly http: AuthorizedClient;
  private readonly maxPages: number;

  /**
   * @param tokens a TokenSource (e.g. credentialTokenSource over the broker), or a function
   *   `(forceRefresh) => Promise<token>`; an empty token is refused, never sent.
   */
  constructor(
    host: string,
    tokens: TokenSource | DatabricksTokenSource,
    private readonly options: DatabricksClientOptions = {},
  ) {
    this.host = normaliseWorkspaceHost(host);
    this.http = new AuthorizedClient(createHttpClient({ ...options.http, service: 'Databricks', baseURL: this.host }), toTokenSource(tokens, 'Databricks'));
    this.maxPages = Math.max(1, Math.floor(options.maxPages ?? DEFAULT_MAX_PAGES));
  }

  get lastTokenFingerprint(): string | undefined {
    return this.http.lastTokenFingerprint;
  }

  /**
   * All jobs, page by page (page_token), optionally filtered by exact name. A server that
   * repeats a page token, or more than `maxPages` pages, ends the listing with a warning
   * (onWarning) instead of looping.
   */
  async *listJobs(options: { name?: string; expandTasks?: boolean; pageSize?: number } = {}): AsyncGenerator<BaseJob> {
    const seen = new Set<string>();
    let pageToken: string | undefined;
    for (let pages = 0; ; pages++) {
      if (pages >= this.maxPages) {
        this.warn(`Databricks jobs/list at ${this.host} still had more after ${this.maxPages} pages; showing the first ${this.maxPages}.`);
        return;
      }
      const page = await this.call(
        {
          method: 'GET',
          url: '/api/2.2/jobs/list',
          params: {
            limit: options.pageSize ?? 100,
            ...(pageToken ? { page_token: pageToken } : {}),
            ...(options.name ? { name: options.name } : {}),
            ...(options.expandTasks ? { expand_tasks: true } : {}),
          },
        },
        listJobsShape,
        'jobs/list answer',
      );
      for (const job of page.jobs ?? []) yield job;
      if (pageToken !== undefined) seen.add(pageToken);
      pageToken = page.has_more ? page.next_page_token || undefined : undefined;
      if (pageToken === undefined) return;
      if (seen.has(pageToken)) {
        this.warn(`Databricks jobs/list at ${this.host} repeated a page token after ${pages + 1} pages; the list may be incomplete.`);
        return;
      }
    }
  }

  async listAllJobs(options: { name?: string; expandTasks?: boolean; pageSize?: number } = {}): Promise<BaseJob[]> {
    const all: BaseJob[] = [];
    for await (const job of this.listJobs(options)) all.push(job);
    return all;
  }

  getJob(jobId: number): Promise<Job> {
    return this.call({ method: 'GET', url: '/api/2.2/jobs/get', params: { job_id: jobId } }, jobShape, 'jobs/get answer');
  }

  /**
   * Triggers a job run. The idempotency token makes the POST safe to retry: the service returns
   * the existing run for a repeated token (CONTRACTS.md, run-now).
   */
  runNow(request: RunNowRequest): Promise<RunNowResponse> {
    const body: RunNowRequest = { ...request, idempotency_token: request.idempotency_token ?? newIdempotencyToken() };
    return this.call({ method: 'POST', url: '/api/2.2/jobs/run-now', data: body, retryUnsafe: true }, runNowShape, 'run-now answer');
  }

  submitRun(request: SubmitRunRequest): Promise<SubmitRunResponse> {
    const body: SubmitRunRequest = { ...request, idempotency_token: request.idempotency_token ?? newIdempotencyToken() };
    return this.call({ method: 'POST', url: '/api/2.2/jobs/runs/submit', data: body, retryUnsafe: true }, submitRunShape, 'runs/submit answer');
  }

  async getRun(runId: number): Promise<Run> {
    const run = await this.call({ method: 'GET', url: '/api/2.2/jobs/runs/get', params: { run_id: runId } }, runShape, 'runs/get answer');
    return withSafeRunPageUrls(run, this.host);
  }

  /** One page of runs, most recently started first. */
  async listRuns(request: ListRunsRequest = {}): Promise<ListRunsResponse> {
    const params = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
    const page = await this.call({ method: 'GET', url: '/api/2.2/jobs/runs/list', params }, listRunsShape, 'runs/list answer');
    return page.runs ? { ...page, runs: page.runs.map((r) => withSafeRunPageUrls(r, this.host)) } : page;
  }

  /** Output of one task run (`tasks[].run_id`); the service refuses a multi-task parent run id. */
  async getRunOutput(taskRunId: number): Promise<RunOutput> {
    const out = await this.call({ method: 'GET', url: '/api/2.2/jobs/runs/get-output', params: { run_id: taskRunId } }, runOutputShape, 'runs/get-output answer');
    return out.metadata ? { ...out, metadata: withSafeRunPageUrls(out.metadata, this.host) } : out;
  }

  /** Asynchronous: the run goes TERMINATING, then TERMINATED with CANCELED. Repeating it is harmless. */
  async cancelRun(runId: number): Promise<void> {
    await this.call({ method: 'POST', url: '/api/2.2/jobs/runs/cancel', data: { run_id: runId }, retryUnsafe: true }, ignoredShape, 'runs/cancel answer');
  }

  async importNotebook(request: ImportRequest): Promise<void> {
    // Overwriting import is idempotent; a non-overwriting one is not retried on 5xx.
    await this.call({ method: 'POST', url: '/api/2.0/workspace/import', data: request, retryUnsafe: request.overwrite === true }, ignoredShape, 'workspace/import answer');
  }

  async mkdirs(path: string): Promise<void> {
    await this.call({ method: 'POST', url: '/api/2.0/workspace/mkdirs', data: { path }, retryUnsafe: true }, ignoredShape, 'workspace/mkdirs answer');
  }

  /** The object at `path`, or undefined when it does not exist. */
  async getStatus(path: string): Promise<ObjectInfo | undefined> {
    try {
      return await this.call({ method: 'GET', url: '/api/2.0/workspace/get-status', params: { path } }, objectInfoShape, 'workspace/get-status answer');
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  me(): Promise<ScimUser> {
    return this.call({ method: 'GET', url: '/api/2.0/preview/scim/v2/Me' }, scimUserShape, 'SCIM Me answer');
  }

  private async call<T>(config: AuthorizedRequestConfig, shape: Shape<T>, what: string): Promise<T> {
    let data: unknown;
    try {
      data = await this.http.data<unknown>(config);
    } catch (e) {
      throw withAction(e);
    }
    return parseShape(shape, data, `Databricks at ${this.host}`, what);
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }
}

function withAction(e: unknown): unknown {
  if (!(e instanceof ServiceError)) return e;
  const action = actionFor(e);
  return action === e.action ? e : new ServiceError(e.service, e.status, e.code, e.message, action, e.kind);
}
