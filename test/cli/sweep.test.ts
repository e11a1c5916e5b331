import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { DAY, seedCall } from '../sweep/support.ts';
import { runCli } from '../support/cli.ts';

/** `callrec sweep [--dry-run]` as a user runs it: `node bin/callrec.js` on a temp DATA_DIR (embedded database, local storage). */



const exists = (p: string) => stat(p).then(() => true, () => false);

const test = suite('callrec sweep');

test('dry run lists, the real run deletes old unreferenced objects and flags vanished ones', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-sweep-'));
  try {
    const env = { DATA_DIR: dataDir, RECORDING_SIGNING_SECRET: 'cli-sweep-signing-secret-0123456' };
    const root = path.join(dataDir, 'recordings');
    const now = Date.now();
    const put = async (rel: string, ageDays: number) => {
      const file = path.join(root, ...rel.split('/'));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, Buffer.alloc(2048, 1));
      const t = new Date(now - ageDays * DAY);
      await utimes(file, t, t);
      return file;
    };
    const referenced = await put('org-a/2026/01/02/ref.wav', 60);
    const orphan = await put('org-a/2026/01/03/orphan.wav', 30);
    const young = await put('org-a/2026/01/04/young.wav', 1);

    // The calls, in the embedded database the CLI will open (closed again before it runs).
    const database = await connectDatabase({ pgliteDir: path.join(dataDir, 'pg') });
    let missingCall: string;
    try {
      await migrate(database);
      const store = createPostgresEventStore(database);
      await seedCall(store, 'org-a', new Date(now - 60 * DAY), 'org-a/2026/01/02/ref.wav');
      missingCall = await seedCall(store, 'org-a', new Date(now - 60 * DAY), 'org-a/2026/01/05/gone.wav');
      await store.close();
    } finally {
      await database.close();
    }

    const dry = await runCli(['sweep', '--dry-run'], env);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: nothing was deleted or written/);
    assert.match(dry.stdout, /would delete {2}org-a\/2026\/01\/03\/orphan\.wav {2}2048 bytes {2}30 days old/);
    assert.match(dry.stdout, new RegExp(`would flag missing {2}call ${missingCall}`));
    assert.match(dry.stdout, /scanned 3, would delete 1 .* kept 1 referenced and 1 younger than 7 days/);
    assert.ok(await exists(orphan), 'a dry run deletes nothing');

    const real = await runCli(['sweep', '--yes'], env);
    assert.is(real.code, 0, real.stderr);
    assert.match(real.stdout, /deleted {2}org-a\/2026\/01\/03\/orphan\.wav/);
    assert.match(real.stdout, new RegExp(`flagged missing {2}call ${missingCall}`));
    assert.match(real.stdout, /scanned 3, deleted 1 .*flagged 1 missing, failed 0/);
    assert.not.ok(await exists(orphan));
    assert.ok(await exists(referenced));
    assert.ok(await exists(young));

    const again = await runCli(['sweep', '--yes'], env);
    assert.is(again.code, 0, again.stderr);
    // Same day again: nothing left to delete, and the vanished recording is not flagged a second time.
    assert.match(again.stdout, /orphan sweep \d{4}-\d{2}-\d{2}\.2/);
    assert.match(again.stdout, /scanned 2, deleted 0 .*flagged 0 missing/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
