import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { schemaOf, withTablesIn } from '../db/schemaPlugin.ts';
import type { EventStore, RecordedEvent } from '../events/port.ts';
import { readCheckpoint } from './checkpoints.ts';
import type { Projector } from './projector.ts';
import { readProjectorPage } from './readPage.ts';

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
export async function rebuildProjection(
  db: Kysely<DB>,
  store: EventStore,
  projector: Projector,
  opts: { batchSize?: number; /** After each page, with the log position replayed up to. */ onProgress?: (position: number) => void } = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? 2000;
  const schema = schemaOf(db);
  // Named after callrec's schema, so that two deployments in one database never share a scratch schema.
  const scratch = `${schema}_rebuild_${projector.name}`.replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  await sql`drop schema if exists ${sql.id(scratch)} cascade`.execute(db);
  await sql`create schema ${sql.id(scratch)}`.execute(db);
  // Secondary indexes are built once at the end (a bulk build beats updating them row by row).
  const deferred: string[] = [];
  for (const t of projector.tables) {
    await sql`create table ${sql.id(scratch, t)} (like ${sql.id(schema, t)} including all)`.execute(db);
    const indexes = await sql<{ name: string; def: string }>`
      select c.relname as name, pg_get_indexdef(i.indexrelid) as def
        from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = ${`${scratch}.${t}`}::regclass and not i.indisunique and not i.indisprimary`.execute(db);
    for (const ix of indexes.rows) {
      deferred.push(ix.def);
      await sql`drop index ${sql.id(scratch, ix.name)}`.execute(db);
    }
  }

  let position = 0;
  let events = 0;
  const replayUntil = async (limit: number) => {
    // Read ahead: the next page is fetched while the current one is applied.
    let next = readProjectorPage(store, position, batchSize, projector.handles);
    for (;;) {
      const page = await next;
      if (page.size === batchSize && page.last < limit) next = readProjectorPage(store, page.last, batchSize, projector.handles);
      const handled = page.handled.filter((e) => e.position <= limit);
      // Rows of different partitions (calls) are disjoint: apply them on two connections at once (the
      // text indexing of call_logs is CPU work in the database). Each partition keeps its log order.
      // The projector's tables are its scratch copies; any other table it reads is the live one.
      const scratchDb = withTablesIn(db, projector.tables, scratch);
      await Promise.all(
        partitions(projector, handled).map(async (part) => {
          const prepared = await projector.prepare?.(part);
          await scratchDb.transaction().execute((t) => projector.apply(t, part, prepared));
        }),
      );
      events += handled.length;
      position = Math.min(page.last, limit);
      opts.onProgress?.(position);
      if (page.size < batchSize || page.last >= limit) return;
    }
  };

  await replayUntil(Number.MAX_SAFE_INTEGER);
  // Index definitions as PostgreSQL itself printed them for the scratch tables (catalog text, no input).
  for (const def of deferred) await sql.raw(def).execute(db);

  // Swap. The copies must contain exactly what the live checkpoint covers (or more). Catch up outside the
  // swap transaction (an embedded database has one connection, which the transaction holds); if the live
  // runner moved on meanwhile, catch up again.
  for (let attempt = 0; ; attempt++) {
    const live = await readCheckpoint(db, projector.name);
    if (live > position) await replayUntil(live);
    const swapped = await db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('checkpoints').select('position').where('name', '=', projector.name).forUpdate().executeTakeFirstOrThrow();
      if (Number(row.position) > position) return false;
      for (const t of projector.tables) {
        await sql`drop table ${sql.id(schema, t)}`.execute(trx);
        await sql`alter table ${sql.id(scratch, t)} set schema ${sql.id(schema)}`.execute(trx);
      }
      await trx.updateTable('checkpoints').set({ position, updated_at: sql<Date>`now()` }).where('name', '=', projector.name).execute();
      return true;
    });
    if (swapped) break;
    if (attempt >= 100) throw new Error(`rebuild of ${projector.name} could not catch up with the live projection`);
  }
  await sql`drop schema if exists ${sql.id(scratch)} cascade`.execute(db);
  // The new tables have no planner statistics until autovacuum (PostgreSQL) or the embedded maintenance
  // (PGlite) gets to them: without them, lookups by an indexed column are planned as sequential scans.
  for (const t of projector.tables) await sql`analyze ${sql.id(schema, t)}`.execute(db);
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

const PARALLEL = 2;

/** The events split by the projector's partition key, in log order within each part (one part without a key). */
function partitions(projector: Projector, events: RecordedEvent[]): RecordedEvent[][] {
  if (events.length === 0) return [];
  if (!projector.partitionKey) return [events];
  const parts: RecordedEvent[][] = Array.from({ length: PARALLEL }, () => []);
  for (const e of events) parts[hash(projector.partitionKey(e)) % PARALLEL]!.push(e);
  return parts.filter((p) => p.length > 0);
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
