import { strict as assert } from 'node:assert';
import { resolveEnvironments } from '../../../src/core/policy/resolveEnvironments';
import { BUILTIN_TARGETS } from '../../../src/core/targets/TargetRegistry';
import { AccessMatrixCommands } from '../../../src/vscode/policyReview/AccessMatrixCommands';
import { POLICY } from './policyFixture';

function setup(answers: Record<string, unknown[]>) {
  const shown: { name: string; text: string; preview?: boolean }[] = [];
  const written: { path: string; text: string }[] = [];
  const calls: string[] = [];
  const answer = (method: string) => async (...args: unknown[]) => {
    calls.push(method);
    const a = answers[method]?.shift();
    return typeof a === 'function' ? (a as (...x: unknown[]) => unknown)(...args) : a;
  };
  const commands = new AccessMatrixCommands(
    () => resolveEnvironments(POLICY),
    BUILTIN_TARGETS,
    { show: async (name, text, options) => void shown.push({ name, text, preview: options?.preview }) },
    { showQuickPick: answer('showQuickPick'), showInputBox: answer('showInputBox'), showInformationMessage: answer('showInformationMessage'), showSaveDialog: answer('showSaveDialog') } as never,
    async (uri, bytes) => void written.push({ path: (uri as { fsPath: string }).fsPath, text: Buffer.from(bytes).toString('utf8') }),
  );
  return { commands, shown, written, calls };
}

describe('shell: Show Access Matrix…', () => {
  it('every group: opens the Markdown preview, then exports the CSV where the user saves it', async () => {
    const { commands, shown, written } = setup({
      showQuickPick: [(items: { every: boolean; description: string }[]) => {
        assert.equal(items[0].description, 'ml-dev, ml-prod, ml-staging, and no group');
        return items[0];
      }],
      showInformationMessage: ['Export as CSV…', undefined],
      showSaveDialog: [{ fsPath: '/tmp/access-matrix.csv' }],
    });
    await commands.show();
    assert.equal(shown.length, 1);
    assert.equal(shown[0].name, 'Access Matrix.md');
    assert.equal(shown[0].preview, true);
    assert.match(shown[0].text, /\| any signed-in user \| denied \| denied \| denied \| granted \|/);
    assert.equal(written.length, 1);
    assert.equal(written[0].path, '/tmp/access-matrix.csv');
    assert.match(written[0].text, /^who,groups,environment,credential,/);
    assert.equal(written[0].text.trimEnd().split('\r\n').length, 1 + 4 * 4 * 3);
  });

  it('a typed group list: one group set; the input is validated; cancelling the save writes nothing', async () => {
    const { commands, shown, written } = setup({
      showQuickPick: [(items: unknown[]) => items[1]],
      showInputBox: [(opts: { validateInput: (v: string) => string | undefined }) => {
        assert.equal(opts.validateInput(' , '), 'Type at least one group name.');
        assert.equal(opts.validateInput('ml-dev'), undefined);
        return 'ml-dev, ml-staging';
      }],
      showInformationMessage: ['Export as Markdown…'],
      showSaveDialog: [undefined],
    });
    await commands.show();
    assert.match(shown[0].text, /1 group set/);
    assert.match(shown[0].text, /## ml-dev \+ ml-staging/);
    assert.deepEqual(written, []);
  });

  it('cancelled at the first question: nothing is shown', async () => {
    const { commands, shown, calls } = setup({ showQuickPick: [undefined] });
    await commands.show();
    assert.deepEqual(shown, []);
    assert.deepEqual(calls, ['showQuickPick']);
  });

  it('Export Access Matrix… without a matrix shown exports every group’s, as Markdown', async () => {
    const { commands, written } = setup({ showQuickPick: [(items: unknown[]) => items[1]], showSaveDialog: [{ fsPath: '/tmp/m.md' }], showInformationMessage: [undefined] });
    await commands.export();
    assert.match(written[0].text, /^# Access matrix\n/);
    assert.match(written[0].text, /4 group sets/);
  });
});
