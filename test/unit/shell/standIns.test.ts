import { strict as assert } from 'node:assert';
import type * as vscode from 'vscode';
import { AUTH_PROVIDER, StandIns, VIEWS } from '../../../src/vscode/common/StandIns';
import { ui } from '../fakes/vscode';

type Provider = vscode.TreeDataProvider<string>;

/**
 * Activation registers stand-ins (src/vscode/extension.ts); the services built later attach to
 * them through StandIns' static functions, and every call reaches the service behind.
 */
describe('shell: stand-ins registered at activation, services attached on first use', () => {
  let loads = 0;
  let standIns: StandIns | undefined;
  let attach: () => void = () => undefined;
  beforeEach(() => {
    ui.reset();
    loads = 0;
    attach = () => undefined;
  });
  afterEach(() => standIns?.dispose());
  const start = (commands: string[]) => {
    standIns = new StandIns({ commands, tools: [] }, () => {
      loads++;
      if (loads === 1) attach();
    });
    return standIns;
  };

  it('a command runs its service handler, built on the first call; an undeclared command registers as usual', async () => {
    start(['mlspanner.a']);
    assert.deepEqual([...ui.commands.keys()], ['mlspanner.a']);
    attach = () => {
      StandIns.commands.registerCommand('mlspanner.a', (x: unknown) => `a:${String(x)}`);
      StandIns.commands.registerCommand('mlspanner.internal', () => 'internal');
    };
    assert.equal(await ui.commands.get('mlspanner.a')!(1), 'a:1');
    assert.equal(await ui.commands.get('mlspanner.a')!(2), 'a:2');
    assert.equal(loads, 2, 'each call asks; the loader builds once');
    assert.equal(await ui.commands.get('mlspanner.internal')!(), 'internal');
  });

  it('a command whose service never registered says so instead of doing nothing', () => {
    start(['mlspanner.a']);
    assert.throws(() => ui.commands.get('mlspanner.a')!(), /mlspanner\.a is not available/);
  });

  it('a view opened before the services exist builds them and shows their rows; their changes reach VS Code', () => {
    start([]);
    const created = ui.calls.filter((c) => c.method === 'createTreeView').map((c) => c.args[0]);
    assert.deepEqual(created, Object.keys(VIEWS));
    const options = ui.calls.find((c) => c.args[0] === 'mlspanner.environments')!.args[1] as vscode.TreeViewOptions<string> & { showCollapseAll?: boolean };
    assert.equal(options.showCollapseAll, true);
    const data = options.treeDataProvider;
    const fired: unknown[] = [];
    data.onDidChangeTreeData!((e) => void fired.push(e));
    let change: ((e: string | undefined) => void) | undefined;
    let view: vscode.TreeView<string> | undefined;
    attach = () => {
      const provider: Provider = {
        onDidChangeTreeData: (l) => ((change = l as never), { dispose: () => (change = undefined) }),
        getChildren: (e) => (e ? [`${e}/child`] : ['root']),
        getTreeItem: (e) => ({ label: e.toUpperCase() }),
      };
      view = StandIns.createTreeView('mlspanner.environments', { treeDataProvider: provider });
    };
    assert.deepEqual(data.getChildren(), ['root']);
    assert.deepEqual(data.getChildren('root'), ['root/child']);
    assert.deepEqual(data.getTreeItem('root'), { label: 'ROOT' });
    // The service's view is the host's view: what it sets shows there.
    view!.message = 'Signing in…';
    const hostView = (standIns as unknown as { views: Map<string, { view: vscode.TreeView<string> }> }).views.get('mlspanner.environments')!.view;
    assert.equal(hostView.message, 'Signing in…');
    assert.equal(view!.visible, hostView.visible);
    change!('root');
    assert.deepEqual(fired, [undefined, 'root'], "a full refresh on attach, then the service's own");
    // Disposing the service detaches it; the host's view stays for the stand-in.
    view!.dispose();
    assert.equal(change, undefined);
    assert.deepEqual(data.getChildren(), []);
  });

  it('the authentication provider answers through the sign-in service', async () => {
    start([]);
    const registered = ui.authProviders.get(AUTH_PROVIDER.id) as vscode.AuthenticationProvider;
    attach = () =>
      void StandIns.registerAuthenticationProvider({
        onDidChangeSessions: () => ({ dispose: () => undefined }),
        getSessions: async () => [{ id: 's', accessToken: 'x', account: { id: 'alice', label: 'Alice' }, scopes: [] }],
        createSession: async () => assert.fail('not asked'),
        removeSession: async () => undefined,
      });
    const sessions = await registered.getSessions(undefined, {});
    assert.equal(sessions[0].account.label, 'Alice');
    assert.equal(loads, 1);
  });

  it('without stand-ins (a host that passed no manifest) the services register with VS Code themselves', () => {
    const data: Provider = { getChildren: () => [], getTreeItem: (e) => ({ label: e }) };
    StandIns.createTreeView('mlspanner.runs', { treeDataProvider: data });
    assert.equal((ui.calls.find((c) => c.method === 'createTreeView')!.args[1] as { treeDataProvider: unknown }).treeDataProvider, data);
    StandIns.commands.registerCommand('mlspanner.x', () => 1);
    assert.ok(ui.commands.has('mlspanner.x'));
  });
});
