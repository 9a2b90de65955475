/**
 * Jobs API 2.2 and Workspace API 2.0 shapes the extension reads and sends. Field names follow
 * /work/shared/contracts/databricks-sdk-py-jobs-workspace-fields.json; only the fields used
 * here are typed, and every response field is optional because the service omits empty ones.
 */

export type RunLifeCycleState =
  | 'QUEUED'
  | 'PENDING'
  | 'RUNNING'
  | 'TERMINATING'
  | 'TERMINATED'
  | 'SKIPPED'
  | 'INTERNAL_ERROR'
  | 'BLOCKED'
  | 'WAITING_FOR_RETRY';

export type RunResultState =
  | 'SUCCESS'
  | 'FAILED'
  | 'TIMEDOUT'
  | 'CANCELED'
  | 'MAXIMUM_CONCURRENT_RUNS_REACHED'
  | 'EXCLUDED'
  | 'SUCCESS_WITH_FAILURES'
  | 'UPSTREAM_FAILED'
  | 'UPSTREAM_CANCELED'
  | 'DISABLED';

export interface RunState {
  life_cycle_state?: RunLifeCycleState;
  result_state?: RunResultState;
  state_message?: string;
  user_cancelled_or_timedout?: boolean;
  queue_reason?: string;
}

export interface TerminationDetails {
  code?: string;
  type?: string;
  message?: string;
}

export interface RunStatus {
  state?: 'BLOCKED' | 'PENDING' | 'QUEUED' | 'RUNNING' | 'TERMINATED' | 'TERMINATING' | 'WAITING';
  termination_details?: TerminationDetails;
  queue_details?: { code?: string; message?: string };
}

export interface NotebookTask {
  notebook_path: string;
  base_parameters?: Record<string, string>;
  source?: 'WORKSPACE' | 'GIT';
  warehouse_id?: string;
}

export interface RunTask {
  task_key: string;
  run_id?: number;
  state?: RunState;
  status?: RunStatus;
  start_time?: number;
  end_time?: number;
  run_page_url?: string;
  notebook_task?: NotebookTask;
  existing_cluster_id?: string;
}

export interface JobParameter {
  name?: string;
  value?: string;
  default?: string;
}

export interface Run {
  run_id?: number;
  job_id?: number;
  number_in_job?: number;
  run_name?: string;
  run_page_url?: string;
  run_type?: 'JOB_RUN' | 'SUBMIT_RUN' | 'WORKFLOW_RUN';
  creator_user_name?: string;
  start_time?: number;
  /** 0 while the run has not ended. */
  end_time?: number;
  /** Ms from start to end (or to now while active). */
  run_duration?: number;
  queue_duration?: number;
  setup_duration?: number;
  execution_duration?: number;
  /** Ms spent TERMINATING (teardown). */
  cleanup_duration?: number;
  state?: RunState;
  status?: RunStatus;
  tasks?: RunTask[];
  job_parameters?: JobParameter[];
}

export interface JobParameterDefinition {
  name: string;
  default: string;
}

export interface JobTask {
  task_key: string;
  description?: string;
  notebook_task?: NotebookTask;
}

export interface JobSettings {
  name?: string;
  description?: string;
  tags?: Record<string, string>;
  parameters?: JobParameterDefinition[];
  tasks?: JobTask[];
  max_concurrent_runs?: number;
  timeout_seconds?: number;
}

export interface BaseJob {
  job_id?: number;
  creator_user_name?: string;
  created_time?: number;
  settings?: JobSettings;
}

export interface Job extends BaseJob {
  run_as_user_name?: string;
}

export interface ListJobsResponse {
  jobs?: BaseJob[];
  has_more?: boolean;
  next_page_token?: string;
  prev_page_token?: string;
}

/** Query of runs/list (JobsAPI.list_runs). active_only and completed_only exclude each other. */
export interface ListRunsRequest {
  job_id?: number;
  active_only?: boolean;
  completed_only?: boolean;
  /** 1-25; 0 means the maximum. */
  limit?: number;
  page_token?: string;
  expand_tasks?: boolean;
  run_type?: 'JOB_RUN' | 'SUBMIT_RUN' | 'WORKFLOW_RUN';
  start_time_from?: number;
  start_time_to?: number;
}

/** Most recently started first. */
export interface ListRunsResponse {
  runs?: Run[];
  has_more?: boolean;
  next_page_token?: string;
  prev_page_token?: string;
}

export interface RunNowRequest {
  job_id: number;
  job_parameters?: Record<string, string>;
  /** At most 64 characters; a repeat returns the existing run (CONTRACTS.md, run-now). */
  idempotency_token?: string;
}

export interface RunNowResponse {
  run_id?: number;
  number_in_job?: number;
}

export interface SubmitTask {
  task_key: string;
  notebook_task?: NotebookTask;
  existing_cluster_id?: string;
  environment_key?: string;
  timeout_seconds?: number;
}

export interface SubmitRunRequest {
  run_name?: string;
  tasks: SubmitTask[];
  environments?: { environment_key: string; spec?: { client?: string; environment_version?: string; dependencies?: string[] } }[];
  timeout_seconds?: number;
  idempotency_token?: string;
  run_as?: { user_name?: string; service_principal_name?: string };
  tags?: Record<string, string>;
}

export interface SubmitRunResponse {
  run_id?: number;
}

export interface NotebookOutput {
  result?: string;
  truncated?: boolean;
}

export interface RunOutput {
  notebook_output?: NotebookOutput;
  error?: string;
  error_trace?: string;
  logs?: string;
  logs_truncated?: boolean;
  metadata?: Run;
}

export type ImportFormat = 'SOURCE' | 'JUPYTER' | 'AUTO' | 'HTML' | 'DBC' | 'RAW' | 'R_MARKDOWN';
export type WorkspaceLanguage = 'PYTHON' | 'SQL' | 'SCALA' | 'R';

export interface ImportRequest {
  path: string;
  format: ImportFormat;
  language?: WorkspaceLanguage;
  /** Base64; the service refuses more than 10 MB (MAX_NOTEBOOK_SIZE_EXCEEDED). */
  content: string;
  overwrite?: boolean;
}

export interface ObjectInfo {
  path?: string;
  object_type?: 'DASHBOARD' | 'DIRECTORY' | 'FILE' | 'LIBRARY' | 'NOTEBOOK' | 'REPO';
  object_id?: number;
  language?: WorkspaceLanguage;
  size?: number;
}

/** SCIM 2.0 user as returned by /api/2.0/preview/scim/v2/Me. */
export interface ScimUser {
  id?: string;
  userName: string;
  displayName?: string;
  emails?: { value?: string; primary?: boolean }[];
}
