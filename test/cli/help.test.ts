import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../support/cli.ts';

/** `--help` on callrec and on every command, and progress reporting, through `node bin/callrec.js` (no terminal). */

const test = suite('callrec: help and progress');

/** Runs the CLI for each argument list, three at a time (each run is a Node process on a shared, busy machine). */
async function runAll(cases: string[][], env: Record<string, string>) {
  const results: Awaited<ReturnType<typeof runCli>>[] = [];
  for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map((args) => runCli(args, env)))));
  return results;
}

test('callrec --help / -h and every command’s --help print usage and exit 0; no command exits 2', async () => {
  const top = await runCli(['--help'], {});
  assert.is(top.code, 0, top.stderr);
  for (const name of ['migrate', 'history', 'replay', 'orgs', 'token', 'sweep', 'vapi', 'migrate-events', 'doctor']) assert.match(top.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
  const cases: Array<[string[], RegExp]> = [
    [['-h'], /Usage: callrec <command>/],
    [['sweep', '--help'], /Usage: callrec sweep \[--dry-run\] \[--yes\] \[--json\][\s\S]*--dry-run[\s\S]*-y, --yes/],
    [['history', '-h'], /Usage: callrec history <callId> \[--json\]/],
    [['vapi', '--help'], /Usage: callrec vapi <command>[\s\S]*ensure-recording/],
    [['vapi', 'ensure-recording', '-h'], /Usage: callrec vapi ensure-recording \[--dry-run\] \[--json\]/],
    [['orgs', 'map', '--help'], /Usage: callrec orgs map \(--assistant ID/],
    [['token', '--help'], /platform-admin/],
    [['doctor', '--help'], /Usage: callrec doctor/],
  ];
  const results = await runAll(cases.map(([args]) => args), {});
  results.forEach((r, i) => {
    assert.is(r.code, 0, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, cases[i]![1]);
  });
  const none = await runCli([], {});
  assert.is(none.code, 2);
  assert.match(none.stderr, /Usage: callrec <command>/);
});

test('replay shows progress with counts and rate on stderr, the checksums on stdout', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-strict-'));
  try {
    const r = await runCli(['replay', '--projection', 'call_logs'], { DATA_DIR: dataDir, CALLREC_PROGRESS_INTERVAL_MS: '0' });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /checksum call_logs: [0-9a-f]{32}/);
    assert.match(r.stderr, /^replay call_logs: 0 events in \d+s \(\d+ events\/s\), 0 applied$/m);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
