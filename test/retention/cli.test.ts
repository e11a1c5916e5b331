import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { DAY, seedCall } from '../sweep/support.ts';
import { runCli } from '../support/cli.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';

/**
 * `callrec orgs retention` and `callrec retention` as a user runs them: `node bin/callrec.js` with a temp DATA_DIR
 * (local storage) on a fresh PostgreSQL database (the embedded one when PostgreSQL is not reachable: each command
 * then boots it, which is slow on a busy machine).
 */
const usePostgres = (await backends()).some((b) => b.name === 'postgres');

const exists = (p: string) => stat(p).then(() => true, () => false);

const test = suite('callrec orgs retention / callrec retention');

test('set, print and reset an org policy; bad values exit 2 naming the flag; a run deletes what expired, a dry run nothing', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-retention-'));
  let databaseUrl: string | undefined;
  try {
    const env: Record<string, string> = { DATA_DIR: dataDir, RECORDING_SIGNING_SECRET: 'cli-retention-signing-secret-0123', RETENTION_RECORDING_DAYS: '90', USER: 'dana' };
    if (usePostgres) Object.assign(env, { DATABASE_URL: (databaseUrl = await createTestDatabase()), PII_MASTER_KEY: randomBytes(32).toString('base64') });
    const open = () => connectDatabase(databaseUrl ? { databaseUrl } : { pgliteDir: path.join(dataDir, 'pg') });
    const root = path.join(dataDir, 'recordings');
    const now = Date.now();
    const put = async (rel: string) => {
      const file = path.join(root, ...rel.split('/'));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, Buffer.alloc(1024, 1));
      return file;
    };
    const aPath = 'org-a/2026/01/02/a40.wav';
    const bPath = 'org-b/2026/01/02/b60.wav';
    const aFile = await put(aPath);
    const bFile = await put(bPath);
    const database = await open();
    let a40: string;
    try {
      await migrate(database);
      const store = createPostgresEventStore(database);
      a40 = await seedCall(store, 'org-a', new Date(now - 40 * DAY), aPath);
      await seedCall(store, 'org-b', new Date(now - 60 * DAY), bPath);
      await store.close();
    } finally {
      await database.close();
    }

    // Bad values change nothing and name the flag.
    for (const [args, flagName] of [
      [['--recordings', 'abc'], '--recordings'],
      [['--recordings', '0'], '--recordings'],
      [['--transcripts', '3.5'], '--transcripts'],
    ] as const) {
      const bad = await runCli(['orgs', 'retention', '--org', 'org-a', ...args], env);
      assert.is(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, flagName);
    }
    const badOrg = await runCli(['orgs', 'retention', '--org', 'not an org!', '--recordings', '30'], env);
    assert.is(badOrg.code, 2);
    assert.match(badOrg.stderr, /--org/);

    // (Each run below opens the embedded database: a few seconds each on a busy machine, so they are few.)

    const set = await runCli(['orgs', 'retention', '--org', 'org-a', '--recordings', '30', '--transcripts', '365'], env);
    assert.is(set.code, 0, set.stderr);
    assert.match(set.stdout, /recordings: +30 days after the call ended \(org override\)/);
    assert.match(set.stdout, /transcripts: +365 days after the call ended \(org override\)/);
    const shown = await runCli(['orgs', 'retention', '--org', 'org-a'], env);
    assert.is(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /recordings: +30 days .*org override/);
    assert.match(shown.stdout, /set by cli:dana at /);

    const dry = await runCli(['retention', '--dry-run'], env);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: nothing was deleted or written/);
    assert.match(dry.stdout, new RegExp(`would delete recording {2}call ${a40} {2}org org-a {2}${aPath}`));
    assert.match(dry.stdout, /would expire 1 recording\(s\) and 0 transcript\(s\)/);
    assert.match(dry.stderr, /retention \(dry run\): \d+ expiries/, 'progress on stderr');
    assert.ok(await exists(aFile), 'a dry run deletes nothing');

    const real = await runCli(['retention'], env);
    assert.is(real.code, 0, real.stderr);
    assert.match(real.stdout, new RegExp(`deleted recording {2}call ${a40} {2}org org-a {2}${aPath} {2}\\(ended .*, policy 30 days\\)`));
    assert.not.ok(await exists(aFile));
    assert.ok(await exists(bFile), 'org-b keeps the 90-day default');

    // Back to the default (90 days), shown with where it comes from; the other value keeps its setting.
    const reset = await runCli(['orgs', 'retention', '--org', 'org-a', '--recordings', 'none'], env);
    assert.is(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /recordings: +90 days after the call ended \(default, RETENTION_RECORDING_DAYS\)/);
    assert.match(reset.stdout, /transcripts: +365 days .*org override/, 'a value not given keeps its setting');

    // The log and the read model agree: three RetentionPolicySet by cli:dana, org_retention holds the last one.
    const db2 = await open();
    try {
      const store = createPostgresEventStore(db2);
      const policy = await store.readStream('retention-org-a');
      assert.equal(policy.map((e) => [e.type, e.metadata.actor]), [['RetentionPolicySet', 'cli:dana'], ['RetentionPolicySet', 'cli:dana']]);
      assert.equal(policy[1]!.data, { orgId: 'org-a', recordingDays: null, transcriptDays: 365 });
      const expired = (await store.readStream(`call-${a40}`)).filter((e) => e.type === 'RecordingExpired');
      assert.is(expired.length, 1);
      assert.is(expired[0]!.metadata.actor, 'system:retention');
      assert.is(expired[0]!.metadata.triggeredBy, 'cli:dana');
      const row = await db2.db.selectFrom('org_retention').selectAll().where('org_id', '=', 'org-a').executeTakeFirstOrThrow();
      assert.equal([row.recording_days, row.transcript_days, row.updated_by], [30, 365, 'cli:dana'], 'as of the last retention run (it caught the projection up)');
      await store.close();
    } finally {
      await db2.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  }
});

test.run();
