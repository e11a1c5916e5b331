import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../support/cli.ts';

/**
 * A CLI that cannot surprise, through `node bin/callrec.js` (no terminal, as in cron or CI): every command parses
 * its arguments strictly, a typo exits 2 naming it and does nothing, `--help` prints usage and exits 0, a deleting
 * sweep needs --yes, long commands report progress, configuration errors never print a secret.
 */

const test = suite('callrec: strict arguments, --yes, config errors');
const DAY = 86_400_000;
const exists = (p: string) => stat(p).then(() => true, () => false);

/** Runs the CLI for each argument list, three at a time (each run is a Node process on a shared, busy machine). */
async function runAll(cases: string[][], env: Record<string, string>) {
  const results: Awaited<ReturnType<typeof runCli>>[] = [];
  for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map((args) => runCli(args, env)))));
  return results;
}

/** A DATA_DIR holding one 30-day-old recording that no call references: any real sweep deletes it. */
async function withOrphan(fn: (env: Record<string, string>, orphan: string) => Promise<void>) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-strict-'));
  try {
    const orphan = path.join(dataDir, 'recordings', 'org-a', '2026', '01', '03', 'orphan.wav');
    await mkdir(path.dirname(orphan), { recursive: true });
    await writeFile(orphan, Buffer.alloc(4096, 1));
    const t = new Date(Date.now() - 30 * DAY);
    await utimes(orphan, t, t);
    await fn({ DATA_DIR: dataDir, RECORDING_SIGNING_SECRET: 'strict-args-signing-secret-0123' }, orphan);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('callrec sweep --dryrun, --dry-run=true and a sweep without --yes (no terminal) exit 2 and delete nothing', async () => {
  await withOrphan(async (env, orphan) => {
    const [typo, withValue, noYes, positional] = await runAll([['sweep', '--dryrun'], ['sweep', '--dry-run=true'], ['sweep'], ['sweep', 'now']], env);
    assert.is(typo.code, 2);
    assert.match(typo.stderr, /unknown option --dryrun for callrec sweep; did you mean --dry-run\?/);
    assert.is(withValue.code, 2);
    assert.match(withValue.stderr, /--dry-run is a flag and takes no value/);
    assert.is(noYes.code, 2);
    assert.match(noYes.stderr, /no terminal to confirm on: pass --yes to delete, or --dry-run/);
    assert.is(positional.code, 2);
    assert.match(positional.stderr, /unexpected argument "now"/);
    for (const r of [typo, withValue, noYes, positional]) assert.is(r.stdout, '', 'nothing ran');
    assert.ok(await exists(orphan), 'nothing was deleted');

    // The same sweep with --yes deletes it, and reports progress on stderr (a line per interval; here every page).
    const real = await runCli(['sweep', '--yes'], { ...env, CALLREC_PROGRESS_INTERVAL_MS: '0' });
    assert.is(real.code, 0, real.stderr);
    assert.match(real.stdout, /deleted {2}org-a\/2026\/01\/03\/orphan\.wav/);
    assert.match(real.stderr, /^sweep: 1 objects, \d+ objects\/s, \d+s elapsed$/m);
    assert.match(real.stderr, /^sweep: 1 objects in \d+s/m);
    assert.not.ok(await exists(orphan));
  });
});

test('other commands: unknown options, missing values and bad arguments exit 2 naming them', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['history'], /callrec history needs a call id/],
    [['history', 'a', 'b'], /unexpected argument "b"/],
    [['replay', '--projection'], /--projection needs a value \(--projection NAME\)/],
    [['replay', '--projections', 'call_logs'], /unknown option --projections for callrec replay; did you mean --projection\?/],
    [['token', '--org', 'a', '--user', 'u', '--role', 'root'], /--role must be one of member, auditor, admin, platform-admin/],
    [['token', '--org', 'a', '--usr', 'u'], /unknown option --usr.*did you mean --user\?/],
    [['vapi', 'ensure-recordings'], /unknown command "ensure-recordings" for callrec vapi; did you mean ensure-recording\?/],
    [['vapi', 'ensure-recording', '--dryrun'], /unknown option --dryrun for callrec vapi ensure-recording/],
    [['vapi'], /callrec vapi needs a command: ensure-recording/],
    [['orgs', 'map', '--assistant', 'a1'], /--org is required/],
    [['migrate-events', '--from', 'postgres', '--to'], /--to needs a value/],
    [['swep'], /unknown command "swep"/],
  ];
  const results = await runAll(cases.map(([args]) => args), {});
  results.forEach((r, i) => {
    assert.is(r.code, 2, cases[i]![0].join(' '));
    assert.match(r.stderr, cases[i]![1]);
  });
});

test('a configuration error names the variable and the rule, never the value of a secret', async () => {
  const r = await runCli(['migrate'], { RECORDING_SIGNING_SECRET: 'short-secret', METRICS_TOKEN: 'tiny-token', DATABASE_URL: 'not a url with password hunter2' });
  assert.is(r.code, 2);
  assert.match(r.stderr, /RECORDING_SIGNING_SECRET: must be at least 16 characters/);
  assert.match(r.stderr, /METRICS_TOKEN: must be at least 16 characters/);
  assert.match(r.stderr, /DATABASE_URL: must be a URL/);
  assert.not.match(r.stderr, /short-secret|tiny-token|hunter2/);
});

test.run();
