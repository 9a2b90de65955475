/**
 * Precision and recall of the secret scanner over the corpus in test/fixtures/secrets, per kind
 * and overall, computed against the corpus manifest (file, line, kind of every expected finding).
 *
 *   npx tsx bench/secretScanAccuracy.ts
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ALL_SECRET_KINDS, SECRET_KINDS } from '../src/core/secrets/SecretKind';
import { scanNotebookJson } from '../src/core/secrets/scanNotebookJson';
import { scanSecrets } from '../src/core/secrets/scanSecrets';
import { CORPUS_ROOT, measureAccuracy, type KindScore } from './secretScanCorpus';

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

/** Median wall time of `fn` over `runs` runs, in ms. */
function median(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

// Throughput on large inputs: what a keystroke-debounced rescan or a workspace scan costs.
const py = readFileSync(path.join(CORPUS_ROOT, 'scripts/deploy_model.py'), 'utf8') + readFileSync(path.join(CORPUS_ROOT, 'databricks/ingest_events.py'), 'utf8');
const bigPy = py.repeat(Math.ceil(1_000_000 / py.length));
const nb = JSON.parse(readFileSync(path.join(CORPUS_ROOT, 'notebooks/train_churn_model.ipynb'), 'utf8')) as { cells: unknown[] };
nb.cells = Array.from({ length: 150 }, () => nb.cells).flat();
const bigNb = JSON.stringify(nb, null, 1);
const minified = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `item-${i}`, password: '${PASSWORD}' })) });
console.log('\nScan time (median of 5, this machine):');
console.log(`  a ${(py.length / 1024).toFixed(1)} KB Python script: ${median(5, () => scanSecrets(py, 'python')).toFixed(2)} ms`);
console.log(`  a ${(bigPy.length / 1e6).toFixed(1)} MB Python file: ${median(5, () => scanSecrets(bigPy, 'python')).toFixed(0)} ms`);
console.log(`  a ${(bigNb.length / 1e6).toFixed(1)} MB notebook (${nb.cells.length} cells): ${median(5, () => scanNotebookJson(bigNb)).toFixed(0)} ms`);
console.log(`  a ${(minified.length / 1e6).toFixed(1)} MB one-line JSON: ${median(5, () => scanSecrets(minified, 'json')).toFixed(0)} ms`);
