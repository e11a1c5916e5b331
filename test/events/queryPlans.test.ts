import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { backends } from '../support/databases.ts';

// The poll queries must stay on their indexes as the log grows: a sequential scan of the events table
// would make every subscriber's poll cost grow with the size of the log.
for (const backend of await backends()) {
  const test = suite(`event store query plans [${backend.name}]`);

  test('read-all, read-stream and the append lookups use their indexes on a large log', async () => {
    const t = await backend.open();
    try {
      const { db } = t.database;
      await sql`
        insert into ${sql.table('events')} (position, stream_id, stream_revision, event_id, type, data, metadata)
        select g, 'call-' || (g % 5000), g / 5000, md5(g::text)::uuid, 'CallStatusChanged', '{}'::jsonb, '{}'::jsonb
          from generate_series(1, 50000) g`.execute(db);
      await sql`analyze ${sql.table('events')}`.execute(db);
      const plan = async (q: ReturnType<typeof sql>) => (await sql<Record<string, string>>`explain ${q}`.execute(db)).rows.map((r) => Object.values(r)[0]).join('\n');

      const readAll = await plan(sql`select * from ${sql.table('events')} where position > ${40000} order by position limit 1000`);
      assert.match(readAll, /Index Scan using events_pkey/);
      assert.not.match(readAll, /Seq Scan/);

      const readStream = await plan(sql`select * from ${sql.table('events')} where stream_id = ${'call-42'} and stream_revision >= ${0} order by stream_revision limit 100000`);
      assert.match(readStream, /events_stream_revision_key/);
      assert.not.match(readStream, /Seq Scan/);

      const byId = await plan(sql`select 1 from ${sql.table('events')} where event_id = any(${[md5uuid(7), md5uuid(8)]}::uuid[])`);
      assert.match(byId, /events_event_id_key/);
      assert.not.match(byId, /Seq Scan/);
    } finally {
      await t.close();
    }
  });

  test.run();
}

function md5uuid(n: number): string {
  // Same as md5(n::text)::uuid in SQL.
  const h = createHash('md5').update(String(n)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
