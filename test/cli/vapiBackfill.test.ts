import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { makeFakeAssistants, startFakeVapiApi, type FakeAssistant } from '../fakes/vapiApi.ts';
import { makeFakeCall } from '../fakes/vapiCalls.ts';
import { createTestDatabase, dropTestDatabase, backends } from '../support/databases.ts';
import { runCli } from '../support/cli.ts';

/** `callrec vapi backfill` and `callrec vapi ensure-recording --server-retries N`, as a user runs them. */

const API_KEY = 'vapi-private-key-for-backfill-tests';
const test = suite('callrec vapi backfill / --server-retries');
const postgres = (await backends()).some((b) => b.name === 'postgres');

test('backfill: bad arguments name the argument and touch nothing', async () => {
  const api = await startFakeVapiApi({ apiKey: API_KEY });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-backfill-'));
  try {
    const env = { DATA_DIR: dataDir, VAPI_API_URL: api.url, VAPI_API_KEY: API_KEY };
    for (const [args, pattern] of [
      [[], /--since is required/],
      [['--since', 'last tuesday'], /--since must be an ISO date/],
      [['--since', '2026-02-01', '--until', '2026-01-01'], /must be before --until/],
      [['--since', '2026-01-01', '--limit', '5'], /unknown option --limit for callrec vapi backfill/],
      [['--since'], /--since/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli(['vapi', 'backfill', ...args], env);
      assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    const { VAPI_API_KEY: _k, ...noKey } = env;
    const r = await runCli(['vapi', 'backfill', '--since', '2026-01-01'], noKey);
    assert.is(r.code, 2);
    assert.match(r.stderr, /VAPI_API_KEY/);
    assert.is(api.requests.length, 0);
  } finally {
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

if (postgres) {
  test('backfill: a dry run lists and writes nothing; the real run brings every ended call in, once; progress on stderr', async () => {
    const url = await createTestDatabase();
    const t0 = Date.parse('2026-01-10T00:00:00Z');
    // 1,200 ended calls over a week of history (two pages of 1,000), 5 still in progress, 3 outside the window
    const calls = Array.from({ length: 1200 }, (_, i) => makeFakeCall({ createdAt: new Date(t0 + i * 60_000 * 10) }));
    const live = Array.from({ length: 5 }, () => makeFakeCall({ createdAt: new Date(t0 + 3600_000), ended: false }));
    const outside = Array.from({ length: 3 }, () => makeFakeCall({ createdAt: new Date(Date.parse('2025-12-01T00:00:00Z')) }));
    const api = await startFakeVapiApi({ apiKey: API_KEY, calls: [...calls, ...live, ...outside] });
    try {
      const env = { DATABASE_URL: url, DATA_DIR: '/tmp', VAPI_API_URL: api.url, VAPI_API_KEY: API_KEY };
      const window = ['--since', '2026-01-01', '--until', '2026-03-01T00:00:00Z'];
      const dry = await runCli(['vapi', 'backfill', ...window, '--dry-run', '--json'], env);
      assert.is(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout);
      assert.is(plan.listed, 1205);
      assert.is(plan.recovered.length, 1200);
      assert.is(plan.notEnded, 5);
      const database = await connectDatabase({ databaseUrl: url, poolSize: 2 });
      try {
        const count = async (type: string) => Number((await database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).where('type', '=', type).executeTakeFirstOrThrow()).n);
        assert.is(await count('CallEnded'), 0);

        const real = await runCli(['vapi', 'backfill', ...window], { ...env, CALLREC_PROGRESS_INTERVAL_MS: '0' });
        assert.is(real.code, 0, real.stderr);
        assert.match(real.stdout, /listed 1205, recovered 1200, already in callrec 0, not ended 5, failed 0/);
        assert.match(real.stderr, /vapi backfill: 1,000 calls listed/);
        assert.match(real.stderr, /vapi backfill: 1,205 calls listed in .*, 1200 recovered, 0 failed/);
        assert.is(await count('CallEnded'), 1200);
        assert.is(await count('ReconciliationCompleted'), 1);
        // the scheduled reconciler's watermark is not moved by a backfill
        const wm = await database.db.selectFrom('checkpoints').select('position').where('name', '=', 'reconciler:watermark').executeTakeFirst();
        assert.is(wm, undefined);

        const again = await runCli(['vapi', 'backfill', ...window], env);
        assert.is(again.code, 0, again.stderr);
        assert.match(again.stdout, /recovered 0, already in callrec 1200/);
        assert.is(await count('CallEnded'), 1200);
      } finally {
        await database.close();
      }
    } finally {
      await api.close();
      await dropTestDatabase(url);
    }
  });
}

test('ensure-recording --server-retries N sets an exponential backoffPlan, keeping the other server fields', async () => {
  const assistants: FakeAssistant[] = makeFakeAssistants(3);
  assistants[0]!.server = { url: 'https://callrec.example.com/webhooks/vapi', timeoutSeconds: 20, headers: { 'x-vapi-secret': 's' } };
  assistants[1]!.server = { url: 'https://callrec.example.com/webhooks/vapi', backoffPlan: { type: 'exponential', maxRetries: 3, baseDelaySeconds: 2 } };
  // assistants[2] has no server of its own (it uses the org's server URL): left alone and reported
  const api = await startFakeVapiApi({ apiKey: API_KEY, assistants });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-retries-'));
  try {
    const env = { DATA_DIR: dataDir, VAPI_API_URL: api.url, VAPI_API_KEY: API_KEY };
    for (const bad of ['eleven', '11', '-1']) {
      const r = await runCli(['vapi', 'ensure-recording', `--server-retries=${bad}`], env);
      assert.is(r.code, 2);
      assert.match(r.stderr, /--server-retries must be a whole number from 0 to 10/);
    }
    assert.is(api.patchCount, 0);
    const r = await runCli(['vapi', 'ensure-recording', '--server-retries', '3'], env);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /BACKOFF/);
    assert.match(r.stdout, /server retries set on 1/);
    assert.match(r.stdout, /no-server/);
    const a0 = api.assistants.get(assistants[0]!.id)!;
    assert.equal(a0.server, { url: 'https://callrec.example.com/webhooks/vapi', timeoutSeconds: 20, headers: { 'x-vapi-secret': 's' }, backoffPlan: { type: 'exponential', maxRetries: 3, baseDelaySeconds: 2 } });
    assert.is((a0.artifactPlan as { recordingEnabled?: boolean }).recordingEnabled, true);
    assert.is(api.assistants.get(assistants[2]!.id)!.server, undefined);
    // without the flag nothing about server changes
    const again = await runCli(['vapi', 'ensure-recording'], env);
    assert.is(again.code, 0);
    assert.not.match(again.stdout, /BACKOFF/);
  } finally {
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
