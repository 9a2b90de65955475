/**
 * Precision and recall of the secret scanner over the corpus in test/fixtures/secrets, per kind
 * and overall, computed against the corpus manifest (file, line, kind of every expected finding).
 *
 *   npx tsx bench/secretScanAccuracy.ts
 */
import { ALL_SECRET_KINDS, SECRET_KINDS } from '../src/core/secrets/SecretKind';
import { measureAccuracy, type KindScore } from '../test/fixtures/secrets/accuracy';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const row = (name: string, s: KindScore) =>
  `| ${name} | ${s.truePositives} | ${s.falsePositives} | ${s.falseNegatives} | ${pct(s.precision)} | ${pct(s.recall)} |`;

const started = process.hrtime.bigint();
const result = measureAccuracy();
const ms = Number(process.hrtime.bigint() - started) / 1e6;

console.log(`Secret scanner accuracy over ${result.files} corpus files (${ms.toFixed(0)} ms)\n`);
console.log('| kind | true pos. | false pos. | missed | precision | recall |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const k of ALL_SECRET_KINDS) console.log(row(`${k} (\`${SECRET_KINDS[k].code}\`)`, result.perKind[k]));
console.log(row('**overall**', result.overall));
if (result.mismatches.length) {
  console.log('\nMismatches:');
  for (const m of result.mismatches) console.log(`  ${m.what === 'missed' ? 'missed' : 'extra '} ${m.kind} at ${m.file}:${m.line}`);
}
