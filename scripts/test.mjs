#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts) in its own Node process, a few at a time, and ends with the
// one summary line CI reads: `N passed, N failed`.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['test'];
const files = roots.flatMap((r) => (statSync(r).isDirectory() ? walk(r) : [r])).filter((f) => f.endsWith('.test.ts')).sort();
const concurrency = Number(process.env.TEST_CONCURRENCY || Math.max(2, Math.min(4, os.cpus().length + 1)));
const timeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS || 300_000);
process.env.TEST_DATABASE_URL ||= 'postgres://postgres@127.0.0.1:5432/test';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p) : [p];
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n!! ${file} timed out after ${timeoutMs} ms\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      // A file may print several uvu summaries (suites registered after an await): add them all up.
      const num = (label) => [...out.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
      const total = num('Total');
      let passed = num('Passed');
      let failed = total - passed - num('Skipped');
      if (code !== 0 && failed === 0) failed = 1; // crashed or timed out before uvu could count
      if (code === 0 && total === 0) {
        out += `\n!! ${file} ran no test\n`;
        failed = 1;
      }
      resolve({ file, code, passed, failed, out, ms: Date.now() - started });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    process.stdout.write(`\n=== ${r.file} (${(r.ms / 1000).toFixed(1)} s): ${r.passed} passed, ${r.failed} failed\n${r.out.trimEnd()}\n`);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));

const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
const bad = results.filter((r) => r.failed > 0).map((r) => r.file);
if (bad.length) console.log(`\nFailing files:\n  ${bad.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
