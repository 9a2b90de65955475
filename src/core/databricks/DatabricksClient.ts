import { randomUUID } from 'node:crypto';
import type { AxiosInstance, AxiosRequestConfig } from 'axios';
import { checkEndpointUrl } from '../policy/endpointUrl';
import { UserFacingError } from '../errors';
import { tokenFingerprint } from '../fingerprint';
import { createHttpClient, ServiceError, type HttpClientOptions } from '../http/HttpClient';
import type {
  BaseJob,
  ImportRequest,
  Job,
  ListJobsResponse,
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
}

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
 * Jobs API 2.2 and Workspace API client. Every request asks `getToken` for the token, so an
 * expired token is replaced transparently; a 401 is retried once with `getToken(true)`.
 * 429/503 retries with Retry-After come from createHttpClient.
 */
export class DatabricksClient implements DatabricksJobsApi {
  readonly host: string;
  private readonly http: AxiosInstance;
  private fingerprint: string | undefined;

  constructor(
    host: string,
    private readonly getToken: DatabricksTokenSource,
    options: DatabricksClientOptions = {},
  ) {
    this.host = normaliseWorkspaceHost(host);
    this.http = createHttpClient({ ...options.http, service: 'Databricks', baseURL: this.host });
  }

  get lastTokenFingerprint(): string | undefined {
    return this.fingerprint;
  }

  /** All jobs, page by page (page_token), optionally filtered by exact name. */
  async *listJobs(options: { name?: string; expandTasks?: boolean; pageSize?: number } = {}): AsyncGenerator<BaseJob> {
    let pageToken: string | undefined;
    do {
      const page = await this.call<ListJobsResponse>({
        method: 'GET',
        url: '/api/2.2/jobs/list',
        params: {
          limit: options.pageSize ?? 100,
          ...(pageToken ? { page_token: pageToken } : {}),
          ...(options.name ? { name: options.name } : {}),
          ...(options.expandTasks ? { expand_tasks: true } : {}),
        },
      });
      for (const job of page.jobs ?? []) yield job;
      pageToken = page.has_more ? page.next_page_token : undefined;
    } while (pageToken);
  }

  async listAllJobs(options: { name?: string; expandTasks?: boolean; pageSize?: number } = {}): Promise<BaseJob[]> {
    const all: BaseJob[] = [];
    for await (const job of this.listJobs(options)) all.push(job);
    return all;
  }

  getJob(jobId: number): Promise<Job> {
    return this.call<Job>({ method: 'GET', url: '/api/2.2/jobs/get', params: { job_id: jobId } });
  }

  /**
   * Triggers a job run. The idempotency token makes the POST safe to retry: the service returns
   * the existing run for a repeated token (CONTRACTS.md, run-now).
   */
  runNow(request: RunNowRequest): Promise<RunNowResponse> {
    const body: RunNowRequest = { ...request, idempotency_token: request.idempotency_token ?? newIdempotencyToken() };
    return this.call<RunNowResponse>({ method: 'POST', url: '/api/2.2/jobs/run-now', data: body, retryUnsafe: true });
  }

  submitRun(request: SubmitRunRequest): Promise<SubmitRunResponse> {
    const body: SubmitRunRequest = { ...request, idempotency_token: request.idempotency_token ?? newIdempotencyToken() };
    return this.call<SubmitRunResponse>({ method: 'POST', url: '/api/2.2/jobs/runs/submit', data: body, retryUnsafe: true });
  }

  getRun(runId: number): Promise<Run> {
    return this.call<Run>({ method: 'GET', url: '/api/2.2/jobs/runs/get', params: { run_id: runId } });
  }

  /** One page of runs, most recently started first. */
  listRuns(request: ListRunsRequest = {}): Promise<ListRunsResponse> {
    const params = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
    return this.call<ListRunsResponse>({ method: 'GET', url: '/api/2.2/jobs/runs/list', params });
  }

  /** Output of one task run (`tasks[].run_id`); the service refuses a multi-task parent run id. */
  getRunOutput(taskRunId: number): Promise<RunOutput> {
    return this.call<RunOutput>({ method: 'GET', url: '/api/2.2/jobs/runs/get-output', params: { run_id: taskRunId } });
  }

  /** Asynchronous: the run goes TERMINATING, then TERMINATED with CANCELED. Repeating it is harmless. */
  async cancelRun(runId: number): Promise<void> {
    await this.call<unknown>({ method: 'POST', url: '/api/2.2/jobs/runs/cancel', data: { run_id: runId }, retryUnsafe: true });
  }

  async importNotebook(request: ImportRequest): Promise<void> {
    // Overwriting import is idempotent; a non-overwriting one is not retried on 5xx.
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/workspace/import', data: request, retryUnsafe: request.overwrite === true });
  }

  async mkdirs(path: string): Promise<void> {
    await this.call<unknown>({ method: 'POST', url: '/api/2.0/workspace/mkdirs', data: { path }, retryUnsafe: true });
  }

  /** The object at `path`, or undefined when it does not exist. */
  async getStatus(path: string): Promise<ObjectInfo | undefined> {
    try {
      return await this.call<ObjectInfo>({ method: 'GET', url: '/api/2.0/workspace/get-status', params: { path } });
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  me(): Promise<ScimUser> {
    return this.call<ScimUser>({ method: 'GET', url: '/api/2.0/preview/scim/v2/Me' });
  }

  private async call<T>(config: AxiosRequestConfig): Promise<T> {
    // The token is fetched outside axios so a sign-in failure reaches the caller unchanged.
    try {
      return await this.send<T>(config, await this.getToken(false));
    } catch (e) {
      if (!(e instanceof ServiceError) || e.status !== 401) throw this.withAction(e);
    }
    // One retry with a forced-fresh token: the cached one may have been revoked or be in its
    // last 30 s, which the service refuses (CONTRACTS.md, token federation).
    try {
      return await this.send<T>(config, await this.getToken(true));
    } catch (e) {
      throw this.withAction(e);
    }
  }

  private async send<T>(config: AxiosRequestConfig, token: string): Promise<T> {
    this.fingerprint = tokenFingerprint(token);
    const res = await this.http.request<T>({ ...config, headers: { ...config.headers, Authorization: `Bearer ${token}`, Accept: 'application/json' } });
    return res.data;
  }

  private withAction(e: unknown): unknown {
    if (!(e instanceof ServiceError)) return e;
    const action = actionFor(e);
    return action === e.action ? e : new ServiceError(e.service, e.status, e.code, e.message, action);
  }
}
