import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// scripts/import-graph.mjs is the check of issue 13: the CLI and HTTP are two peers on top, nothing below
// them imports either. It reads files only (no database), so it runs with every `npm test`.
const run = (...args: string[]) => spawnSync(process.execPath, ['scripts/import-graph.mjs', ...args], { encoding: 'utf8' });

test('no import points the wrong way between src/cli, src/http and the layers below', () => {
  const r = run();
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no violations/);
});

test('no import cycle runs through src/cli, src/http, service.ts or main.ts', () => {
  const r = run('--cycles');
  const cycles = r.stdout.split('\n').filter((l) => /^\s+\d+ files: /.test(l));
  const onTop = cycles.filter((l) => /src\/(cli|http)\/|src\/(service|main)\.ts/.test(l));
  assert.equal(onTop, [], r.stdout);
});

test.run();
