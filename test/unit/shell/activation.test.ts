import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { ui } from '../fakes/vscode';

/**
 * src/vscode/extension.ts: activation registers the stand-ins and returns; the services
 * (src/vscode/main.ts) are built by a timer right after, or by the first stand-in used, once;
 * a failure to build them is shown once and leaves commands that say so.
 */
describe('shell: activation registers stand-ins and builds the services after it returns', () => {
  const mainPath = require.resolve(path.join(__dirname, '../../../src/vscode/main'));
  const extensionPath = require.resolve(path.join(__dirname, '../../../src/vscode/extension'));
  let composed = 0;
  let fail = false;
  let saved: NodeJS.Module | undefined;
  const subscriptions: { dispose(): unknown }[] = [];

  beforeEach(() => {
    ui.reset();
    composed = 0;
    fail = false;
    saved = require.cache[mainPath];
    // The composition root stands in for itself: it registers the command the stand-in answers for.
    require.cache[mainPath] = {
      id: mainPath,
      filename: mainPath,
      loaded: true,
      exports: {
        compose: () => {
          composed++;
          if (fail) throw new Error('a broken build');
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { StandIns } = require('../../../src/vscode/common/StandIns') as typeof import('../../../src/vscode/common/StandIns');
          subscriptions.push(StandIns.commands.registerCommand('mlspanner.signIn', () => 'signed in'));
        },
      },
    } as unknown as NodeJS.Module;
    delete require.cache[extensionPath];
  });
  afterEach(() => {
    for (const d of subscriptions.splice(0).reverse()) d.dispose();
    if (saved) require.cache[mainPath] = saved;
    else delete require.cache[mainPath];
  });

  const activate = (packageJSON?: unknown) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(extensionPath) as typeof import('../../../src/vscode/extension');
    const context = { subscriptions, extension: packageJSON ? { packageJSON } : undefined } as unknown as vscode.ExtensionContext;
    ext.activate(context);
    return context;
  };
  const manifest = { contributes: { commands: [{ command: 'mlspanner.signIn' }, { command: 'mlspanner.doctor' }], languageModelTools: [] } };
  const tick = () => new Promise((r) => setTimeout(r, 5));

  it('returns with every contributed command registered and nothing built; the services follow right after, once', async () => {
    activate(manifest);
    assert.deepEqual([...ui.commands.keys()].sort(), ['mlspanner.doctor', 'mlspanner.signIn']);
    assert.equal(composed, 0, 'nothing is built inside activate()');
    await tick();
    assert.equal(composed, 1);
    assert.equal(await ui.commands.get('mlspanner.signIn')!(), 'signed in');
    assert.equal(composed, 1);
  });

  it('a command used before the timer builds the services at once and runs', async () => {
    activate(manifest);
    assert.equal(await ui.commands.get('mlspanner.signIn')!(), 'signed in');
    assert.equal(composed, 1);
    await tick();
    assert.equal(composed, 1, 'the timer finds them built');
  });

  it('a failure to build them is shown once, with Show Log; commands then say they are unavailable', async () => {
    fail = true;
    activate(manifest);
    await tick();
    const shown = ui.calls.filter((c) => c.method === 'showErrorMessage');
    assert.equal(shown.length, 1);
    assert.match(String(shown[0].args[0]), /could not start/);
    assert.equal(shown[0].args[1], 'Show Log');
    assert.throws(() => ui.commands.get('mlspanner.doctor')!(), /mlspanner\.doctor is not available/);
    assert.equal(composed, 1, 'not retried on every call');
  });

  it('a host that passes no manifest gets the services built inside activate()', () => {
    activate(undefined);
    assert.equal(composed, 1);
    assert.ok(ui.commands.has('mlspanner.signIn'), 'registered by the service itself');
  });
});
