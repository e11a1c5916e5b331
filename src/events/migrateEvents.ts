import { CallrecError } from '../errors.ts';
import type { EventStore, Position } from './port.ts';

export interface MigrateEventsOptions {
  from: EventStore;
  to: EventStore;
  /** Events read from the source per page (default 500). */
  batchSize?: number;
  /** Called after every page with the running totals and the last source position handled. */
  onProgress?: (progress: { copied: number; skipped: number; position: Position }) => void;
}

export interface MigrateEventsResult {
  /** Events written to the target. */
  copied: number;
  /** Events the target already held, unchanged (a re-run, or a run that stopped half-way). */
  skipped: number;
}

/**
 * Copies the whole log of one event store into another (Postgres ↔ EventStoreDB), in global order,
 * keeping each event's id, stream, revision, type, data and metadata. Positions are the target's own.
 *
 * Each event is appended alone to its stream with the expected revision it had in the source
 * (revision - 1, or `no_stream` for the first), so the target ends up with the same streams in the
 * same order, and a re-run is idempotent: events already there come back as duplicates and are
 * counted as skipped. A target that disagrees (another event at that revision, or the id used for
 * other content) stops the copy with a `conflict` CallrecError naming the event.
 *
 * Data is copied as the source reads it, i.e. after upcasting; metadata (including schemaVersion) is
 * copied unchanged. Give it the stores without the privacy wrapper (openSealedEventStore, the adapters):
 * personal fields are then copied sealed, as stored, never decrypted on the way; their keys stay in the
 * Postgres/PGlite database's call_keys, which both stores' readers use.
 */
export async function migrateEvents(opts: MigrateEventsOptions): Promise<MigrateEventsResult> {
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  let copied = 0;
  let skipped = 0;
  let after: Position = 0;
  for (;;) {
    const page = await opts.from.readAll({ after, limit: batchSize });
    for (const e of page) {
      const expected = e.revision === 0 ? 'no_stream' : e.revision - 1;
      const r = await opts.to.append(e.streamId, [{ eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata }], expected);
      if (!r.ok) {
        throw new CallrecError(
          'conflict',
          `migrateEvents: event ${e.eventId} (${e.type}, stream ${e.streamId} revision ${e.revision}, source position ${e.position}) was not copied: ${r.error.message}`,
          { eventId: e.eventId, streamId: e.streamId, revision: e.revision, position: e.position, error: r.error },
        );
      }
      if (r.duplicate) skipped += 1;
      else copied += 1;
      after = e.position;
    }
    if (page.length > 0) opts.onProgress?.({ copied, skipped, position: after });
    if (page.length < batchSize) return { copied, skipped };
  }
}
