import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { EventMetadata, Position, RecordedEvent } from '../port.ts';
import { upcast } from '../upcast.ts';

type EventRow = {
  position: unknown;
  stream_id: string;
  stream_revision: unknown;
  event_id: string;
  type: string;
  data: unknown;
  metadata: unknown;
  recorded_at: Date;
};

export function toRecordedEvent(row: EventRow): RecordedEvent {
  const metadata = row.metadata as EventMetadata;
  return {
    eventId: row.event_id,
    type: row.type,
    data: upcast(row.type, metadata.schemaVersion, row.data),
    metadata,
    streamId: row.stream_id,
    revision: Number(row.stream_revision),
    position: Number(row.position),
    storedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at as string),
  };
}

const columns = ['position', 'stream_id', 'stream_revision', 'event_id', 'type', 'data', 'metadata', 'recorded_at'] as const;

/**
 * The select list of an event row. With `omitData`, those top-level fields are left out of `data` by PostgreSQL
 * (`data - keys`), so a reader that never uses a call's texts does not receive, parse and hold them.
 */
export function eventColumns(omitData: readonly string[] = []) {
  return sql.join(
    columns.map((c) => (c === 'data' && omitData.length > 0 ? sql`${sql.ref('data')} - ${[...omitData]}::text[] as ${sql.ref('data')}` : sql.ref(c))),
  );
}

/** One page of the global log after `after`, in position order (the primary key index). */
export async function readAllPage(db: Kysely<DB>, after: Position, limit: number, omitData: readonly string[] = []): Promise<RecordedEvent[]> {
  const rows = await sql<EventRow>`
    select ${eventColumns(omitData)} from ${sql.table('events')} where position > ${after} order by position limit ${limit}`.execute(db);
  return rows.rows.map(toRecordedEvent);
}

/**
 * One page of the log's events of `types` after `after`, in position order. Positions commit in order (the head
 * row serialises appends), so what a statement sees is a prefix of the log: the page skips nothing.
 *
 * One range of the (type, position) index per type, merged in position order: the merge pulls from each range only
 * as far as the page needs, so a page costs its own rows whether its types are one event in two or one in a
 * million, whatever the planner's statistics say (`type = any(…)` would be read as a filter over the whole log
 * after `after`, or as every match sorted).
 */
export async function readAllPageOfTypes(db: Kysely<DB>, after: Position, limit: number, types: readonly string[]): Promise<RecordedEvent[]> {
  if (types.length === 0) return [];
  const list = eventColumns();
  const range = (type: string) =>
    sql`(select ${list} from ${sql.table('events')} where type = ${type} and position > ${after} order by position limit ${limit})`;
  const rows = await sql<EventRow>`
    select ${list} from (${sql.join([...new Set(types)].map(range), sql` union all `)}) as page
     order by position limit ${limit}`.execute(db);
  return rows.rows.map(toRecordedEvent);
}

export async function readStreamEvents(db: Kysely<DB>, streamId: string, fromRevision = 0, limit = 100_000): Promise<RecordedEvent[]> {
  const rows = await db
    .selectFrom('events')
    .select(columns)
    .where('stream_id', '=', streamId)
    .where('stream_revision', '>=', fromRevision)
    .orderBy('stream_revision')
    .limit(limit)
    .execute();
  return rows.map(toRecordedEvent);
}

export async function readHeadPosition(db: Kysely<DB>): Promise<Position> {
  const r = await sql<{ max: unknown }>`select max(position) as max from ${sql.table('events')}`.execute(db);
  return Number(r.rows[0]?.max ?? 0);
}
