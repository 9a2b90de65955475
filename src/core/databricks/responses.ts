import { bool, int, json, list, name, num, obj, opt, orElse, str, stringRecord, type Shape } from '../http/shape';
import { isLoopbackHost } from '../policy/endpointUrl';
import type {
  BaseJob,
  Job,
  JobParameter,
  JobSettings,
  ListJobsResponse,
  ListRunsResponse,
  NotebookTask,
  ObjectInfo,
  Run,
  RunNowResponse,
  RunOutput,
  RunState,
  RunStatus,
  RunTask,
  ScimUser,
  SubmitRunResponse,
} from './types';

/**
 * The shapes of the Jobs 2.2 / Workspace 2.0 answers this extension reads (field names from
 * databricks-sdk-py-jobs-workspace-fields.json). Only fields it uses are kept; a field of the
 * wrong type is a 'protocol' error naming it (see http/shape.ts).
 */

const notebookTask: Shape<NotebookTask> = obj<NotebookTask>({
  notebook_path: str,
  base_parameters: opt(stringRecord),
  source: opt(name<'WORKSPACE' | 'GIT'>()),
  warehouse_id: opt(str),
});

const runState: Shape<RunState> = obj<RunState>({
  life_cycle_state: opt(name<NonNullable<RunState['life_cycle_state']>>()),
  result_state: opt(name<NonNullable<RunState['result_state']>>()),
  state_message: opt(str),
  user_cancelled_or_timedout: opt(bool),
  queue_reason: opt(str),
});

const details = obj<{ code?: string; type?: string; message?: string }>({ code: opt(str), type: opt(str), message: opt(str) });

const runStatus: Shape<RunStatus> = obj<RunStatus>({
  state: opt(name<NonNullable<RunStatus['state']>>()),
  termination_details: opt(details),
  queue_details: opt(obj<{ code?: string; message?: string }>({ code: opt(str), message: opt(str) })),
});

const runTask: Shape<RunTask> = obj<RunTask>({
  task_key: orElse(str, ''),
  run_id: opt(int),
  state: opt(runState),
  status: opt(runStatus),
  start_time: opt(num),
  end_time: opt(num),
  run_page_url: opt(str),
  notebook_task: opt(notebookTask),
  existing_cluster_id: opt(str),
});

const jobParameter: Shape<JobParameter> = obj<JobParameter>({ name: opt(str), value: opt(str), default: opt(str) });

export const runShape: Shape<Run> = obj<Run>({
  run_id: opt(int),
  job_id: opt(int),
  number_in_job: opt(int),
  run_name: opt(str),
  run_page_url: opt(str),
  run_type: opt(name<NonNullable<Run['run_type']>>()),
  creator_user_name: opt(str),
  start_time: opt(num),
  end_time: opt(num),
  run_duration: opt(num),
  queue_duration: opt(num),
  setup_duration: opt(num),
  execution_duration: opt(num),
  cleanup_duration: opt(num),
  state: opt(runState),
  status: opt(runStatus),
  tasks: opt(list(runTask)),
  job_parameters: opt(list(jobParameter)),
});

const jobSettings: Shape<JobSettings> = obj<JobSettings>({
  name: opt(str),
  description: opt(str),
  tags: opt(stringRecord),
  parameters: opt(list(obj<{ name: string; default: string }>({ name: str, default: orElse(str, '') }))),
  tasks: opt(list(obj<NonNullable<JobSettings['tasks']>[number]>({ task_key: orElse(str, ''), description: opt(str), notebook_task: opt(notebookTask) }))),
  max_concurrent_runs: opt(num),
  timeout_seconds: opt(num),
});

const baseJob: Shape<BaseJob> = obj<BaseJob>({ job_id: opt(int), creator_user_name: opt(str), created_time: opt(num), settings: opt(jobSettings) });

export const jobShape: Shape<Job> = obj<Job>({ job_id: opt(int), creator_user_name: opt(str), created_time: opt(num), settings: opt(jobSettings), run_as_user_name: opt(str) });

export const listJobsShape: Shape<ListJobsResponse> = obj<ListJobsResponse>({
  jobs: opt(list(baseJob)),
  has_more: opt(bool),
  next_page_token: opt(str),
  prev_page_token: opt(str),
});

export const listRunsShape: Shape<ListRunsResponse> = obj<ListRunsResponse>({
  runs: opt(list(runShape)),
  has_more: opt(bool),
  next_page_token: opt(str),
  prev_page_token: opt(str),
});

export const runNowShape: Shape<RunNowResponse> = obj<RunNowResponse>({ run_id: opt(int), number_in_job: opt(int) });

export const submitRunShape: Shape<SubmitRunResponse> = obj<SubmitRunResponse>({ run_id: opt(int) });

export const runOutputShape: Shape<RunOutput> = obj<RunOutput>({
  notebook_output: opt(obj<NonNullable<RunOutput['notebook_output']>>({ result: opt(str), truncated: opt(bool) })),
  error: opt(str),
  error_trace: opt(str),
  logs: opt(str),
  logs_truncated: opt(bool),
  metadata: opt(runShape),
});

export const objectInfoShape: Shape<ObjectInfo> = obj<ObjectInfo>({
  path: opt(str),
  object_type: opt(name<NonNullable<ObjectInfo['object_type']>>()),
  object_id: opt(num),
  language: opt(name<NonNullable<ObjectInfo['language']>>()),
  size: opt(num),
});

export const scimUserShape: Shape<ScimUser> = obj<ScimUser>({
  id: opt(str),
  // Required by SCIM; an empty one is reported by the caller with what it needed it for.
  userName: orElse(str, ''),
  displayName: opt(str),
  emails: opt(list(obj<NonNullable<ScimUser['emails']>[number]>({ value: opt(str), primary: opt(bool) }))),
});

/** Bodies of calls whose answer is not read (cancel, mkdirs, import): anything goes. */
export const ignoredShape: Shape<unknown> = json;

/**
 * A run page link from the service, or undefined when it is not safe to open: only https (or
 * http to a loopback workspace) on the workspace's own origin. The link is later given to the
 * OS to open, so `javascript:`, `file:`, `command:` or another host must never pass.
 */
export function safeRunPageUrl(value: string | undefined, workspaceOrigin: string): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  let u: URL;
  let home: URL;
  try {
    u = new URL(value);
    home = new URL(workspaceOrigin);
  } catch {
    return undefined;
  }
  const schemeOk = u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  if (!schemeOk || u.origin !== home.origin || u.username || u.password) return undefined;
  return u.href;
}

/** The run with every run_page_url (its own and its tasks') checked by safeRunPageUrl. */
export function withSafeRunPageUrls(run: Run, workspaceOrigin: string): Run {
  const out: Run = { ...run };
  const url = safeRunPageUrl(run.run_page_url, workspaceOrigin);
  if (url) out.run_page_url = url;
  else delete out.run_page_url;
  if (run.tasks)
    out.tasks = run.tasks.map((t) => {
      const task: RunTask = { ...t };
      const taskUrl = safeRunPageUrl(t.run_page_url, workspaceOrigin);
      if (taskUrl) task.run_page_url = taskUrl;
      else delete task.run_page_url;
      return task;
    });
  return out;
}
