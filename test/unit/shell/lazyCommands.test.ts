import { strict as assert } from 'node:assert';
import type * as vscode from 'vscode';
import { CommandRunner } from '../../../src/vscode/common/CommandRunner';
import { LazyCommands } from '../../../src/vscode/common/LazyCommands';
import { ui } from '../fakes/vscode';

function fakeLog() {
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), debug: () => undefined, show: () => undefined };
  return { log: log as unknown as vscode.LogOutputChannel, lines };
}

describe('LazyCommands (features loaded on first use)', () => {
  beforeEach(() => ui.reset());

  it('registers every command at once and constructs the feature only when one runs, with the arguments and result passed through', async () => {
    const { log } = fakeLog();
    let created = 0;
    const lazy = new LazyCommands(new CommandRunner(log), log, ['x.a', 'x.b'], (c) => {
      created++;
      return [c.register('x.a', (n: number) => n * 2), c.register('x.b', () => 'b')];
    });
    assert.deepEqual([...ui.commands.keys()].sort(), ['x.a', 'x.b']);
    assert.equal(created, 0);
    assert.equal(lazy.isLoaded, false);
    assert.equal(await ui.commands.get('x.a')!(21), 42);
    assert.equal(await ui.commands.get('x.b')!(), 'b');
    assert.equal(created, 1, 'constructed once');
    assert.equal(lazy.isLoaded, true);
  });

  it('load() constructs without a command, once', () => {
    const { log } = fakeLog();
    let created = 0;
    const lazy = new LazyCommands(new CommandRunner(log), log, ['x.a'], (c) => {
      created++;
      return c.register('x.a', () => undefined);
    });
    lazy.load();
    lazy.load();
    assert.equal(created, 1);
  });

  it("errors of the feature's handler take the runner's error path", async () => {
    const { log, lines } = fakeLog();
    new LazyCommands(new CommandRunner(log), log, ['x.fail'], (c) =>
      c.register('x.fail', () => {
        throw new Error('it broke');
      }),
    );
    await ui.commands.get('x.fail')!();
    assert.ok(lines.some((l) => l.startsWith('error x.fail: it broke')), lines.join('\n'));
    assert.equal(ui.calls.find((c) => c.method === 'showErrorMessage')?.args[0], 'it broke');
  });

  it('a feature that fails to load is reported and tried again on the next command', async () => {
    const { log } = fakeLog();
    let attempts = 0;
    new LazyCommands(new CommandRunner(log), log, ['x.a'], (c) => {
      attempts++;
      if (attempts === 1) throw new Error('cannot load the feature');
      return c.register('x.a', () => 'ok');
    });
    assert.equal(await ui.commands.get('x.a')!(), undefined);
    assert.equal(ui.calls.filter((c) => c.method === 'showErrorMessage').length, 1);
    assert.equal(await ui.commands.get('x.a')!(), 'ok');
    assert.equal(attempts, 2);
  });

  it('a command the feature registers but did not declare is registered late, with a warning', async () => {
    const { log, lines } = fakeLog();
    const lazy = new LazyCommands(new CommandRunner(log), log, ['x.a'], (c) => [c.register('x.a', () => 1), c.register('x.extra', () => 2)]);
    assert.equal(ui.commands.has('x.extra'), false);
    lazy.load();
    assert.equal(await ui.commands.get('x.extra')!(), 2);
    assert.ok(lines.some((l) => l.includes('x.extra was registered late')));
  });

  it('a declared command the feature does not register fails with a clear error', async () => {
    const { log } = fakeLog();
    new LazyCommands(new CommandRunner(log), log, ['x.a', 'x.missing'], (c) => c.register('x.a', () => 1));
    await ui.commands.get('x.missing')!();
    assert.match(String(ui.calls.find((c) => c.method === 'showErrorMessage')?.args[0]), /x\.missing is not available/);
  });

  it("dispose removes the commands and disposes what the feature owns; a feature never loaded stays unloaded", () => {
    const { log } = fakeLog();
    let disposed = 0;
    const loaded = new LazyCommands(new CommandRunner(log), log, ['x.a'], (c) => [c.register('x.a', () => 1), { dispose: () => disposed++ }]);
    loaded.load();
    let created = 0;
    const never = new LazyCommands(new CommandRunner(log), log, ['x.b'], () => void created++);
    loaded.dispose();
    never.dispose();
    never.load();
    assert.equal(disposed, 1);
    assert.equal(created, 0);
    assert.equal(ui.commands.size, 0);
  });
});
