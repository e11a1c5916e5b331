import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Position, RecordedEvent } from '../port.ts';
import { eventColumns, toRecordedEvent } from './readEvents.ts';

/**
 * One organisation's SSE-relevant events after a position, through the partial index
 * events_sse_org_position_idx (db/migrations/009_privacy.sql, first made by 008). The type list is written
 * out literally, identical to the index predicate, so the planner can use that index.
 */
export function orgEventsQuery(orgId: string, after: Position, limit: number, callId?: string, omitData: readonly string[] = []) {
  return sql<Parameters<typeof toRecordedEvent>[0]>`
    select ${eventColumns(omitData)}
      from ${sql.table('events')}
     where (metadata ->> 'orgId') = ${orgId}
       and type in ('CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
                    'CallErased', 'RecordingExpired', 'TranscriptExpired', 'CallHeld', 'CallReleased')
       and position > ${after}
       ${callId === undefined ? sql`` : sql`and (data ->> 'callId') = ${callId}`}
     order by position
     limit ${limit}`;
}

/** `omitData`: top-level fields of `data` the reader never uses (see eventColumns). */
export async function readOrgEventsPage(db: Kysely<DB>, orgId: string, after: Position, limit: number, callId?: string, omitData: readonly string[] = []): Promise<RecordedEvent[]> {
  const res = await orgEventsQuery(orgId, after, limit, callId, omitData).execute(db);
  return res.rows.map(toRecordedEvent);
}

/** How many of the org's SSE-relevant events lie after `after`, counting no further than `cap` (index only). */
export async function countOrgEventsAfter(db: Kysely<DB>, orgId: string, after: Position, cap: number): Promise<number> {
  const res = await sql<{ n: unknown }>`
    select count(*) as n from (
      select 1 from ${sql.table('events')}
       where (metadata ->> 'orgId') = ${orgId}
         and type in ('CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
                      'CallErased', 'RecordingExpired', 'TranscriptExpired', 'CallHeld', 'CallReleased')
         and position > ${after}
       limit ${cap}) t`.execute(db);
  return Number(res.rows[0]?.n ?? 0);
}
