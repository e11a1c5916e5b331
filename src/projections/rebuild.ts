import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { EventStore } from '../events/port.ts';
import { readCheckpoint } from './checkpoints.ts';
import type { Projector } from './projector.ts';

export interface RebuildResult {
  projector: string;
  events: number;
  position: number;
  ms: number;
}

/**
 * Rebuild = new tables, replay from zero, swap. The projector replays the whole log into copies of its
 * tables in a scratch schema while the live tables keep serving; then, in one transaction that holds the
 * live checkpoint row, the copies catch up to the live checkpoint and replace the live tables.
 */
export async function rebuildProjection(db: Kysely<DB>, store: EventStore, projector: Projector, opts: { batchSize?: number } = {}): Promise<RebuildResult> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? 2000;
  const scratch = `rebuild_${projector.name}`.replace(/[^a-z0-9_]/g, '_');
  await sql`drop schema if exists ${sql.id(scratch)} cascade`.execute(db);
  await sql`create schema ${sql.id(scratch)}`.execute(db);
  for (const t of projector.tables) {
    await sql`create table ${sql.id(scratch, t)} (like ${sql.id('public', t)} including all)`.execute(db);
  }

  let position = 0;
  let events = 0;
  const replayUntil = async (trx: Kysely<DB>, limit: number) => {
    for (;;) {
      const page = await store.readAll({ after: position, limit: batchSize });
      const slice = page.filter((e) => e.position <= limit);
      const handled = slice.filter((e) => projector.handles.has(e.type));
      if (handled.length > 0) {
        // Unqualified table names resolve to the scratch copies first.
        const apply = async (t: Transaction<DB>) => {
          await sql`select set_config('search_path', ${`${scratch}, public`}, true)`.execute(t);
          await projector.apply(t, handled);
        };
        if (trx.isTransaction) await apply(trx as Transaction<DB>);
        else await trx.transaction().execute(apply);
      }
      events += handled.length;
      if (slice.length > 0) position = slice[slice.length - 1]!.position;
      if (page.length < batchSize || slice.length < page.length) return;
    }
  };

  await replayUntil(db, Number.MAX_SAFE_INTEGER);
  await readCheckpoint(db, projector.name);
  await db.transaction().execute(async (trx) => {
    const live = await trx.selectFrom('checkpoints').select('position').where('name', '=', projector.name).forUpdate().executeTakeFirstOrThrow();
    const livePosition = Number(live.position);
    if (livePosition > position) await replayUntil(trx, livePosition);
    await sql`select set_config('search_path', 'public', true)`.execute(trx);
    const final = Math.max(position, livePosition);
    for (const t of projector.tables) {
      await sql`drop table ${sql.id('public', t)}`.execute(trx);
      await sql`alter table ${sql.id(scratch, t)} set schema public`.execute(trx);
    }
    await trx.updateTable('checkpoints').set({ position: final, updated_at: sql<Date>`now()` }).where('name', '=', projector.name).execute();
    position = final;
  });
  await sql`drop schema if exists ${sql.id(scratch)} cascade`.execute(db);
  return { projector: projector.name, events, position, ms: Date.now() - started };
}

/** An order-independent fingerprint of a table's contents (md5 over the sorted rows, timestamps in UTC). */
export async function tableChecksum(db: Kysely<DB>, table: string): Promise<{ rows: number; md5: string }> {
  return db.transaction().execute(async (trx) => {
    await sql`set local timezone = 'UTC'`.execute(trx);
    const r = await sql<{ rows: string | number; md5: string }>`
      select count(*) as rows, md5(coalesce(string_agg(t::text, E'\n' order by t::text), '')) as md5
      from ${sql.table(table)} t`.execute(trx);
    return { rows: Number(r.rows[0]!.rows), md5: r.rows[0]!.md5 };
  });
}
