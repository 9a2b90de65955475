// The extension for the extension host: CommonJS, in three files so activation reads and compiles
// only what it runs.
//
//   dist/extension.js  what activate() evaluates: the modules src/vscode/extension.ts imports
//                      statically (import statements), and nothing else.
//   dist/features.js   own code reached only through a `require()` call inside a function (a
//                      command handler, a first use): loaded the first time one of them runs.
//   dist/vendor.js     third-party packages reached only through `require()` (axios, js-yaml,
//                      openid-client), each evaluated on its first use.
//
// A `require('./x')` of a module that extension.js does not already contain is the split point:
// in the source (tests run it with tsx) it is a plain lazy require. Modules both files need stay
// in extension.js and features.js links to them at first load, so there is one copy of every
// module (one registry, one `instanceof`). node:crypto is required on first use.
//
// openid-client is ESM-only; esbuild converts it. --production: minified, no source map.
// --outfile=<dir>/extension.js: build elsewhere (the benchmark profiles a readable build).
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const production = process.argv.includes('--production');
const outfile = resolve(root, process.argv.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length) ?? 'dist/extension.js');
const outdir = dirname(outfile);
const FEATURES = './features.js';
const VENDOR = './vendor.js';

// The OpenTelemetry packages of audit forwarding resolve to their CommonJS builds (no "exports"
// map), which esbuild cannot tree-shake: 245 KB in vendor.js. Their ES module builds (same
// version, same code) shake down to the 42 KB that OTLP JSON encoding uses.
const OTEL_ESM = Object.fromEntries(
  ['api-logs', 'core', 'otlp-transformer', 'resources', 'sdk-logs', 'sdk-metrics', 'sdk-trace'].map((p) => [`@opentelemetry/${p}`, `@opentelemetry/${p}/build/esm/index.js`]),
);

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: production,
  legalComments: 'none',
  // axios's Node build pulls in form-data (and mime-db, ~140 KB) for multipart bodies, which
  // this extension never sends; Node 20 has a global FormData.
  alias: { 'form-data': './scripts/form-data-global.cjs', ...OTEL_ESM },
  logLevel: 'warning',
  absWorkingDir: root,
  metafile: true,
};

const isBuiltin = (p) => p === 'vscode' || p.startsWith('node:') || builtinModules.includes(p.split('/')[0]);
const rel = (abs) => relative(root, abs).split(sep).join('/');
/** `node_modules/a/…` → `a`, `node_modules/@s/a/…` → `@s/a`; own code → undefined. */
function packageOf(abs) {
  const parts = rel(abs).split('/');
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return undefined;
  return parts[i + 1].startsWith('@') ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1];
}
/** The import's own file, through esbuild's resolver (tsconfig, package exports, aliases). */
async function resolveFor(b, args) {
  const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } });
  if (r.errors.length) throw new Error(r.errors[0].text);
  return r;
}

// node:crypto is not among the built-ins the extension host has loaded before extensions run:
// requiring it costs about 5 ms of CPU. In extension.js its members are read on first use.
const LAZY_BUILTINS = ['crypto'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy-builtin' ? { path: `node:${args.path.replace(/^node:/, '')}`, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
      const names = Object.keys(await import(`node:${args.path}`)).filter((n) => n !== 'default');
      return {
        loader: 'js',
        contents:
          `let m;\nconst get = () => (m ??= require('node:${args.path}'));\n` +
          `for (const n of ${JSON.stringify(names)}) Object.defineProperty(exports, n, { enumerable: true, get: () => get()[n] });`,
      };
    });
  },
};

/**
 * Pass 1: what activation contains. `require()` calls to modules outside the static graph are
 * recorded (own code → features, packages → vendor) and left out.
 */
async function analyse() {
  const own = new Set();
  const packages = new Set();
  const result = await build({
    ...common,
    entryPoints: ['src/vscode/extension.ts'],
    write: false,
    outfile,
    external: ['vscode'],
    plugins: [
      lazyBuiltins,
      {
        name: 'split-points',
        setup(b) {
          b.onResolve({ filter: /.*/ }, async (args) => {
            if (args.kind !== 'require-call' || args.pluginData?.inner || isBuiltin(args.path) || args.namespace !== 'file') return undefined;
            const r = await resolveFor(b, args);
            const pkg = packageOf(r.path);
            if (pkg) packages.add(pkg);
            else own.add(r.path);
            return { path: r.path, namespace: 'split-point' };
          });
          b.onLoad({ filter: /.*/, namespace: 'split-point' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
        },
      },
    ],
  });
  const inMain = new Set(Object.keys(result.metafile.inputs).filter((k) => !k.includes(':')).map((k) => resolve(root, k)));
  return { inMain, own: [...own].filter((p) => !inMain.has(p)), packages };
}

/** Pass 2: features.js, linked to extension.js for the modules both use. */
async function buildFeatures(inMain, roots, packages) {
  const shared = new Set();
  const entry = [
    `const link = require('features-link');`,
    `exports.__link = link.set;`,
    `const roots = {`,
    ...roots.map((p) => `  ${JSON.stringify(rel(p))}: () => require(${JSON.stringify(p)}),`),
    `};`,
    `exports.load = (id) => roots[id]();`,
  ].join('\n');
  const result = await build({
    ...common,
    stdin: { contents: entry, resolveDir: root, sourcefile: 'features-entry.js', loader: 'js' },
    outfile: join(outdir, FEATURES),
    sourcemap: production ? false : 'linked',
    external: ['vscode', VENDOR],
    plugins: [
      {
        name: 'features-links',
        setup(b) {
          b.onResolve({ filter: /^features-link$/ }, () => ({ path: 'features-link', namespace: 'features-link' }));
          b.onLoad({ filter: /.*/, namespace: 'features-link' }, () => ({
            loader: 'js',
            contents:
              `let table;\nexports.set = (t) => { table = t; };\n` +
              `exports.get = (id) => { if (!table) throw new Error('features.js was loaded before extension.js linked it'); return table[id]; };`,
          }));
          b.onResolve({ filter: /.*/ }, async (args) => {
            if (args.pluginData?.inner || isBuiltin(args.path) || args.namespace !== 'file' || args.path === VENDOR) return undefined;
            const r = await resolveFor(b, args);
            if (inMain.has(r.path)) {
              shared.add(r.path);
              return { path: r.path, namespace: 'shared' };
            }
            const pkg = packageOf(r.path);
            if (pkg && !inMain.has(r.path)) {
              packages.add(pkg);
              return { path: pkg, namespace: 'vendor' };
            }
            return undefined;
          });
          b.onLoad({ filter: /.*/, namespace: 'shared' }, (args) => ({ loader: 'js', contents: `module.exports = require('features-link').get(${JSON.stringify(rel(args.path))});` }));
          b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({ loader: 'js', contents: `module.exports = require(${JSON.stringify(VENDOR)}).load(${JSON.stringify(args.path)});` }));
        },
      },
    ],
  });
  return { shared: [...shared], metafile: result.metafile };
}

/** Pass 3: vendor.js, one loader per package. */
async function buildVendor(packages) {
  const entry = [`const loaders = {`, ...[...packages].sort().map((p) => `  ${JSON.stringify(p)}: () => require(${JSON.stringify(p)}),`), `};`, `exports.load = (name) => loaders[name]();`].join('\n');
  const result = await build({
    ...common,
    stdin: { contents: entry, resolveDir: root, sourcefile: 'vendor-entry.js', loader: 'js' },
    outfile: join(outdir, VENDOR),
    sourcemap: false,
    external: ['vscode'],
  });
  return result.metafile;
}

/** Pass 4: extension.js; a split point requires features.js (linking it once) or vendor.js. */
async function buildMain(inMain, shared) {
  const result = await build({
    ...common,
    entryPoints: ['src/vscode/extension.ts'],
    outfile,
    sourcemap: production ? false : 'linked',
    external: ['vscode', FEATURES, VENDOR],
    plugins: [
      lazyBuiltins,
      {
        name: 'split-points',
        setup(b) {
          b.onResolve({ filter: /^features-linker$/ }, () => ({ path: 'features-linker', namespace: 'features-linker' }));
          b.onLoad({ filter: /.*/, namespace: 'features-linker' }, () => ({
            loader: 'js',
            resolveDir: root,
            contents: [
              ...shared.map((p, i) => `import * as s${i} from ${JSON.stringify(p)};`),
              `let features;`,
              `export function load(id) {`,
              `  if (!features) {`,
              `    features = require(${JSON.stringify(FEATURES)});`,
              `    features.__link({ ${shared.map((p, i) => `${JSON.stringify(rel(p))}: s${i}`).join(', ')} });`,
              `  }`,
              `  return features.load(id);`,
              `}`,
            ].join('\n'),
          }));
          b.onResolve({ filter: /.*/ }, async (args) => {
            if (args.kind !== 'require-call' || args.pluginData?.inner || isBuiltin(args.path) || args.namespace !== 'file') return undefined;
            const r = await resolveFor(b, args);
            if (inMain.has(r.path)) return undefined;
            const pkg = packageOf(r.path);
            return pkg ? { path: pkg, namespace: 'vendor' } : { path: r.path, namespace: 'feature' };
          });
          b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({ loader: 'js', contents: `module.exports = require(${JSON.stringify(VENDOR)}).load(${JSON.stringify(args.path)});` }));
          b.onLoad({ filter: /.*/, namespace: 'feature' }, (args) => ({ loader: 'js', resolveDir: root, contents: `module.exports = require('features-linker').load(${JSON.stringify(rel(args.path))});` }));
        },
      },
    ],
  });
  return result.metafile;
}

mkdirSync(outdir, { recursive: true });
const { inMain, own, packages } = await analyse();
const features = await buildFeatures(inMain, own, packages);
const vendorMeta = await buildVendor(packages);
const mainMeta = await buildMain(inMain, features.shared);
const merged = { inputs: { ...vendorMeta.inputs, ...features.metafile.inputs, ...mainMeta.inputs }, outputs: { ...vendorMeta.outputs, ...features.metafile.outputs, ...mainMeta.outputs } };
writeFileSync(join(outdir, 'meta.json'), JSON.stringify(merged));

// The policy CLI for CI (`node dist/mlspanner-policy.js test|matrix|diff`): a separate single
// file, so nothing of it is in the extension's files. Not built for a profiling --outfile build.
if (!process.argv.some((a) => a.startsWith('--outfile='))) {
  await build({
    ...common,
    metafile: false,
    entryPoints: ['src/cli/mlspannerPolicy.ts'],
    outfile: join(outdir, 'mlspanner-policy.js'),
    sourcemap: false,
    banner: { js: '#!/usr/bin/env node' },
  });
}
