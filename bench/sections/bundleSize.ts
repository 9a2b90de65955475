/**
 * Bytes: the production files (extension.js, features.js, vendor.js) and their dependencies
 * (esbuild metafile, dist/meta.json, written by the build), and the .vsix by entry (its zip
 * central directory). A dependency's share of the .vsix is estimated as its share of the three
 * files times their compressed size.
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { bytes, ratio, type Row } from '../lib/table';

const root = path.resolve(__dirname, '..', '..');

interface Metafile {
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

export interface ZipEntry {
  name: string;
  compressed: number;
  size: number;
}

/** Entries of a zip file from its central directory (no extraction). */
export function zipEntries(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--)
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    out.push({ name: buf.toString('utf8', p + 46, p + 46 + nameLen), compressed, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** `node_modules/a/b.js` → `a`, `node_modules/@s/a/x.js` → `@s/a`, own code → `(extension source)`. */
export function dependencyOf(input: string): string {
  const i = input.lastIndexOf('node_modules/');
  if (i < 0) return '(extension source)';
  const rest = input.slice(i + 'node_modules/'.length).split('/');
  return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

export function bundleRows(distDir = path.join(root, 'dist'), top = 8): Row[] {
  const meta = JSON.parse(readFileSync(path.join(distDir, 'meta.json'), 'utf8')) as Metafile;
  // The extension's files (scripts/build.mjs): extension.js at activation, the others on first use.
  const files = ['extension.js', 'features.js', 'vendor.js'].filter((f) => Object.keys(meta.outputs).some((k) => k.endsWith(`/${f}`) || k === f));
  if (!files.includes('extension.js')) throw new Error('dist/meta.json has no extension.js output: run npm run package');
  const byDep = new Map<string, number>();
  for (const [name, out] of Object.entries(meta.outputs)) {
    if (!files.some((f) => name.endsWith(`/${f}`) || name === f)) continue;
    for (const [input, v] of Object.entries(out.inputs)) byDep.set(dependencyOf(input), (byDep.get(dependencyOf(input)) ?? 0) + v.bytesInOutput);
  }
  const deps = [...byDep].sort((a, b) => b[1] - a[1]);
  const counted = deps.reduce((a, [, n]) => a + n, 0);

  const vsixFile = path.join(distDir, 'mlspanner.vsix');
  const vsixBytes = statSync(vsixFile).size;
  const entries = zipEntries(readFileSync(vsixFile));
  const fileEntries = files.map((f) => entries.find((e) => e.name === `extension/dist/${f}`));
  const compressedBundle = fileEntries.reduce((a, e) => a + (e?.compressed ?? 0), 0);
  const when: Record<string, string> = { 'extension.js': 'read at activation', 'features.js': 'on first use of a feature', 'vendor.js': 'on first use of a package' };
  const rows: Row[] = files.map((f, i) => ({
    area: 'size',
    measure: `production dist/${f} (minified), ${when[f]}`,
    value: bytes(statSync(path.join(distDir, f)).size),
    baseline: bytes(fileEntries[i]?.compressed ?? 0),
    baselineIs: 'compressed, in the .vsix',
    ratio: ratio(statSync(path.join(distDir, f)).size, fileEntries[i]?.compressed ?? 0, 1),
  }));
  rows.push({ area: 'size', measure: '.vsix (dist/mlspanner.vsix)', value: bytes(vsixBytes), baseline: `${entries.length} files`, baselineIs: 'entries' });
  for (const [dep, n] of deps.slice(0, top)) {
    const share = n / counted;
    rows.push({
      area: 'size',
      measure: `  the three files: ${dep}`,
      value: `${bytes(n)} (${(share * 100).toFixed(1)} %)`,
      baseline: `≈ ${bytes(Math.round(share * compressedBundle))} (${((share * compressedBundle * 100) / vsixBytes).toFixed(1)} %)`,
      baselineIs: 'its share of the .vsix (est.)',
    });
  }
  const rest = deps.slice(top);
  if (rest.length) {
    const n = rest.reduce((a, [, b]) => a + b, 0);
    rows.push({ area: 'size', measure: `  the three files: ${rest.length} more`, value: `${bytes(n)} (${((n / counted) * 100).toFixed(1)} %)` });
  }
  const others = entries
    .filter((e) => !fileEntries.includes(e) && !e.name.endsWith('/'))
    .sort((a, b) => b.compressed - a.compressed)
    .slice(0, 3);
  for (const e of others)
    rows.push({ area: 'size', measure: `  .vsix: ${e.name.replace(/^extension\//, '')}`, value: bytes(e.compressed), baseline: `${((e.compressed / vsixBytes) * 100).toFixed(1)} %`, baselineIs: 'share of the .vsix' });
  return rows;
}
