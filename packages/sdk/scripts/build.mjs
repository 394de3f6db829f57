// Builds the SDK: dist/strata.min.js (the <script> build, IIFE), dist/index.js (ESM) and its types,
// then prints the gzip size of the script build. Run by `npm install` (root postinstall) and `npm run build`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `node scripts/build.mjs [outDir]`: tests build into a temporary directory.
const dist = resolve(process.argv[2] ?? join(root, 'dist'));
const target = ['es2020', 'chrome80', 'firefox78', 'safari14'];

rmSync(dist, { recursive: true, force: true });
await build({ entryPoints: [join(root, 'src/snippet.ts')], outfile: join(dist, 'strata.min.js'), bundle: true, format: 'iife', minify: true, target, legalComments: 'none' });
await build({ entryPoints: [join(root, 'src/index.ts')], outfile: join(dist, 'index.js'), bundle: true, format: 'esm', target, platform: 'browser' });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
// The sources import './x.ts'; published declarations must name what sits beside them.
rmSync(join(dist, 'snippet.d.ts'));
for (const f of readdirSync(dist).filter((n) => n.endsWith('.d.ts'))) {
  const p = join(dist, f);
  writeFileSync(p, readFileSync(p, 'utf8').replace(/(from '\.\/[\w-]+)\.ts'/g, "$1.js'"));
}

const min = readFileSync(join(dist, 'strata.min.js'));
console.log(`@strata/sdk: dist/strata.min.js ${(min.length / 1024).toFixed(1)} KB, ${(gzipSync(min, { level: 9 }).length / 1024).toFixed(2)} KB gzipped (limit 10 KB)`);
