import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';

export interface Candidate {
  id: string;
  last_position: number;
}

/** Calls with pipeline work due at `now`, oldest change first (call_logs_recording_status_idx). */
export async function pipelineCandidates(db: Kysely<DB>, now: Date, limit: number): Promise<Candidate[]> {
  const at = now.toISOString();
  const rows = await db
    .selectFrom('call_logs')
    .select(['id', 'last_position'])
    .where((eb) =>
      eb.or([
        eb.and([eb('recording_status', '=', 'pending'), eb.or([eb('recording_source_url', 'is not', null), eb('recording_stereo_source_url', 'is not', null)])]),
        eb.and([eb('recording_status', '=', 'none'), eb('recording_error', 'is', null)]),
        eb.and([eb('recording_status', '=', 'retry_scheduled'), eb('recording_next_retry_at', '<=', sql<Date>`${at}::timestamptz`)]),
        eb('recording_status', '=', 'failed'),
      ]),
    )
    .orderBy('last_position')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, last_position: Number(r.last_position) }));
}
