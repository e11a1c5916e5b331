#!/usr/bin/env node
// `npm run build`: compiles src/ to JavaScript in dist/ (tsc, relative `.ts` imports rewritten to `.js`) and copies
// the files the runtime reads beside the code: the dashboard's static files (src/http/dashboard → dist/http/dashboard).
// db/migrations stays where it is: src/db/migrate.ts and dist/db/migrate.js both find it at ../../db/migrations.
// `node scripts/build.mjs --out DIR` builds into DIR instead of dist (the deploy test builds into a temp image).
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1] ?? '') : path.join(root, 'dist');

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}
cpSync(path.join(root, 'src/http/dashboard'), path.join(out, 'http/dashboard'), {
  recursive: true,
  filter: (src) => !src.endsWith('.d.ts'),
});
console.log(`build: ${path.relative(process.cwd(), out) || '.'} is ready (node ${path.relative(process.cwd(), path.join(out, 'main.js'))})`);
