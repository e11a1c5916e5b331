import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { createPostgresEventStore } from '../src/events/postgres/store.ts';
import type { NewEvent } from '../src/events/port.ts';
import { fmt, openBenchDb, postgresAvailable, row, runConcurrent } from './support.ts';

function event(i: number): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'CallStatusChanged',
    data: { callId: `bench-${i}`, orgId: 'org-bench', status: 'in-progress', at: '2026-11-20T10:00:00.000Z', endedReason: null },
    metadata: { correlationId: randomUUID(), causationId: null, orgId: 'org-bench', recordedAt: new Date().toISOString(), actor: 'bench' },
  };
}

/**
 * Append throughput of the event store beside a plain `pg` baseline measured in the same run:
 * one INSERT per event, each its own transaction, same columns, same concurrency.
 */
export async function benchAppends(n = Number(process.env.BENCH_APPENDS || 6000)) {
  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  for (const kind of kinds) {
    console.log(`\nappends on ${kind} (${fmt(n)} events per run)`);
    const b = await openBenchDb(kind);
    try {
      const store = createPostgresEventStore(b.database);
      let baselineRate = NaN;
      if (kind === 'postgres') {
        const pool = new pg.Pool({ connectionString: b.url, max: 20 });
        await pool.query(`create table baseline_events (position bigserial primary key, stream_id text not null, stream_revision bigint not null,
          event_id uuid not null unique, type text not null, data jsonb not null, metadata jsonb not null, recorded_at timestamptz not null default now(),
          unique (stream_id, stream_revision))`);
        const ms = await runConcurrent(n, 20, async (i) => {
          const e = event(i);
          await pool.query('insert into baseline_events (stream_id, stream_revision, event_id, type, data, metadata) values ($1, 0, $2, $3, $4, $5)', [
            `call-base-${i}`, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata),
          ]);
        });
        baselineRate = (n / ms) * 1000;
        row('baseline: plain pg INSERT, one txn each, 20 writers', `${fmt(baselineRate)} ev/s`);
        await pool.end();
      }
      const ratio = (rate: number) => (Number.isFinite(baselineRate) ? `${(rate / baselineRate).toFixed(2)}x baseline` : '');

      const single = Math.min(n, kind === 'pglite' ? 2000 : 2000);
      let ms = await runConcurrent(single, 1, async (i) => {
        const r = await store.append(`call-one-${i}`, [event(i)], 'no_stream');
        if (!r.ok) throw new Error(r.error.message);
      });
      row('callrec append, 1 writer (no_stream check)', `${fmt((single / ms) * 1000)} ev/s`, ratio((single / ms) * 1000));

      ms = await runConcurrent(n, 20, async (i) => {
        const r = await store.append(`call-twenty-${i}`, [event(i)], 'no_stream');
        if (!r.ok) throw new Error(r.error.message);
      });
      const twenty = (n / ms) * 1000;
      row('callrec append, 20 concurrent writers (distinct streams)', `${fmt(twenty)} ev/s`, ratio(twenty));

      const batches = Math.max(1, Math.floor(n / 100));
      ms = await runConcurrent(batches, 20, async (i) => {
        const r = await store.append(`call-batch-${i}`, Array.from({ length: 100 }, (_, k) => event(i * 100 + k)), 'no_stream');
        if (!r.ok) throw new Error(r.error.message);
      });
      const batchRate = ((batches * 100) / ms) * 1000;
      row('callrec append, 100-event batches, 20 writers', `${fmt(batchRate)} ev/s`, ratio(batchRate));

      const counts = await sql<{ n: string; ids: string; maxpos: string }>`select count(*) as n, count(distinct event_id) as ids, max(position) as maxpos from ${sql.table('events')}`.execute(b.database.db);
      const c = counts.rows[0]!;
      const expected = single + n + batches * 100;
      row('events stored / distinct ids / expected', `${c.n} / ${c.ids}`, `expected ${expected}, lost ${expected - Number(c.n)}, repeated ${Number(c.n) - Number(c.ids)}`);
      await store.close();
    } finally {
      await b.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAppends();
