import { strict as assert } from 'node:assert';
import { parseJobParameters } from '../../src/core/databricks/jobParameters';

describe('parseJobParameters', () => {
  const ok: Array<[string, Record<string, string>]> = [
    ['', {}],
    ['snapshot=latest', { snapshot: 'latest' }],
    ['snapshot=latest, max_depth=6', { snapshot: 'latest', max_depth: '6' }],
    ['a.b-c = "x"', { 'a.b-c': 'x' }],
    ["q='quoted'\nn=1", { q: 'quoted', n: '1' }],
    ['url=https://x.example/a=b', { url: 'https://x.example/a=b' }],
  ];
  for (const [text, want] of ok) it(`parses ${JSON.stringify(text)}`, () => assert.deepEqual(parseJobParameters(text), want));
  for (const bad of ['novalue', '=x', 'bad key=1']) it(`rejects ${JSON.stringify(bad)}`, () => assert.ok('error' in parseJobParameters(bad)));
});
