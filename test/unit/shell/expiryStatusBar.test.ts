import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import * as fakeVscode from '../fakes/vscode';
import { ExpiryStatusBar, remainingText, type ExpiryTarget } from '../../../src/vscode/environments/ExpiryStatusBar';

/** A status bar item that counts what is sent to the window: every assignment and show/hide. */
function recordingItem() {
  const writes: { prop: string; value: unknown }[] = [];
  const values: Record<string, unknown> = {};
  const item = new Proxy(
    { show: () => writes.push({ prop: 'show()', value: undefined }), hide: () => writes.push({ prop: 'hide()', value: undefined }), dispose: () => undefined } as Record<string, unknown>,
    {
      set(target, prop, value) {
        writes.push({ prop: String(prop), value });
        values[String(prop)] = value;
        return true;
      },
      get(target, prop) {
        return prop in values ? values[String(prop)] : target[String(prop)];
      },
    },
  );
  return { item, writes, values };
}

describe('ExpiryStatusBar: the item changes only when what it shows does', () => {
  const window = fakeVscode.window as unknown as Record<string, unknown>;
  const original = window.createStatusBarItem;
  let clock: ReturnType<typeof FakeTimers.install>;
  let rec: ReturnType<typeof recordingItem>;
  beforeEach(() => {
    clock = FakeTimers.install({ now: 1_000_000, toFake: ['setInterval', 'clearInterval', 'Date'] });
    rec = recordingItem();
    window.createStatusBarItem = () => rec.item;
  });
  afterEach(() => {
    clock.uninstall();
    window.createStatusBarItem = original;
  });

  const textWrites = () => rec.writes.filter((w) => w.prop === 'text').map((w) => w.value);

  it('the spoken time left: minutes outside the warning window, seconds under a minute or inside it', () => {
    const table: [number, number, string][] = [
      [3_600_000 + 5 * 60_000 + 59_000, 300, '1 h 5 min'],
      [60 * 60_000, 300, '1 h 0 min'],
      [14 * 60_000 + 59_000, 300, '14 min'],
      [5 * 60_000, 300, '5 min'],
      [5 * 60_000 - 1, 300, '4:59'],
      [61_000, 0, '1 min'],
      [59_999, 0, '0:59'],
      [0, 300, '0:00'],
      [-5_000, 300, '0:00'],
      [3 * 3_600_000, 4 * 3_600, '3:00:00'],
    ];
    for (const [ms, warn, text] of table) assert.equal(remainingText(ms, warn), text, `${ms} ms, warning ${warn} s`);
  });

  it('over 20 minutes of countdown outside the warning window: the m:ss text each second, the spoken label once a minute, tooltip and colour once', () => {
    const target: ExpiryTarget = { label: 'staging', expiresAt: Date.now() + 30 * 60_000 + 30_000, what: 'Databricks token' };
    const bar = new ExpiryStatusBar(() => target, () => 300);
    bar.update();
    assert.deepEqual(textWrites(), ['$(key) staging 30:30']);
    clock.tick(20 * 60_000);
    assert.equal(textWrites().length, 1 + 20 * 60, 'one text per second, none twice');
    assert.equal(textWrites().at(-1), '$(key) staging 10:30');
    assert.equal(new Set(textWrites()).size, textWrites().length);
    assert.equal(rec.writes.filter((w) => w.prop === 'tooltip').length, 1);
    assert.deepEqual(rec.writes.filter((w) => w.prop === 'backgroundColor').map((w) => w.value), [undefined], 'the colour is set once');
    assert.equal(rec.writes.filter((w) => w.prop === 'accessibilityInformation').length, 21);
    assert.equal(rec.writes.filter((w) => w.prop === 'show()').length, 1);
    bar.dispose();
  });

  it('in the warning window it counts seconds and turns to the warning colour once; at expiry it shows 0:00 and the error colour', () => {
    const target: ExpiryTarget = { label: 'prod', expiresAt: Date.now() + 5 * 60_000 + 2_000, what: 'AWS session' };
    const bar = new ExpiryStatusBar(() => target, () => 300);
    bar.update();
    for (let i = 0; i < 4; i++) clock.tick(1_000);
    assert.deepEqual(textWrites(), ['$(key) prod 5:02', '$(key) prod 5:01', '$(key) prod 5:00', '$(key) prod 4:59', '$(key) prod 4:58']);
    const colours = rec.writes.filter((w) => w.prop === 'backgroundColor').map((w) => (w.value as { id?: string } | undefined)?.id);
    assert.deepEqual(colours, [undefined, 'statusBarItem.warningBackground']);
    clock.tick(5 * 60_000);
    assert.equal(textWrites().at(-1), '$(key) prod 0:00');
    const n = textWrites().length;
    clock.tick(10_000);
    assert.equal(textWrites().length, n, 'expired: the text no longer changes');
    assert.equal((rec.values.backgroundColor as { id: string }).id, 'statusBarItem.errorBackground');
    bar.dispose();
  });

  it('a model change that keeps the same text sends nothing; a new target shows at once; no target hides it once', () => {
    let target: ExpiryTarget | undefined = { label: 'session', expiresAt: Date.now() + 50 * 60_000, what: 'Sign-in session' };
    const bar = new ExpiryStatusBar(() => target, () => 300);
    bar.update();
    const n = rec.writes.length;
    bar.update();
    bar.update();
    assert.equal(rec.writes.length, n);
    target = { label: 'dev', expiresAt: Date.now() + 10 * 60_000, what: 'Google token' };
    bar.update();
    assert.equal(textWrites().at(-1), '$(key) dev 10:00');
    target = undefined;
    bar.update();
    bar.update();
    assert.equal(rec.writes.filter((w) => w.prop === 'hide()').length, 1);
    clock.tick(5_000);
    assert.equal(textWrites().at(-1), '$(key) dev 10:00', 'hidden: no more ticks');
    bar.dispose();
  });
});
