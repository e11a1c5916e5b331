import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import pg from 'pg';
import { decideCallEnded } from '../../src/commands/callIngest.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createCallLogsProjector } from '../../src/projections/callLogs/projector.ts';
import { testKeyring } from '../support/keyring.ts';
import type { Projector } from '../../src/projections/projector.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { createProjectionRunner } from '../../src/projections/runner.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

const test = suite('PostgreSQL connections dropped mid-transaction');
const postgres = (await backends()).some((b) => b.name === 'postgres');

if (postgres) {
  test('no partial projection, and the runner recovers to exactly the rebuilt state', async () => {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 6, applicationName: 'callrec-under-test' });
    await migrate(database);
    const store = createPostgresEventStore(database);
    const callLogsProjector = createCallLogsProjector(testKeyring(database));
    let applying: (() => void) | undefined;
    let killed = 0;
    // The real projector, holding its transaction open a moment after writing so the test can cut it.
    const slow: Projector = {
      ...callLogsProjector,
      async apply(trx, events, prepared) {
        await callLogsProjector.apply(trx, events, prepared);
        applying?.();
        await sql`select pg_sleep(0.3)`.execute(trx);
      },
    };
    const runner = createProjectionRunner({ database, store, projectors: [slow], instanceId: 'solo', batchSize: 10, leaseMs: 1000 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const now = new Date('2026-11-20T10:00:00Z');
      for (let i = 0; i < 60; i++) {
        const d = decideCallEnded(
          { callId: `drop-${i}`, vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null, startedAt: null, endedAt: now.toISOString(), durationSeconds: 1, endedReason: 'x', transcript: `call ${i}`, summary: null, cost: null, recordingUrl: null, stereoRecordingUrl: null, messageAt: null },
          { orgId: 'org', correlationId: `c${i}`, now },
        );
        assert.ok((await store.append(d.streamId, [d.event])).ok);
      }
      runner.start();
      // Three times: wait until a batch has written its rows (uncommitted), then kill every connection.
      for (let round = 0; round < 3; round++) {
        await new Promise<void>((r) => (applying = r));
        applying = undefined;
        const r = await admin.query("select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = 'callrec-under-test' and pid <> pg_backend_pid()");
        killed += Number(r.rows[0].n);
        // Whatever the reader sees now is committed state: every row's call is covered by the checkpoint.
        const cp = await admin.query("select position from callrec.checkpoints where name = 'call_logs'");
        const rows = await admin.query('select max(last_position) as maxpos, count(*) as n from callrec.call_logs');
        assert.ok(Number(rows.rows[0].maxpos ?? 0) <= Number(cp.rows[0]?.position ?? 0), 'no row beyond the checkpoint');
      }
      assert.ok(killed > 0);
      const head = await store.headPosition();
      await eventually(`call_logs at ${head}`, async () => (await runner.positions().catch(() => ({ call_logs: 0 }))).call_logs >= head, { timeoutMs: 30_000, intervalMs: 100 });
      await runner.stop();
      const live = await tableChecksum(database.db, 'call_logs');
      assert.is(live.rows, 60);
      await rebuildProjection(database.db, store, callLogsProjector);
      assert.equal(await tableChecksum(database.db, 'call_logs'), live);
    } finally {
      await runner.stop();
      await admin.end();
      await store.close();
      await database.close();
      await dropTestDatabase(url);
    }
  });
}

test.run();
