import * as assert from 'node:assert/strict';
import { UserFacingError } from '../../src/core/errors';
import { decodeResultSet, decodeValue, formatResultTable, typeName, type DecodedColumn, type SpannerType, type SpannerValue } from '../../src/core/spanner/resultDecoding';

const t = (code: SpannerType['code'], extra: Partial<SpannerType> = {}): SpannerType => ({ code, ...extra });

describe('Spanner result decoding (type.proto)', () => {
  const cases: Array<[string, SpannerType, unknown, SpannerValue]> = [
    ['BOOL true', t('BOOL'), true, true],
    ['INT64 safe → number', t('INT64'), '42', 42],
    ['INT64 negative', t('INT64'), '-7', -7],
    ['INT64 max → exact string', t('INT64'), '9223372036854775807', '9223372036854775807'],
    ['INT64 min → exact string', t('INT64'), '-9223372036854775808', '-9223372036854775808'],
    ['INT64 2^53 + 1 → string', t('INT64'), '9007199254740993', '9007199254740993'],
    ['FLOAT64 number', t('FLOAT64'), 0.25, 0.25],
    ['FLOAT64 NaN', t('FLOAT64'), 'NaN', NaN],
    ['FLOAT64 Infinity', t('FLOAT64'), 'Infinity', Infinity],
    ['FLOAT64 -Infinity', t('FLOAT64'), '-Infinity', -Infinity],
    ['FLOAT32', t('FLOAT32'), 1.5, 1.5],
    ['STRING', t('STRING'), 'a|b', 'a|b'],
    ['DATE', t('DATE'), '2025-06-01', '2025-06-01'],
    ['TIMESTAMP nanoseconds kept', t('TIMESTAMP'), '2025-06-01T08:15:30.123456789Z', '2025-06-01T08:15:30.123456789Z'],
    ['NUMERIC kept exact', t('NUMERIC'), '99999999999999999999999999999.999999999', '99999999999999999999999999999.999999999'],
    ['JSON as text', t('JSON'), '{"a":1}', '{"a":1}'],
    ['INTERVAL', t('INTERVAL'), 'P1Y2M3DT4H5M6.5S', 'P1Y2M3DT4H5M6.5S'],
    ['UUID', t('UUID'), '123e4567-e89b-12d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174000'],
    ['ENUM number string', t('ENUM', { protoTypeFqn: 'x.Color' }), '2', '2'],
    ['BYTES base64 → bytes', t('BYTES'), 'AAEC/w==', new Uint8Array([0, 1, 2, 255])],
    ['PROTO bytes', t('PROTO', { protoTypeFqn: 'x.Msg' }), 'CAE=', new Uint8Array([8, 1])],
    ['NULL of any type', t('INT64'), null, null],
    ['ARRAY<INT64> with NULL', t('ARRAY', { arrayElementType: t('INT64') }), ['1', null, '3'], [1, null, 3]],
    ['ARRAY<FLOAT64> non-finite', t('ARRAY', { arrayElementType: t('FLOAT64') }), ['NaN', 2], [NaN, 2]],
    [
      'STRUCT as list → object, anonymous and repeated names',
      t('STRUCT', { structType: { fields: [{ name: 'id', type: t('INT64') }, { type: t('STRING') }, { name: 'id', type: t('BOOL') }] } }),
      ['5', 'x', true],
      { id: 5, _1: 'x', id_2: true },
    ],
    [
      'ARRAY<STRUCT<...>>',
      t('ARRAY', { arrayElementType: t('STRUCT', { structType: { fields: [{ name: 'k', type: t('STRING') }, { name: 'v', type: t('FLOAT64') }] } }) }),
      [['a', 1], ['b', 'Infinity']],
      [{ k: 'a', v: 1 }, { k: 'b', v: Infinity }],
    ],
  ];
  for (const [name, type, wire, expected] of cases) {
    it(`decodes ${name}`, () => assert.deepEqual(decodeValue(wire, type), expected));
  }

  const malformed: Array<[string, SpannerType, unknown]> = [
    ['INT64 sent as a JSON number', t('INT64'), 42],
    ['INT64 not decimal', t('INT64'), '4.2'],
    ['FLOAT64 other string', t('FLOAT64'), 'inf'],
    ['BOOL as string', t('BOOL'), 'true'],
    ['DATE wrong shape', t('DATE'), '01/06/2025'],
    ['TIMESTAMP without zone', t('TIMESTAMP'), '2025-06-01T08:15:30'],
    ['BYTES not base64', t('BYTES'), 'not base64!'],
    ['STRUCT arity', t('STRUCT', { structType: { fields: [{ name: 'a', type: t('INT64') }] } }), ['1', '2']],
    ['unknown type code', { code: 'MONEY' } as unknown as SpannerType, 'x'],
  ];
  for (const [name, type, wire] of malformed) {
    it(`refuses ${name} as a protocol error`, () => {
      assert.throws(() => decodeValue(wire, type), (e: UserFacingError) => e instanceof UserFacingError && e.kind === 'protocol');
    });
  }

  it('keeps STRUCT fields named __proto__ and constructor as plain fields, polluting nothing', () => {
    const type = t('STRUCT', { structType: { fields: [{ name: '__proto__', type: t('STRING') }, { name: 'constructor', type: t('INT64') }, { name: 'toString', type: t('BOOL') }] } });
    const value = decodeValue(['x', '1', true], type) as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['__proto__', 'constructor', 'toString']);
    assert.equal(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, 'x');
    assert.equal(value.constructor, 1);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.match(formatResultTable({ columns: [{ name: 's', type, typeName: typeName(type) }], rows: [[value as SpannerValue]] }), /\{__proto__: "x", constructor: 1, toString: true\}/);
  });

  it('refuses a type nested deeper than it decodes, without overflowing the stack', () => {
    let deep: SpannerType = t('INT64');
    let wire: unknown = '1';
    for (let i = 0; i < 20_000; i++) {
      deep = t('ARRAY', { arrayElementType: deep });
      wire = [wire];
    }
    assert.throws(() => decodeValue(wire, deep), (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol' && /more than 64 levels deep/.test(e.message));
    assert.throws(
      () => decodeResultSet({ metadata: { rowType: { fields: [{ name: 'x', type: deep }] } }, rows: [] }),
      (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol',
    );
    assert.ok(typeName(deep).length < 2000);
  });

  it('refuses a ResultSet of the wrong shape as a protocol error', () => {
    for (const bad of [null, 'text', [], { metadata: 5 }, { metadata: { rowType: { fields: [{ name: 1, type: t('INT64') }] } } }, { metadata: { rowType: { fields: [] } }, rows: 'x' }])
      assert.throws(() => decodeResultSet(bad), (e: unknown) => e instanceof UserFacingError && e.kind === 'protocol', JSON.stringify(bad));
  });

  it('names types in GoogleSQL spelling', () => {
    assert.equal(typeName(t('ARRAY', { arrayElementType: t('STRUCT', { structType: { fields: [{ name: 'a', type: t('INT64') }, { type: t('STRING') }] } }) })), 'ARRAY<STRUCT<a INT64, STRING>>');
  });

  it('decodes a whole ResultSet: columns from rowType, rows by column, stats kept', () => {
    const decoded = decodeResultSet({
      metadata: { rowType: { fields: [{ name: 'customer_id', type: t('INT64') }, { type: t('FLOAT64') }] }, transaction: { readTimestamp: '2025-06-01T00:00:00Z' } },
      rows: [['1', 0.5], ['2', 'NaN']],
      stats: { queryStats: { rows_returned: '2' } },
    });
    assert.deepEqual(
      decoded.columns.map((c) => [c.name, c.typeName]),
      [
        ['customer_id', 'INT64'],
        ['_1', 'FLOAT64'],
      ],
    );
    assert.deepEqual(decoded.rows, [
      [1, 0.5],
      [2, NaN],
    ]);
    assert.deepEqual(decoded.stats, { queryStats: { rows_returned: '2' } });
    assert.equal(decoded.readTimestamp, '2025-06-01T00:00:00Z');
    // proto3 JSON omits an empty repeated field: no rows at all is an empty result.
    assert.deepEqual(decodeResultSet({ metadata: { rowType: { fields: [{ name: 'x', type: t('BOOL') }] } } }).rows, []);
  });

  it('refuses a row whose width does not match the columns, and a missing rowType', () => {
    assert.throws(() => decodeResultSet({ metadata: { rowType: { fields: [{ name: 'a', type: t('INT64') }] } }, rows: [['1', '2']] }), /row 0 has 2 values for 1 columns/);
    assert.throws(() => decodeResultSet({ rows: [] }), /rowType/);
  });
});

describe('formatResultTable', () => {
  const col = (name: string, code: SpannerType['code']): DecodedColumn => ({ name, type: t(code), typeName: code });

  it('renders a GFM table: numeric columns right-aligned, NULL in italics, row count', () => {
    const md = formatResultTable({ columns: [col('id', 'INT64'), col('country', 'STRING'), col('p', 'FLOAT64'), col('ok', 'BOOL')], rows: [[1, 'DE', 0.5, true], [2, null, NaN, false]] });
    assert.equal(md, ['| id | country | p | ok |', '| ---: | --- | ---: | --- |', '| 1 | DE | 0.5 | true |', '| 2 | _NULL_ | NaN | false |', '', '_2 rows._'].join('\n'));
  });

  it('escapes pipes, backslashes, HTML and line breaks so a cell stays one cell', () => {
    const md = formatResultTable({ columns: [col('a|b', 'STRING')], rows: [['x|y\\z <b>\nnext']] });
    assert.equal(md.split('\n')[2], '| x\\|y\\\\z &lt;b> next |');
    assert.equal(md.split('\n')[0], '| a\\|b |');
  });

  it('truncates long cells with an ellipsis, by code point', () => {
    const md = formatResultTable({ columns: [col('s', 'STRING')], rows: [['😀'.repeat(30)]] }, { maxCellLength: 10 });
    assert.equal(md.split('\n')[2], `| ${'😀'.repeat(9)}… |`);
  });

  it('says how many rows were cut', () => {
    const rows = Array.from({ length: 12 }, (_, i) => [i]);
    const md = formatResultTable({ columns: [col('n', 'INT64')], rows }, { maxRows: 5 });
    const lines = md.split('\n');
    assert.equal(lines.filter((l) => /^\| \d+ \|$/.test(l)).length, 5);
    assert.equal(lines.at(-1), '_Showing 5 of 12 rows; 7 more not shown._');
  });

  it('renders arrays, structs and bytes readably, and an empty result', () => {
    const md = formatResultTable({
      columns: [col('tags', 'ARRAY'), col('s', 'STRUCT'), col('b', 'BYTES')],
      rows: [[['a', null], { k: 'v', n: 1 }, new Uint8Array([255])]],
    });
    assert.equal(md.split('\n')[2], '| ["a", NULL] | {k: "v", n: 1} | /w== |');
    assert.match(formatResultTable({ columns: [col('x', 'INT64')], rows: [] }), /_No rows\._$/);
  });
});
