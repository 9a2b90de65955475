import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AccessGate } from '../../src/core/access/AccessGate';
import { AgentToolService, DEFAULT_AGENT_SETTINGS } from '../../src/core/agents/agentTools';
import type { AccessEventInput } from '../../src/core/audit/AccessLog';
import type { IdentitySession } from '../../src/core/auth/IdentitySession';
import type { SessionManager } from '../../src/core/auth/SessionManager';
import { resolveEnvironments } from '../../src/core/policy/resolveEnvironments';
import type * as AgentToolsShell from '../../src/vscode/agents/AgentTools';

interface Tool {
  prepareInvocation(options: { input: unknown }): { invocationMessage: string; confirmationMessages?: unknown };
  invoke(options: { input: unknown }): Promise<{ content: { value: string }[] }>;
}

/**
 * The tools are registered at activation by stand-ins; the tool service behind them is created
 * on the first call (src/vscode/agents/AgentTools.ts). The fake vscode has no `lm` API: it is
 * added here before the shell module loads (its namespace import copies the fake's members).
 */
describe('agent tools registered at activation, the service created on first use', () => {
  const registered = new Map<string, Tool>();
  const names = (JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { contributes: { languageModelTools: { name: string }[] } }).contributes.languageModelTools.map((t) => t.name);
  let AgentTools: typeof AgentToolsShell.AgentTools;

  const added: string[] = [];
  before(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fake = require('vscode') as Record<string, unknown>;
    added.push(...['lm', 'LanguageModelToolResult', 'LanguageModelTextPart'].filter((k) => !(k in fake)));
    fake.lm ??= { registerTool: (name: string, tool: Tool) => (registered.set(name, tool), { dispose: () => registered.delete(name) }) };
    fake.LanguageModelToolResult ??= class {
      constructor(readonly content: unknown[]) {}
    };
    fake.LanguageModelTextPart ??= class {
      constructor(readonly value: string) {}
    };
    // The modules that call the tool API load afresh, so that they see the `lm` added above.
    for (const m of ['../../src/vscode/common/StandIns', '../../src/vscode/agents/AgentTools']) delete require.cache[require.resolve(m)];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    AgentTools = (require('../../src/vscode/agents/AgentTools') as typeof AgentToolsShell).AgentTools;
  });
  after(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fake = require('vscode') as Record<string, unknown>;
    for (const k of added) delete fake[k];
  });

  const session: IdentitySession = {
    issuer: 'https://idp.example.com',
    subject: 'bob',
    name: 'Bob',
    groups: ['ml-dev'],
    claims: {},
    idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IiLCJleHAiOjF9.c2lnbmF0dXJlc2lnbmF0dXJl',
    idTokenExpiresAt: Date.now() + 3600_000,
    accessToken: 'opaque-access-token-value',
    accessTokenExpiresAt: Date.now() + 3600_000,
    scopes: [],
  };
  const resolution = resolveEnvironments({ dev: { requiredGroups: ['ml-dev'], databricks: { host: 'https://dev.example.com' } }, prod: { requiredGroups: ['ml-prod'], databricks: { host: 'https://prod.example.com' } } });

  function setup() {
    const events: AccessEventInput[] = [];
    const sink = { record: (e: AccessEventInput) => void events.push(e) };
    const gate = new AccessGate({ identity: { current: () => session, fresh: async () => session }, environments: () => resolution, sink, http: () => assert.fail('no exchange in these tests') });
    const sessions = { current: () => session } as unknown as SessionManager;
    return { gate, sink, sessions, events };
  }

  it('registers one stand-in per tool of package.json and forwards prepareInvocation and invoke to the tool service', async () => {
    const { gate, sink, sessions, events } = setup();
    const tools = new AgentTools(gate, { resolution: () => resolution }, sessions, sink, names);
    try {
      assert.deepEqual([...registered.keys()].sort(), [...names].sort());
      assert.equal(names.length, 7);
      const direct = new AgentToolService({
        gate,
        environments: () => Object.values(resolution.environments),
        session: () => session,
        settings: () => DEFAULT_AGENT_SETTINGS,
        sink,
        askReason: async () => assert.fail('no reason is asked for listing environments'),
        runQuery: async () => assert.fail('no query'),
        databricks: () => assert.fail('no Databricks call'),
      });
      const input = {};
      const prepared = registered.get('mlspanner_listEnvironments')!.prepareInvocation({ input });
      assert.equal(prepared.invocationMessage, direct.prepare('mlspanner_listEnvironments', input).message);
      const answer = await registered.get('mlspanner_listEnvironments')!.invoke({ input });
      const expected = (await direct.invoke('mlspanner_listEnvironments', input)).text;
      assert.equal(answer.content[0].value, expected);
      assert.match(expected, /dev/);
      assert.ok(events.length > 0, 'the calls are logged as before');
      // A denied call is answered by the service behind the stand-in too.
      const denied = await registered.get('mlspanner_explainAccess')!.invoke({ input: { environment: 'prod' } });
      assert.equal(denied.content[0].value, (await direct.invoke('mlspanner_explainAccess', { environment: 'prod' })).text);
    } finally {
      tools.dispose();
    }
    assert.equal(registered.size, 0, 'disposing unregisters every tool');
  });

  it('disposing before any call unregisters the tools without creating the service', () => {
    const { gate, sink, sessions } = setup();
    const tools = new AgentTools(gate, { resolution: () => resolution }, sessions, sink, names);
    assert.equal(registered.size, names.length);
    tools.dispose();
    assert.equal(registered.size, 0);
    assert.equal((tools as unknown as { loaded?: unknown }).loaded, undefined);
  });
});
