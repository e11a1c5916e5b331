import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { startEmbeddedMaintenance } from '../../src/db/maintenance.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { backends } from '../support/databases.ts';

// PGlite runs no autovacuum: callrec vacuums and analyses it itself once the log has grown by a fraction
// of its size, so the planner's statistics follow the log. On PostgreSQL autovacuum does it and this is a no-op.
for (const backend of await backends()) {
  test(`embedded maintenance after the log grows [${backend.name}]`, async () => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    const m = startEmbeddedMaintenance(t.database, { headPosition: () => store.headPosition(), minEvents: 100, checkEveryMs: 3_600_000 });
    try {
      const meta = { correlationId: randomUUID(), causationId: null, orgId: 'org-1', recordedAt: new Date().toISOString(), actor: 'test' };
      await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          store.append(`call-m${i}`, [{ eventId: randomUUID(), type: 'CallStatusChanged', data: { callId: `m${i}`, orgId: 'org-1', status: 'ringing', at: meta.recordedAt, endedReason: null }, metadata: meta }], 'no_stream'),
        ),
      );
      const ran = await m.runNow();
      if (backend.name === 'postgres') {
        assert.is(ran, false, 'PostgreSQL has its own autovacuum');
        return;
      }
      assert.is(ran, true);
      const stats = await sql<{ relname: string; last_analyze: Date | null; last_vacuum: Date | null }>`
        select relname, last_analyze, last_vacuum from pg_stat_user_tables where relname in ('events', 'streams')`.execute(t.database.db);
      for (const r of stats.rows) {
        assert.ok(r.last_analyze, `${r.relname} analysed`);
        assert.ok(r.last_vacuum, `${r.relname} vacuumed`);
      }
      assert.is(await m.runNow(), false, 'no run until the log grows again');
    } finally {
      await m.stop();
      await store.close();
      await t.close();
    }
  });
}

test.run();
