import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import { schemaOf } from '../../src/db/schemaPlugin.ts';

/**
 * Work a statement does, counted rather than timed (timing cannot tell a growing cost apart on a busy machine):
 * table and index blocks touched, and rows and scans of sequential scans, over every table and index of callrec's
 * schema, from the statistics counters of the current transaction (pg_stat_get_xact_*).
 */
export type Work = { blocks: number; seqTuples: number; seqScans: number };

async function counters(conn: Kysely<DB>): Promise<Work> {
  const r = await sql<{ blocks: string; seq_tuples: string; seq_scans: string }>`
    select coalesce(sum(pg_stat_get_xact_blocks_fetched(c.oid)), 0) as blocks,
           coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)) filter (where c.relkind = 'r'), 0) as seq_tuples,
           coalesce(sum(pg_stat_get_xact_numscans(c.oid)) filter (where c.relkind = 'r'), 0) as seq_scans
      from pg_class c
     where c.relnamespace = ${schemaOf(conn)}::regnamespace and c.relkind in ('r', 'i')`.execute(conn);
  const row = r.rows[0]!;
  // A measurement that sees nothing would prove nothing: callrec's tables must be in that schema.
  if (Number(row.blocks) === 0 && Number(row.seq_scans) === 0) {
    const n = await sql<{ n: string }>`select count(*) as n from pg_class where relnamespace = ${schemaOf(conn)}::regnamespace and relname = 'events'`.execute(conn);
    if (Number(n.rows[0]!.n) !== 1) throw new Error(`no events table in schema ${schemaOf(conn)}`);
  }
  return { blocks: Number(row.blocks), seqTuples: Number(row.seq_tuples), seqScans: Number(row.seq_scans) };
}

/**
 * Runs `fn` in its own transaction on `conn` (one connection: the counters are the transaction's) and returns the
 * work it did beside its result. The transaction commits when `fn` succeeds and rolls back when it throws.
 */
export async function measureWork<T>(conn: Kysely<DB>, fn: () => Promise<T>): Promise<{ work: Work; result: T }> {
  await sql`begin`.execute(conn);
  try {
    const before = await counters(conn);
    const result = await fn();
    const after = await counters(conn);
    await sql`commit`.execute(conn);
    return { work: { blocks: after.blocks - before.blocks, seqTuples: after.seqTuples - before.seqTuples, seqScans: after.seqScans - before.seqScans }, result };
  } catch (err) {
    await sql`rollback`.execute(conn);
    throw err;
  }
}
