import * as assert from 'node:assert/strict';
import { forgetSecret, indexOfToken, redact, redactDeep, redactMemo, registerSecret } from '../../src/core/redact';

describe('redaction of registered values: rebuilt when used, keys cached only when they hold none', () => {
  const a = 'first-value-8f3k2m9q';
  const b = 'second-value-x7p4w1z6';
  afterEach(() => {
    for (const v of [a, b]) for (let i = 0; i < 5; i++) forgetSecret(v); // registrations are counted
  });

  it('a value is masked from its registration until it is forgotten, after many changes in a row', () => {
    registerSecret(a);
    registerSecret(b);
    forgetSecret(a);
    registerSecret(a);
    assert.doesNotMatch(redact(`x ${a} y ${b} z`), new RegExp(`${a}|${b}`));
    forgetSecret(a);
    assert.equal(redact(`x ${a} y`), `x ${a} y`);
    assert.doesNotMatch(redact(`y ${b}`), new RegExp(b));
    forgetSecret(b);
    assert.equal(redact(`y ${b}`), `y ${b}`);
  });

  it('an object key that is (or holds) a registered value is masked even after the same key was redacted and cached before', () => {
    const key = a;
    assert.deepEqual(redactDeep({ [key]: 1, plain: 2 }), { [key]: 1, plain: 2 }, 'nothing registered yet: the key stays');
    registerSecret(a);
    const out = redactDeep({ [key]: 1, [`prefix-${key}`]: 2, plain: 3 }) as Record<string, unknown>;
    assert.ok(!Object.keys(out).some((k) => k.includes(a)), JSON.stringify(out));
    assert.equal(out.plain, 3);
    forgetSecret(a);
    assert.deepEqual(redactDeep({ [key]: 1 }), { [key]: 1 }, 'forgotten: the key shows again');
  });

  it('every occurrence of every value is masked, in any order; the first one is where a token starts', () => {
    registerSecret(b);
    registerSecret(a);
    const text = `${b}:${a}/${a}?${b}${b}`;
    assert.equal(redact(text), '[redacted]:[redacted]/[redacted]?[redacted][redacted]');
    assert.equal(indexOfToken(`plain text, then ${a} and ${b}`), 'plain text, then '.length);
    assert.equal(indexOfToken(`short ${a.slice(0, 8)}`), -1, 'a fragment shorter than every registered value is not one');
  });

  it('a remembered redaction is forgotten as soon as a secret is registered or forgotten', () => {
    const text = `Principal: ${a}`;
    assert.equal(redactMemo(text), text);
    registerSecret(a);
    assert.equal(redactMemo(text), 'Principal: [redacted]', 'registered after the text was remembered');
    assert.equal(redactMemo(text), redact(text));
    forgetSecret(a);
    assert.equal(redactMemo(text), text);
  });
});
