import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';

export async function readCheckpoint(db: Kysely<DB>, name: string): Promise<number> {
  await db.insertInto('checkpoints').values({ name, position: 0 }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('checkpoints').select('position').where('name', '=', name).executeTakeFirstOrThrow();
  return Number(row.position);
}

/** Compare-and-set: moves the checkpoint from `from` to `to`; false when another writer moved it first. */
export async function moveCheckpoint(trx: Transaction<DB>, name: string, from: number, to: number): Promise<boolean> {
  const row = await trx
    .updateTable('checkpoints')
    .set({ position: to, updated_at: sql<Date>`now()` })
    .where('name', '=', name)
    .where('position', '=', from)
    .returning('name')
    .executeTakeFirst();
  return row !== undefined;
}
