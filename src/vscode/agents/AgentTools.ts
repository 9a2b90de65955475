import * as vscode from 'vscode';
import type { AccessGate } from '../../core/access/AccessGate';
import { AGENT_TOOLS, AgentToolService, DEFAULT_AGENT_SETTINGS, type AgentSettings, type AgentToolName } from '../../core/agents/agentTools';
import type { AccessEventSink } from '../../core/audit/AccessLog';
import type { SessionManager } from '../../core/auth/SessionManager';
import { DatabricksClient } from '../../core/databricks/DatabricksClient';
import { DEFAULT_ENDPOINTS } from '../../core/policy/Environment';
import { QueryRunner } from '../../core/spanner/QueryRunner';
import { Disposables } from '../common/Disposables';
import type { EnvironmentsService } from '../environments/EnvironmentsService';

function agentSettings(): AgentSettings {
  const c = vscode.workspace.getConfiguration('mlspanner.agents');
  const list = (k: string) => (c.get<unknown>(k, []) as unknown[]).filter((x): x is string => typeof x === 'string');
  const num = (k: string, d: number, max: number) => {
    const n = Number(c.get<number>(k, d));
    return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), max) : d;
  };
  return {
    environments: list('environments'),
    tools: list('tools'),
    maxRows: num('maxRows', DEFAULT_AGENT_SETTINGS.maxRows, 1000),
    maxBytes: num('maxBytes', DEFAULT_AGENT_SETTINGS.maxBytes, 262_144),
  };
}

/**
 * The language model tools (`mlspanner_*`): agents act as the signed-in user, within agents'
 * policy (mlspanner.agents.*) and the access gate. VS Code asks the user to approve calls that
 * start or cancel work; in a prod-like environment the extension also asks for a reason.
 */
export class AgentTools extends Disposables {
  private readonly service: AgentToolService;
  private readonly queries: QueryRunner;

  constructor(gate: AccessGate, environments: Pick<EnvironmentsService, 'resolution'>, sessions: SessionManager, sink: AccessEventSink) {
    super();
    this.queries = new QueryRunner({ sink });
    this.register({ dispose: () => void this.queries.dispose() });
    this.service = new AgentToolService({
      gate,
      environments: () => Object.values(environments.resolution().environments),
      session: () => sessions.current(),
      settings: agentSettings,
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
        const r = await this.queries.run({ environment, spanner: { ...env.spanner!, endpoint: env.spanner?.endpoint ?? DEFAULT_ENDPOINTS.spanner }, sql, getToken: tokens, params, paramTypes: paramTypes as never, maxRows: 1 });
        return { columns: r.columns.map((c) => c.name), rows: r.rows as unknown[][] };
      },
      databricks: (grant) => new DatabricksClient(gate.environment(grant.environment)!.databricks!.host, gate.tokenSource(grant, 'databricks')),
    });
    if (!vscode.lm?.registerTool) return; // a host without the tool API
    for (const name of AGENT_TOOLS) this.register(vscode.lm.registerTool(name, this.tool(name)));
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
