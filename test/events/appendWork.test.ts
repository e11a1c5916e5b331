import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import { appendBatch, type AppendRequest } from '../../src/events/postgres/appendBatch.ts';
import { backends } from '../support/databases.ts';
import { measureWork, type Work } from '../support/work.ts';

// The work one append does must not grow with the log. A service keeps its connections for weeks, and
// PL/pgSQL caches the plans of the statements inside callrec_append per connection: a plan chosen while the
// tables were small (sequential scans) would otherwise make every later append read the whole log.
// Timing cannot tell that apart on a busy machine, so this counts work instead: table and index blocks
// touched and rows read by sequential scans, from the statistics counters of the current transaction
// (pg_stat_get_xact_*), around the real append (appendBatch → callrec_append) on ONE long-lived connection,
// before and after the log grows on that same connection.

const GROW_TO = Number(process.env.APPEND_WORK_GROW_TO || 30_000);

function event(i: number) {
  return {
    eventId: randomUUID(),
    type: 'CallStatusChanged',
    data: { callId: `c-${i}`, orgId: 'org-1', status: 'in-progress', at: '2026-11-20T10:00:00.000Z', endedReason: null, pad: 'x'.repeat(600) },
    metadata: { correlationId: randomUUID(), causationId: null, orgId: 'org-1', recordedAt: '2026-11-20T10:00:00.000Z', actor: 'test' },
  };
}

/** The work of one append of `requests`, measured inside its own transaction on `conn`. */
async function workOf(conn: Kysely<DB>, requests: AppendRequest[]): Promise<Work> {
  const { work } = await measureWork(conn, async () => {
    const results = await appendBatch(conn, requests);
    for (const r of results) if (!r.ok) throw new Error(r.error.message);
  });
  return work;
}

let streamNo = 0;
const single = (): AppendRequest[] => [{ streamId: `call-w-${streamNo++}`, expected: 'no_stream', events: [event(streamNo)] }];
const hundred = (): AppendRequest[] => [{ streamId: `call-w-${streamNo++}`, expected: 'no_stream', events: Array.from({ length: 100 }, (_, k) => event(k)) }];
// Several requests on one stream, and a repeat: the request-by-request path of callrec_append.
function general(): AppendRequest[] {
  const s = `call-w-${streamNo++}`;
  const first = event(1);
  return [
    { streamId: s, expected: 'no_stream', events: [first] },
    { streamId: s, expected: 0, events: [event(2), event(3)] },
    { streamId: s, expected: 'any', events: [first] },
  ];
}
const shapes = { single, hundred, general } as const;

for (const backend of await backends()) {
  const test = suite(`append work on a growing log, one connection [${backend.name}]`);

  test(`one append touches as many blocks at ${GROW_TO.toLocaleString('en-US')} events as on an empty log`, async () => {
    const t = await backend.open();
    try {
      await t.database.db.connection().execute(async (conn) => {
        // Young log: run every shape often enough for PL/pgSQL to settle on its cached plans (5+ runs).
        const young: Record<string, Work> = {};
        for (const [name, make] of Object.entries(shapes)) {
          for (let i = 0; i < 8; i++) young[name] = await workOf(conn, make());
        }
        // Grow the log on the same connection: calls of 7 events, 500 calls per append.
        let grown = 0;
        while (grown < GROW_TO) {
          const reqs: AppendRequest[] = Array.from({ length: 500 }, () => ({
            streamId: `call-g-${streamNo++}`,
            expected: 'no_stream' as const,
            events: Array.from({ length: 7 }, (_, k) => event(k)),
          }));
          await appendBatch(conn, reqs);
          grown += 3500;
        }
        for (const [name, make] of Object.entries(shapes)) {
          let old: Work = { blocks: 0, seqTuples: 0, seqScans: 0 };
          for (let i = 0; i < 3; i++) old = await workOf(conn, make());
          const y = young[name]!;
          const msg = `${name} append: young log ${JSON.stringify(y)}, grown log ${JSON.stringify(old)}`;
          console.log(`  [${backend.name}] ${msg}`);
          // No sequential scan reads the log: whatever rows seq scans return stay a small constant
          // (a one-row head table may be read that way), never thousands of events.
          assert.ok(old.seqTuples <= y.seqTuples + 20, msg);
          // Index descents grow with log2 of the size: a few more blocks, not a few hundred.
          assert.ok(old.blocks <= y.blocks * 1.5 + 40, msg);
        }
      });
    } finally {
      await t.close();
    }
  });

  test('positions continue after the log when its head row is missing or behind it', async () => {
    const t = await backend.open();
    try {
      const { db } = t.database;
      const pos = async () => {
        const [r] = await appendBatch(db, single());
        if (!r!.ok) throw new Error(r!.error.message);
        return r!.positions[0]!;
      };
      assert.is(await pos(), 1);
      await sql`delete from ${sql.table('event_log_head')}`.execute(db);
      assert.is(await pos(), 2);
      await sql`insert into ${sql.table('events')} (position, stream_id, stream_revision, event_id, type, data, metadata)
                values (3, 'call-by-hand', 0, ${randomUUID()}, 'CallStatusChanged', '{}', '{}')`.execute(db);
      assert.is(await pos(), 4);
      assert.is(await pos(), 5);
    } finally {
      await t.close();
    }
  });

  test('a large event is stored out of line as it is, without a compression attempt (sealed text does not compress)', async () => {
    const t = await backend.open();
    try {
      const { db } = t.database;
      // Compressible on purpose: were the column still compressed, pglz would take it (and try every sealed value too).
      const big = { ...event(1), data: { callId: 'c-big', orgId: 'org-1', transcript: 'AI: hello. '.repeat(2000) } };
      const [r] = await appendBatch(db, [{ streamId: 'call-big', expected: 'no_stream', events: [big] }]);
      if (!r!.ok) throw new Error(r!.error.message);
      const row = await sql<{ compression: string | null; size: number }>`
        select pg_column_compression(data) as compression, pg_column_size(data) as size
          from ${sql.table('events')} where position = ${r!.positions[0]!}`.execute(db);
      assert.is(row.rows[0]!.compression, null);
      assert.ok(Number(row.rows[0]!.size) > 20_000, `stored ${row.rows[0]!.size} bytes`);
    } finally {
      await t.close();
    }
  });

  test.run();
}
