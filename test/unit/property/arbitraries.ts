import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { UserFacingError } from '../../../src/core/errors';

/**
 * Shared generators for the property tests: JSON *text* as a server could send it, including
 * keys a parser must not treat specially (`__proto__`, `constructor`), and a pollution check.
 */

/** Fixed seeds keep failures reproducible; every property runs thousands of cases. */
export const RUNS = { seed: 20_261_201, numRuns: 2000 } as const;

/** Object keys a server might send that are dangerous for a naive parser or merger. */
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'polluted', ''];

export const key = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 }));

/** A JSON scalar as text. */
const scalarText = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '0', '-1', '1e308', '-0', '"NaN"', '"Infinity"', '""', '"javascript:alert(1)"', '"file:///etc/passwd"'),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.integer().map(String),
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
);

/** JSON text of any value, objects written key by key so `"__proto__"` really is on the wire. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarText,
    fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

/** A cheap wrong value for a field: scalars, empty or one-level containers, pollution attempts. */
export const junkText: fc.Arbitrary<string> = fc.oneof(
  scalarText,
  fc.constantFrom('[]', '{}', '[null]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '[[[]]]', '{"":""}'),
  fc.array(scalarText, { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
  fc.array(fc.tuple(key, scalarText), { maxLength: 3 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
);

/** An object's JSON text from field → text pairs (each field present or not). */
export function objectText(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([k, arb]) => fc.option(arb.map((v) => `${JSON.stringify(k)}:${v}`), { nil: undefined }));
  return fc.tuple(fc.tuple(...entries), fc.array(fc.tuple(key, junkText), { maxLength: 2 })).map(([known, extra]) =>
    `{${[...known.filter((x): x is string => x !== undefined), ...extra.map(([k, v]) => `${JSON.stringify(k)}:${v}`)].join(',')}}`,
  );
}

/** Either a well-typed value or a wrong one: most cases are near-valid, some hostile. */
export function mostly(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: junkText });
}

export const stringText = fc
  .oneof({ weight: 3, arbitrary: fc.constantFrom('', ' ', 'x', 'Run failed', '__proto__', 'constructor', 'é\u0000\ud800', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a'.repeat(300)) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })
  .map((s) => JSON.stringify(s));
export const intText = fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.constant(2 ** 60)).map(String);
export const boolText = fc.boolean().map(String);

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Nothing leaked onto Object.prototype. */
export function assertNoPollution(): void {
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS);
}

/** Runs `f`; a thrown error must be a UserFacingError (or one of `allowed`), never a TypeError or RangeError. */
export async function onlyUserFacing<T>(f: () => Promise<T> | T, allowed: Array<new (...args: never[]) => Error> = []): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UserFacingError || allowed.some((A) => e instanceof A)) return undefined;
    throw e;
  }
}
