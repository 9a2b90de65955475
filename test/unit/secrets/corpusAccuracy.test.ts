import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ALL_SECRET_KINDS } from '../../../src/core/secrets/SecretKind';
import { CORPUS_ROOT, measureAccuracy, readManifest } from '../../../bench/secretScanCorpus';
import { generateCorpus } from '../../fixtures/secrets/generateCorpus';

describe('secret scanner accuracy on the corpus', () => {
  it('the committed corpus and manifest are what generateCorpus.ts writes', () => {
    const { files, manifest } = generateCorpus();
    assert.deepEqual(readManifest(), manifest, 'manifest.json is stale: run npx tsx test/fixtures/secrets/generateCorpus.ts');
    for (const [rel, text] of Object.entries(files)) assert.equal(readFileSync(path.join(CORPUS_ROOT, rel), 'utf8'), text, `${rel} is stale`);
  });

  it('covers every kind, every language and both notebook formats', () => {
    const manifest = readManifest();
    const kinds = new Set(Object.values(manifest.files).flatMap((f) => f.map((e) => e.kind)));
    assert.deepEqual([...kinds].sort(), [...ALL_SECRET_KINDS].sort());
    const names = Object.keys(manifest.files);
    for (const ext of ['.ipynb', '.py', '.sql', '.scala', '.r', '.env', '.yml', '.yaml', '.json'])
      assert.ok(names.some((n) => n.endsWith(ext)), `no ${ext} file in the corpus`);
    const sourceNotebooks = names.filter((n) => !n.endsWith('.ipynb') && /Databricks notebook source/.test(readFileSync(path.join(CORPUS_ROOT, n), 'utf8')));
    assert.ok(sourceNotebooks.length >= 3, 'Databricks source notebooks in Python, Scala, SQL and R');
  });

  it('finds every expected secret (recall 100 %) with precision of at least 95 %', () => {
    const r = measureAccuracy();
    const report = r.mismatches.map((m) => `${m.what} ${m.kind} at ${m.file}:${m.line}`).join('\n');
    assert.equal(r.overall.recall, 1, `missed:\n${report}`);
    for (const k of ALL_SECRET_KINDS) assert.equal(r.perKind[k].recall, 1, `${k} recall\n${report}`);
    assert.ok(r.overall.precision >= 0.95, `precision ${r.overall.precision}\n${report}`);
  });
});
