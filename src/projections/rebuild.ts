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
    await nameIndexesAsLive(db, schema, scratch, t);
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
  // The projector's tables are its scratch copies; any other table it reads is the live one.
  const scratchDb = withTablesIn(db, projector.tables, scratch);
  const replayUntil = async (limit: number) => {
    // Rows of different partitions (calls) are disjoint, so each partition is a lane of its own: a lane applies its
    // part of each page in log order, one transaction after the other on its own connection, without waiting for
    // the other lanes. Pages are read ahead. So the database writes one lane's rows while this process evolves,
    // seals and indexes another's, and reads the next page meanwhile.
    const lanes: Array<Promise<void>> = Array.from({ length: LANES }, () => Promise.resolve());
    const pending: Array<Promise<void>> = [];
    // A lane or a read-ahead may fail while this loop awaits something else: each such promise has a handler from
    // the start (the error is thrown where the promise is awaited), so a failure never goes unhandled meanwhile.
    const held = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => {});
      return p;
    };
    let next = held(readProjectorPage(store, position, batchSize, projector));
    try {
      for (;;) {
        const page = await next;
        const more = !page.atHead && page.last < limit;
        if (more) next = held(readProjectorPage(store, page.last, batchSize, projector));
        const handled = page.handled.filter((e) => e.position <= limit);
        const applied = partitions(projector, handled).map((part, lane) =>
          (lanes[lane] = held(
            lanes[lane]!.then(async () => {
              if (part.length === 0) return;
              const prepared = await projector.prepare?.(part);
              await scratchDb.transaction().execute((t) => projector.apply(t, part, prepared));
            }),
          )),
        );
        const reached = Math.min(page.last, limit);
        pending.push(
          held(
            Promise.all(applied).then(() => {
              events += handled.length;
              position = reached;
              opts.onProgress?.(position);
            }),
          ),
        );
        // At most a few pages in memory: wait for the oldest before reading further.
        while (pending.length > PAGES_AHEAD) await pending.shift();
        if (!more) break;
      }
      while (pending.length > 0) await pending.shift();
    } finally {
      // On a failure, let the lanes stop before the caller goes on (their errors are the one already thrown).
      await Promise.allSettled([...lanes, ...pending, next]);
    }
  };

  await replayUntil(Number.MAX_SAFE_INTEGER);
  // Index definitions as PostgreSQL itself printed them for the scratch tables (catalog text, no input). Builds of
  // indexes of one table do not block each other: LANES at a time, each on a connection of its own (one after the
  // other on an embedded database, whose one connection runs one statement at a time).
  const queue = [...deferred];
  let failed = false;
  const built = await Promise.allSettled(
    Array.from({ length: Math.min(LANES, queue.length) }, async () => {
      for (let def = queue.shift(); def !== undefined && !failed; def = queue.shift()) {
        try {
          await sql.raw(def).execute(db);
        } catch (err) {
          failed = true; // the other builders stop after their current index; the first error is thrown below
          throw err;
        }
      }
    }),
  );
  const buildError = built.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (buildError) throw buildError.reason;
  // Planner statistics before the swap (they stay with a table when it changes schema): a new table has none until
  // autovacuum (PostgreSQL) or the embedded maintenance (PGlite) gets to it, and without them lookups by an indexed
  // column are planned as sequential scans. So the swapped-in tables serve with statistics from their first query.
  for (const t of projector.tables) await sql`analyze ${sql.id(scratch, t)}`.execute(db);

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
  return { projector: projector.name, events, position, ms: Date.now() - started };
}

/**
 * `create table … (like … including all)` names the copy's indexes after their columns; the live table's may have
 * other names (a migration's). Each copy's index takes the name of the live index with the same definition, so
 * the swapped-in table keeps the names migrations refer to (an index name is unique within its schema only).
 */
async function nameIndexesAsLive(db: Kysely<DB>, schema: string, scratch: string, table: string): Promise<void> {
  const pairs = await sql<{ copy: string; live: string }>`
    with indexes as (
      select n.nspname as schema, c.relname as name, i.indisunique as is_unique,
             substr(pg_get_indexdef(i.indexrelid), strpos(pg_get_indexdef(i.indexrelid), ' USING ')) as body
        from pg_index i
        join pg_class c on c.oid = i.indexrelid
        join pg_class t on t.oid = i.indrelid
        join pg_namespace n on n.oid = t.relnamespace
       where t.relname = ${table} and n.nspname in (${schema}, ${scratch})
    ), numbered as (
      select *, row_number() over (partition by schema, is_unique, body order by name) as k from indexes
    )
    select s.name as copy, l.name as live
      from numbered s join numbered l on l.is_unique = s.is_unique and l.body = s.body and l.k = s.k
     where s.schema = ${scratch} and l.schema = ${schema} and s.name <> l.name`.execute(db);
  // In two steps, so that a copy's generated name that happens to be another live index's name is out of the way first.
  const parked = pairs.rows.map((p, i) => ({ ...p, parked: `rebuild_index_${i}` }));
  for (const p of parked) await sql`alter index ${sql.id(scratch, p.copy)} rename to ${sql.id(p.parked)}`.execute(db);
  for (const p of parked) await sql`alter index ${sql.id(scratch, p.parked)} rename to ${sql.id(p.live)}`.execute(db);
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

/** Partitions applied at once by a rebuild (connections it holds besides the one reading the log). */
const LANES = 2;
/** Pages read and not yet applied by every lane, at most. */
const PAGES_AHEAD = 3;

/** The events split by the projector's partition key into LANES parts, in log order within each part (one part without a key). */
function partitions(projector: Projector, events: RecordedEvent[]): RecordedEvent[][] {
  if (!projector.partitionKey) return [events];
  const parts: RecordedEvent[][] = Array.from({ length: LANES }, () => []);
  for (const e of events) parts[hash(projector.partitionKey(e)) % LANES]!.push(e);
  return parts;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
