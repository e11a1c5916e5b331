import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

/** The queries of call_erasures (its projector writes it; the erasure process reads it through here). */

export interface ErasureCandidate {
  call_id: string;
  last_position: number;
}

/**
 * Erased calls with work due at `now`, oldest change first: local steps not completed (and not waiting for a
 * retry), and — when `vapi` (VAPI_API_KEY is set) — Vapi's copy not deleted yet and due.
 */
export async function erasureCandidates(db: Kysely<DB>, now: Date, opts: { vapi: boolean; limit: number }): Promise<ErasureCandidate[]> {
  const at = sql<Date>`${now.toISOString()}::timestamptz`;
  const rows = await db
    .selectFrom('call_erasures')
    .select(['call_id', 'last_position'])
    .where((eb) => {
      const local = eb.and([eb('completed_at', 'is', null), eb.or([eb('retry_at', 'is', null), eb('retry_at', '<=', at)])]);
      if (!opts.vapi) return local;
      return eb.or([
        local,
        eb('vapi_status', '=', 'pending'),
        eb.and([eb('vapi_status', '=', 'retry_scheduled'), eb('vapi_retry_at', '<=', at)]),
      ]);
    })
    .orderBy('last_position')
    .limit(opts.limit)
    .execute();
  return rows.map((r) => ({ call_id: r.call_id, last_position: Number(r.last_position) }));
}
