// One CommonJS bundle for the extension host. openid-client is ESM-only; esbuild converts it.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const production = process.argv.includes('--production');
// --outfile=<path>: a bundle elsewhere (the benchmark profiles a readable build without touching dist/).
const outfile = process.argv.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length) ?? 'dist/extension.js';
const result = await build({
  entryPoints: ['src/vscode/extension.ts'],
  bundle: true,
  outfile,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  minify: production,
  sourcemap: production ? false : 'linked',
  metafile: true,
  legalComments: 'none',
  // axios's Node build pulls in form-data (and mime-db, ~140 KB) for multipart bodies, which
  // this extension never sends; Node 20 has a global FormData.
  alias: { 'form-data': './scripts/form-data-global.cjs' },
  logLevel: 'warning',
});
mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(join(dirname(outfile), 'meta.json'), JSON.stringify(result.metafile));

// The policy CLI for CI (`node dist/mlspanner-policy.js test|matrix|diff`): a second, separate
// file, so nothing of it is in the extension bundle. Not built for a profiling --outfile build.
if (!process.argv.some((a) => a.startsWith('--outfile='))) {
  await build({
    entryPoints: ['src/cli/mlspannerPolicy.ts'],
    bundle: true,
    outfile: 'dist/mlspanner-policy.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: production,
    sourcemap: false,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    alias: { 'form-data': './scripts/form-data-global.cjs' },
    logLevel: 'warning',
  });
}
