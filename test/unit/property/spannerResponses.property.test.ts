import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeResultSet, decodeValue, formatResultTable, MAX_TYPE_DEPTH, parseResultSet, typeName, type SpannerType } from '../../../src/core/spanner/resultDecoding';
import { UserFacingError } from '../../../src/core/errors';
import { assertNoPollution, HOSTILE_KEYS, jsonText, junkText, onlyUserFacing, RUNS } from './arbitraries';

/** Field names Spanner allows that a naive decoder mishandles, plus anonymous ones. */
const fieldName = fc.oneof(fc.constantFrom(...HOSTILE_KEYS, undefined, 'x', 'x_1'), fc.string({ maxLength: 6 }));

type Typed = { type: SpannerType; value: fc.Arbitrary<unknown> };

const SCALARS: Array<[SpannerType['code'], fc.Arbitrary<unknown>]> = [
  ['BOOL', fc.boolean()],
  ['INT64', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)],
  ['FLOAT64', fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('NaN', 'Infinity', '-Infinity'))],
  ['STRING', fc.string({ maxLength: 10 })],
  ['BYTES', fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('base64'))],
  ['DATE', fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))],
  ['TIMESTAMP', fc.date({ min: new Date('1970-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString())],
  ['NUMERIC', fc.tuple(fc.bigInt({ min: -(10n ** 29n), max: 10n ** 29n }), fc.nat({ max: 999_999_999 })).map(([i, f]) => `${i}.${f}`)],
  ['JSON', fc.constantFrom('{}', '{"a":1}', '[1,2]')],
];

/** A Spanner type with a generator of well-formed wire values for it (NULL anywhere). */
function typed(depth: number): fc.Arbitrary<Typed> {
  const scalar = fc.constantFrom(...SCALARS).map(([code, value]): Typed => ({ type: { code }, value: fc.option(value, { nil: null }) }));
  if (depth <= 0) return scalar;
  const array = typed(depth - 1).map(({ type, value }): Typed => ({ type: { code: 'ARRAY', arrayElementType: type }, value: fc.option(fc.array(value, { maxLength: 3 }), { nil: null }) }));
  const struct = fc.array(fc.tuple(fieldName, typed(depth - 1)), { maxLength: 4 }).map(
    (fields): Typed => ({
      type: { code: 'STRUCT', structType: { fields: fields.map(([name, t]) => (name === undefined ? { type: t.type } : { name, type: t.type })) } },
      value: fc.option(fc.tuple(...fields.map(([, t]) => t.value)), { nil: null }),
    }),
  );
  return fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: array }, { weight: 1, arbitrary: struct });
}

/** A whole well-formed ResultSet: columns, and rows of values of their types. */
const resultSet = fc.array(fc.tuple(fieldName, typed(3)), { minLength: 1, maxLength: 4 }).chain((cols) =>
  fc.array(fc.tuple(...cols.map(([, t]) => t.value)), { maxLength: 4 }).map((rows) => ({
    metadata: { rowType: { fields: cols.map(([name, t]) => (name === undefined ? { type: t.type } : { name, type: t.type })) } },
    rows,
  })),
);

/** JSON text as it comes over the wire, so "__proto__" keys are own keys, as JSON.parse makes them. */
const wire = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('property: Spanner answers', () => {
  afterEach(assertNoPollution);

  it('well-formed result sets decode: every STRUCT field, odd names included, is an own key', async () => {
    await fc.assert(
      fc.asyncProperty(resultSet, async (rs) => {
        const decoded = decodeResultSet(wire(rs));
        assert.equal(decoded.columns.length, rs.metadata.rowType.fields.length);
        assert.equal(decoded.rows.length, rs.rows.length);
        const check = (type: SpannerType, value: unknown): void => {
          if (value === null) return;
          if (type.code === 'STRUCT') {
            const fields = type.structType?.fields ?? [];
            assert.equal(Object.keys(value as object).length, fields.length, `${typeName(type)}: ${Object.keys(value as object)}`);
            assert.equal(Object.getPrototypeOf(value), Object.prototype);
            for (const f of fields) if (f.name) assert.ok(Object.prototype.hasOwnProperty.call(value, f.name), `field ${f.name} kept`);
          }
          if (type.code === 'ARRAY') for (const v of value as unknown[]) check(type.arrayElementType!, v);
        };
        decoded.rows.forEach((row) => row.forEach((v, c) => check(decoded.columns[c].type, v)));
        assert.equal(typeof formatResultTable(decoded, { maxRows: 3 }), 'string');
      }),
      { ...RUNS, numRuns: 1500 },
    );
  });

  it('any JSON decodes or is refused with a protocol UserFacingError, never a TypeError', async () => {
    const nearly = resultSet.chain((rs) =>
      fc.oneof(
        fc.constant(JSON.stringify(rs)),
        // One part of a valid result replaced by junk.
        fc.tuple(fc.constantFrom('metadata', 'rows', 'stats', 'rowType', 'fields', 'type', 'code'), junkText).map(([k, junk]) => JSON.stringify(rs).replace(new RegExp(`"${k}":`), `"${k}":${junk},"_":`)),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonText, nearly), async (text) => {
        const body = JSON.parse(text) as unknown;
        const decoded = await onlyUserFacing(() => decodeResultSet(body));
        if (decoded) formatResultTable(decoded);
        await onlyUserFacing(() => parseResultSet(body));
      }),
      RUNS,
    );
  });

  it('nesting of any depth: decoded up to the bound, refused beyond it, the stack never overflows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.boolean(), (depth, viaResultSet) => {
        let type: SpannerType = { code: 'INT64' };
        let value: unknown = '7';
        for (let i = 0; i < depth; i++) {
          if (i % 2) {
            type = { code: 'ARRAY', arrayElementType: type };
            value = [value];
          } else {
            type = { code: 'STRUCT', structType: { fields: [{ name: '__proto__', type }] } };
            value = [value];
          }
        }
        try {
          if (viaResultSet) decodeResultSet({ metadata: { rowType: { fields: [{ name: 'c', type }] } }, rows: [[value]] });
          else decodeValue(value, type);
          assert.ok(depth <= MAX_TYPE_DEPTH + 1, `depth ${depth} decoded`);
        } catch (e) {
          assert.ok(e instanceof UserFacingError && e.kind === 'protocol', String(e));
          assert.ok(depth > MAX_TYPE_DEPTH - 1, `depth ${depth} refused: ${(e as Error).message}`);
        }
      }),
      { ...RUNS, numRuns: 300 },
    );
  });
});
