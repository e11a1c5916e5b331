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

/** One page of the global log after `after`, in position order (the primary key index). */
export async function readAllPage(db: Kysely<DB>, after: Position, limit: number): Promise<RecordedEvent[]> {
  const rows = await db.selectFrom('events').select(columns).where('position', '>', after).orderBy('position').limit(limit).execute();
  return rows.map(toRecordedEvent);
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
