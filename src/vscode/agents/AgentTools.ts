import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import type * as AgentToolsModule from '../../core/agents/agentTools';
import type { AgentSettings, AgentToolName, AgentToolService } from '../../core/agents/agentTools';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import type { SessionManager } from '../../core/auth/SessionManager';
import { DatabricksClient } from '../../core/databricks/DatabricksClient';
import { DEFAULT_ENDPOINTS } from '../../core/policy/Environment';
import type * as QueryRunnerModule from '../../core/spanner/QueryRunner';
import type { QueryRunner } from '../../core/spanner/QueryRunner';
import { Disposables } from '../common/Disposables';
import { StandIns } from '../common/StandIns';
import type { EnvironmentsService } from '../environments/EnvironmentsService';

function agentSettings(defaults: AgentSettings): AgentSettings {
  const c = vscode.workspace.getConfiguration('mlspanner.agents');
  const list = (k: string) => (c.get<unknown>(k, []) as unknown[]).filter((x): x is string => typeof x === 'string');
  const num = (k: string, d: number, max: number) => {
    const n = Number(c.get<number>(k, d));
    return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), max) : d;
  };
  return {
    environments: list('environments'),
    tools: list('tools'),
    maxRows: num('maxRows', defaults.maxRows, 1000),
    maxBytes: num('maxBytes', defaults.maxBytes, 262_144),
  };
}

/**
 * The language model tools (`mlspanner_*`): agents act as the signed-in user, within agents'
 * policy (mlspanner.agents.*) and the access gate. VS Code asks the user to approve calls that
 * start or cancel work; in a prod-like environment the extension also asks for a reason.
 *
 * The tools named in package.json are registered at activation; the tool service and the query
 * runner behind them (dist/features.js) are required and created the first time an agent
 * prepares or invokes one.
 */
export class AgentTools extends Disposables {
  private loaded?: { service: AgentToolService; queries: QueryRunner };

  constructor(
    private readonly gate: AccessGate,
    private readonly environments: Pick<EnvironmentsService, 'resolution'>,
    private readonly sessions: SessionManager,
    private readonly sink: AccessEventSink,
    /** The tool names of package.json `contributes.languageModelTools` (AGENT_TOOLS; a unit test keeps them equal). */
    toolNames: readonly string[],
  ) {
    super();
    this.register({ dispose: () => void this.loaded?.queries.dispose() });
    if (!vscode.lm?.registerTool) return; // a host without the tool API
    for (const name of toolNames) this.register(StandIns.registerTool(name, this.tool(name as AgentToolName)));
  }

  /** The tool service, created on first use. */
  private get service(): AgentToolService {
    return (this.loaded ??= this.create()).service;
  }

  private create(): { service: AgentToolService; queries: QueryRunner } {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { AgentToolService, DEFAULT_AGENT_SETTINGS } = require('../../core/agents/agentTools') as typeof AgentToolsModule;
    const { QueryRunner } = require('../../core/spanner/QueryRunner') as typeof QueryRunnerModule;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const { gate, environments, sessions, sink } = this;
    const queries = new QueryRunner({ sink });
    const service = new AgentToolService({
      gate,
      environments: () => Object.values(environments.resolution().environments),
      session: () => sessions.current(),
      settings: () => agentSettings(DEFAULT_AGENT_SETTINGS),
      sink,
      askReason: (environment, tool, action) =>
        Promise.resolve(
          vscode.window.showInputBox({
            title: `An agent asks to act in ${environment}: ${action}`,
            prompt: `${tool} wants your ${environment} credentials. Give a reason for the access log (e.g. a ticket), or press Escape to refuse.`,
            ignoreFocusOut: true,
            validateInput: (t) => (t.trim().length < 3 ? 'Please give a reason (at least 3 characters), or press Escape to refuse.' : undefined),
          }),
        ).then((r) => r?.trim() || undefined),
      runQuery: async ({ environment, env, sql, tokens, params, paramTypes }) => {
        const r = await queries.run({ environment, spanner: { ...env.spanner!, endpoint: env.spanner?.endpoint ?? DEFAULT_ENDPOINTS.spanner }, sql, getToken: tokens, params, paramTypes: paramTypes as never, maxRows: 1 });
        return { columns: r.columns.map((c) => c.name), rows: r.rows as unknown[][] };
      },
      databricks: (grant) => new DatabricksClient(gate.environment(grant.environment)!.databricks!.host, gate.tokenSource(grant, 'databricks')),
    });
    return { service, queries };
  }

  private tool(name: AgentToolName): vscode.LanguageModelTool<unknown> {
    return {
      prepareInvocation: (options) => {
        const p = this.service.prepare(name, options.input);
        return {
          invocationMessage: p.message,
          confirmationMessages: p.confirm ? { title: p.confirm.title, message: new vscode.MarkdownString(p.confirm.message) } : undefined,
        };
      },
      invoke: async (options) => {
        const answer = await this.service.invoke(name, options.input);
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(answer.text)]);
      },
    };
  }
}
