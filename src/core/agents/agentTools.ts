import type { AccessGate, Grant, Purpose } from '../access/AccessGate';
import type { AccessEventSink } from '../audit/AccessLog';
import type { BaseJob, Run, RunOutput } from '../databricks/types';
import { runStateText } from '../databricks/RunStateMapping';
import { errorMessage, UserFacingError } from '../errors';
import type { Environment } from '../policy/Environment';
import { explainAccess } from '../policy/explainAccess';
import { redact } from '../redact';
import { assertReadOnlyQuery } from '../spanner/QueryRunner';
import type { TokenSource } from '../http/AuthorizedClient';

/** The language model tools, as named in package.json `contributes.languageModelTools`. */
export const AGENT_TOOLS = ['mlspanner_listEnvironments', 'mlspanner_explainAccess', 'mlspanner_runQuery', 'mlspanner_listJobs', 'mlspanner_runJob', 'mlspanner_getRun', 'mlspanner_cancelRun'] as const;
export type AgentToolName = (typeof AGENT_TOOLS)[number];

interface ToolTraits {
  /** What the gate is asked for, when the tool uses a credential. */
  purpose?: Purpose;
  target?: string;
  /** Starts or stops work: the user approves every call. */
  mutates: boolean;
}

export const TOOL_TRAITS: Readonly<Record<AgentToolName, ToolTraits>> = {
  mlspanner_listEnvironments: { mutates: false },
  mlspanner_explainAccess: { mutates: false },
  mlspanner_runQuery: { purpose: 'query', target: 'google', mutates: false },
  mlspanner_listJobs: { purpose: 'job', target: 'databricks', mutates: false },
  mlspanner_runJob: { purpose: 'job', target: 'databricks', mutates: true },
  mlspanner_getRun: { purpose: 'job', target: 'databricks', mutates: false },
  mlspanner_cancelRun: { purpose: 'job', target: 'databricks', mutates: true },
};

/** `mlspanner.agents.*`. */
export interface AgentSettings {
  /** Environments agents may use; empty: every environment that does not ask for confirmation. */
  environments: readonly string[];
  /** Tools agents may call; empty: all of them. */
  tools: readonly string[];
  maxRows: number;
  maxBytes: number;
}

export const DEFAULT_AGENT_SETTINGS: AgentSettings = { environments: [], tools: [], maxRows: 50, maxBytes: 16_384 };

export type AgentVerdict = { kind: 'allowed' } | { kind: 'confirm'; reasonRequired: boolean; why: string } | { kind: 'denied'; reason: string };

/**
 * Agents' own policy, before the access gate: which tools they may call and in which
 * environments. Prod-like environments are closed to agents unless listed by name; there, as
 * for any call that starts or cancels work, the user approves each call (with a reason in prod).
 */
export function agentVerdict(tool: AgentToolName, env: Pick<Environment, 'name' | 'confirm'> | undefined, settings: AgentSettings): AgentVerdict {
  if (settings.tools.length && !settings.tools.includes(tool))
    return { kind: 'denied', reason: `The tool ${tool} is turned off for agents (setting mlspanner.agents.tools). Ask the user to enable it if they want you to use it.` };
  if (!env) return { kind: 'allowed' };
  const listed = settings.environments.includes(env.name);
  if (settings.environments.length && !listed)
    return { kind: 'denied', reason: `Agents may not use the environment "${env.name}" (setting mlspanner.agents.environments lists ${settings.environments.join(', ')}). Ask the user to add it, or to do this themselves.` };
  if (env.confirm && !listed)
    return { kind: 'denied', reason: `"${env.name}" is a production-like environment, closed to agents by default. The user can run this themselves, or add "${env.name}" to the setting mlspanner.agents.environments.` };
  if (env.confirm) return { kind: 'confirm', reasonRequired: true, why: `${env.name} is a production-like environment: the user confirms with a reason, which goes into the access log.` };
  if (TOOL_TRAITS[tool].mutates) return { kind: 'confirm', reasonRequired: false, why: 'This starts or stops work on Databricks.' };
  return { kind: 'allowed' };
}

/** Thrown for input the schema should have kept out; the model gets the message. */
export class ToolInputError extends Error {}

function str(input: Record<string, unknown>, key: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = input[key];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new ToolInputError(`"${key}" is required.`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ToolInputError(`"${key}" must be a string.`);
  if (opts.max && v.length > opts.max) throw new ToolInputError(`"${key}" is longer than ${opts.max} characters.`);
  return v;
}

function int(input: Record<string, unknown>, key: string, required = false): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) {
    if (required) throw new ToolInputError(`"${key}" is required.`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ToolInputError(`"${key}" must be a non-negative whole number.`);
  return v;
}

export interface ToolInput {
  environment?: string;
  sql?: string;
  params?: Record<string, string | number | boolean | null>;
  jobId?: number;
  runId?: number;
  parameters?: Record<string, string>;
  maxRows?: number;
}

/** Validates a tool's input against what the tool reads (the schema in package.json says the same). */
export function validateToolInput(tool: AgentToolName, raw: unknown): ToolInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ToolInputError('The input must be an object.');
  const input = raw as Record<string, unknown>;
  const out: ToolInput = {};
  const needsEnv = tool !== 'mlspanner_listEnvironments';
  out.environment = str(input, 'environment', { required: needsEnv, max: 63 });
  if (tool === 'mlspanner_runQuery') {
    out.sql = str(input, 'sql', { required: true, max: 20_000 });
    try {
      assertReadOnlyQuery(out.sql!);
    } catch (e) {
      throw new ToolInputError(errorMessage(e));
    }
    const p = input.params;
    if (p !== undefined) {
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new ToolInputError('"params" must be an object of named parameters (@name → value).');
      const params: Record<string, string | number | boolean | null> = {};
      for (const k of Object.keys(p)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(k)) throw new ToolInputError(`Parameter name "${k}" is not valid (letters, digits, _).`);
        const v = (p as Record<string, unknown>)[k];
        if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw new ToolInputError(`Parameter "${k}" must be a string, number, boolean or null.`);
        params[k] = v as string | number | boolean | null;
      }
      out.params = params;
    }
    out.maxRows = int(input, 'maxRows');
  }
  if (tool === 'mlspanner_runJob') {
    out.jobId = int(input, 'jobId', true);
    const p = input.parameters;
    if (p !== undefined) {
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new ToolInputError('"parameters" must be an object of job parameter names to string values.');
      out.parameters = {};
      for (const k of Object.keys(p)) {
        const v = (p as Record<string, unknown>)[k];
        if (typeof v !== 'string') throw new ToolInputError(`Job parameter "${k}" must be a string.`);
        out.parameters[k] = v;
      }
    }
  }
  if (tool === 'mlspanner_getRun' || tool === 'mlspanner_cancelRun') out.runId = int(input, 'runId', true);
  return out;
}

/** Named parameters in Spanner's JSON encoding: numbers as INT64 strings or FLOAT64, strings, booleans. */
export function spannerParams(params: Record<string, string | number | boolean | null> | undefined): { params?: Record<string, unknown>; paramTypes?: Record<string, { code: string }> } {
  if (!params || !Object.keys(params).length) return {};
  const values: Record<string, unknown> = {};
  const types: Record<string, { code: string }> = {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === 'number' && Number.isInteger(v)) {
      values[k] = String(v);
      types[k] = { code: 'INT64' };
    } else if (typeof v === 'number') {
      values[k] = v;
      types[k] = { code: 'FLOAT64' };
    } else if (typeof v === 'boolean') {
      values[k] = v;
      types[k] = { code: 'BOOL' };
    } else {
      values[k] = v;
      types[k] = { code: 'STRING' };
    }
  }
  return { params: values, paramTypes: types };
}

function cell(v: unknown): string {
  const text = v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|');
}

/**
 * A compact pipe table for a model, at most `maxRows` rows and `maxBytes` bytes, saying what was
 * left out. Values are redacted (a token stored in a table does not reach the model).
 */
export function shapeTable(columns: readonly string[], rows: readonly unknown[][], maxRows: number, maxBytes: number): string {
  const head = `| ${columns.map(cell).join(' | ')} |\n|${columns.map(() => ' --- |').join('')}`;
  const lines: string[] = [head];
  let bytes = Buffer.byteLength(head);
  let shown = 0;
  for (const row of rows) {
    if (shown >= maxRows) break;
    const line = `| ${row.map(cell).join(' | ')} |`;
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > maxBytes) break;
    lines.push(line);
    bytes += size;
    shown++;
  }
  const note = shown < rows.length ? `\n\nShowing ${shown} of ${rows.length} rows (limit: ${maxRows} rows, ${maxBytes} bytes; setting mlspanner.agents.maxRows / maxBytes).` : `\n\n${rows.length} row${rows.length === 1 ? '' : 's'}.`;
  return redact(lines.join('\n') + note);
}

/** What the tools need from the rest of the extension: the gate, and clients made for a grant. */
export interface AgentToolDeps {
  gate: Pick<AccessGate, 'evaluate' | 'request' | 'confirm' | 'environment' | 'targets' | 'tokenSource'>;
  environments: () => readonly Environment[];
  session: () => { name: string; subject: string; issuer: string; groups: string[] } | undefined;
  settings: () => AgentSettings;
  sink: AccessEventSink;
  /** Asks the user for a reason (prod-like environments); undefined when they decline. */
  askReason: (environment: string, tool: AgentToolName, action: string) => Promise<string | undefined>;
  runQuery: (req: { environment: string; env: Environment; sql: string; tokens: TokenSource; params?: Record<string, unknown>; paramTypes?: Record<string, { code: string }> }) => Promise<{ columns: string[]; rows: unknown[][] }>;
  databricks: (grant: Grant) => {
    listAllJobs(): Promise<BaseJob[]>;
    runNow(req: { job_id: number; job_parameters?: Record<string, string>; idempotency_token?: string }): Promise<{ run_id?: number }>;
    getRun(runId: number): Promise<Run>;
    getRunOutput(taskRunId: number): Promise<RunOutput>;
    cancelRun(runId: number): Promise<void>;
  };
}

/** The answer to a tool call: text for the model, and whether it was a refusal. */
export interface ToolAnswer {
  text: string;
  outcome: 'success' | 'denied' | 'failure' | 'cancelled';
}

/**
 * Runs the agent tools as the signed-in user, through agents' policy and then the access gate,
 * and records each call as done by an agent on behalf of the user. Never returns a token:
 * every answer is redacted.
 */
export class AgentToolService {
  constructor(private readonly deps: AgentToolDeps) {}

  /** What will happen where, for the invocation message; and whether the user must approve. */
  prepare(tool: AgentToolName, raw: unknown): { message: string; confirm?: { title: string; message: string } } {
    let input: ToolInput;
    try {
      input = validateToolInput(tool, raw);
    } catch {
      return { message: `Checking the input of ${tool}` };
    }
    const where = input.environment ? ` in ${input.environment}` : '';
    const message =
      tool === 'mlspanner_listEnvironments'
        ? 'Listing your ML Spanner environments'
        : tool === 'mlspanner_explainAccess'
          ? `Explaining your access to ${input.environment}`
          : tool === 'mlspanner_runQuery'
            ? `Running a read-only ML Spanner query${where}`
            : tool === 'mlspanner_listJobs'
              ? `Listing Databricks jobs${where}`
              : tool === 'mlspanner_runJob'
                ? `Starting Databricks job ${input.jobId}${where}`
                : tool === 'mlspanner_getRun'
                  ? `Reading Databricks run ${input.runId}${where}`
                  : `Cancelling Databricks run ${input.runId}${where}`;
    const env = input.environment ? this.deps.gate.environment(input.environment) : undefined;
    const v = agentVerdict(tool, env, this.deps.settings());
    if (v.kind !== 'confirm') return { message };
    const detail = tool === 'mlspanner_runQuery' ? `\n\n\`\`\`sql\n${input.sql}\n\`\`\`` : tool === 'mlspanner_runJob' && input.parameters ? `\n\nParameters: ${JSON.stringify(input.parameters)}` : '';
    return { message, confirm: { title: `${message}?`, message: `An agent asks to act as you: ${message.charAt(0).toLowerCase()}${message.slice(1)}. ${v.why}${detail}` } };
  }

  async invoke(tool: AgentToolName, raw: unknown): Promise<ToolAnswer> {
    let input: ToolInput;
    try {
      input = validateToolInput(tool, raw);
    } catch (e) {
      return this.finish(tool, undefined, { text: `Invalid input: ${errorMessage(e)}`, outcome: 'failure' });
    }
    const environment = input.environment;
    try {
      if (tool === 'mlspanner_listEnvironments') return this.finish(tool, undefined, { text: this.listEnvironments(), outcome: 'success' });
      const env = this.deps.gate.environment(environment!);
      if (!env) {
        const d = this.deps.gate.evaluate({ environment: environment!, purpose: 'explain' });
        return this.finish(tool, environment, { text: d.kind === 'denied' ? d.reason : `Unknown environment "${environment}".`, outcome: 'denied' });
      }
      const verdict = agentVerdict(tool, env, this.deps.settings());
      if (verdict.kind === 'denied') return this.finish(tool, environment, { text: verdict.reason, outcome: 'denied' });
      if (tool === 'mlspanner_explainAccess') {
        const d = this.deps.gate.evaluate({ environment: env.name, purpose: 'explain' });
        return this.finish(tool, environment, { text: explainAccess(env, this.deps.session(), d.kind === 'denied' ? d.decision! : d.decision, this.deps.gate.targets), outcome: 'success' });
      }
      const traits = TOOL_TRAITS[tool];
      const req = { environment: env.name, purpose: traits.purpose!, targets: [traits.target!], via: 'agent' as const, tool, action: this.prepare(tool, raw).message };
      const d = this.deps.gate.request(req);
      if (d.kind === 'denied') return this.finish(tool, environment, { text: `Denied: ${d.reason} Tell the user what access is missing; they can run Explain Access for details.`, outcome: 'denied' });
      let grant: Grant;
      if (d.kind === 'confirm') {
        const reason = await this.deps.askReason(env.name, tool, req.action);
        if (!reason) return this.finish(tool, environment, { text: 'The user declined, or gave no reason. Do not retry without asking them.', outcome: 'cancelled' });
        grant = this.deps.gate.confirm(req, reason);
      } else grant = d.grant;
      const text = await this.perform(tool, input, env, grant);
      return this.finish(tool, environment, { text, outcome: 'success' });
    } catch (e) {
      const denied = e instanceof UserFacingError && (e.kind === 'denied' || e.kind === 'auth');
      return this.finish(tool, environment, { text: `${denied ? 'Denied' : 'Failed'}: ${errorMessage(e)}`, outcome: denied ? 'denied' : 'failure' });
    }
  }

  private listEnvironments(): string {
    const s = this.deps.session();
    if (!s) return 'The user is not signed in to ML Spanner Access: ask them to sign in from the ML Spanner sidebar.';
    const settings = this.deps.settings();
    const rows = this.deps.environments().map((env) => {
      const d = this.deps.gate.evaluate({ environment: env.name, purpose: 'explain' });
      const agent = agentVerdict('mlspanner_runQuery', env, settings);
      const targets = this.deps.gate.targets
        .all()
        .filter((t) => env.sections[t.section])
        .map((t) => t.id)
        .join(', ');
      return [env.name, d.kind === 'denied' ? 'denied' : env.confirm ? 'granted (asks for a reason)' : 'granted', agent.kind === 'denied' ? 'no' : agent.kind === 'confirm' ? 'with approval' : 'yes', targets || 'none', env.maxTtlSeconds];
    });
    return `Signed in as ${s.name}; groups: ${s.groups.join(', ') || 'none'}.\n\n` + shapeTable(['environment', 'user access', 'agents may use', 'credentials', 'max lifetime (s)'], rows, 200, settings.maxBytes);
  }

  private async perform(tool: AgentToolName, input: ToolInput, env: Environment, grant: Grant): Promise<string> {
    const settings = this.deps.settings();
    switch (tool) {
      case 'mlspanner_runQuery': {
        const r = await this.deps.runQuery({ environment: env.name, env, sql: input.sql!, tokens: this.deps.gate.tokenSource(grant, 'google'), ...spannerParams(input.params) });
        return shapeTable(r.columns, r.rows, Math.min(input.maxRows ?? settings.maxRows, settings.maxRows), settings.maxBytes);
      }
      case 'mlspanner_listJobs': {
        const jobs = await this.deps.databricks(grant).listAllJobs();
        return shapeTable(
          ['job_id', 'name', 'parameters'],
          jobs.map((j) => [j.job_id, j.settings?.name ?? '', (j.settings?.parameters ?? []).map((p) => `${p.name}=${p.default}`).join(', ')]),
          settings.maxRows,
          settings.maxBytes,
        );
      }
      case 'mlspanner_runJob': {
        const r = await this.deps.databricks(grant).runNow({ job_id: input.jobId!, job_parameters: input.parameters });
        this.deps.sink.record({ type: 'jobStarted', outcome: 'success', environment: env.name, target: `job:${input.jobId}`, runId: r.run_id, via: 'agent', tool, reason: grant.reason });
        return `Started job ${input.jobId} in ${env.name}: run ${r.run_id}. Use mlspanner_getRun with runId ${r.run_id} to follow it.`;
      }
      case 'mlspanner_getRun': {
        const client = this.deps.databricks(grant);
        const run = await client.getRun(input.runId!);
        const lines = [`Run ${run.run_id} (${run.run_name ?? `job ${run.job_id}`}) in ${env.name}: ${runStateText(run.state)}.`];
        if (run.run_page_url) lines.push(`Run page: ${run.run_page_url}`);
        for (const t of (run.tasks ?? []).slice(0, 5)) {
          if (!t.run_id || !run.end_time) continue;
          const out = await client.getRunOutput(t.run_id).catch(() => undefined);
          const text = out?.notebook_output?.result ?? out?.error ?? out?.logs;
          if (text) lines.push(`Task ${t.task_key}: ${String(text).slice(0, 2000)}`);
        }
        return redact(lines.join('\n'));
      }
      case 'mlspanner_cancelRun': {
        await this.deps.databricks(grant).cancelRun(input.runId!);
        this.deps.sink.record({ type: 'jobCancelled', outcome: 'cancelled', environment: env.name, target: `run:${input.runId}`, runId: input.runId, via: 'agent', tool, reason: grant.reason });
        return `Asked Databricks to cancel run ${input.runId} in ${env.name}. Use mlspanner_getRun to see when it has stopped.`;
      }
      default:
        throw new UserFacingError('config', `Unknown tool ${tool}.`);
    }
  }

  private finish(tool: AgentToolName, environment: string | undefined, answer: ToolAnswer): ToolAnswer {
    this.deps.sink.record({ type: 'agentToolInvoked', outcome: answer.outcome, environment, target: tool, via: 'agent', tool, detail: answer.outcome === 'success' ? undefined : answer.text.slice(0, 300) });
    return { ...answer, text: redact(answer.text) };
  }
}
