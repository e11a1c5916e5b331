import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { EventData } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';
import type { Keyring } from '../../privacy/keyring.ts';
import { prepareCallKeys, sealColumns, type CallKeys } from '../../privacy/openRows.ts';
import type { Projector } from '../projector.ts';

export interface RecordingDownloadsTable {
  position: string | number | bigint;
  event_id: string;
  org_id: string;
  call_id: string;
  user_id: string;
  action: 'download' | 'refresh';
  ip: string | null;
  user_agent: string | null;
  accessed_at: Date | string;
}

export type DownloadsDB = DB & { recording_downloads: RecordingDownloadsTable };

export const withDownloads = <T extends Kysely<DB> | Transaction<DB>>(db: T) =>
  db.withTables<{ recording_downloads: RecordingDownloadsTable }>() as unknown as T extends Transaction<DB> ? Transaction<DownloadsDB> : Kysely<DownloadsDB>;

/** Pure: the recording_downloads row of one RecordingAccessed event. */
export function downloadRow(e: RecordedEvent): RecordingDownloadsTable {
  const d = e.data as EventData<'RecordingAccessed'>;
  return {
    position: e.position,
    event_id: e.eventId,
    org_id: e.metadata.orgId,
    call_id: d.callId,
    user_id: d.userId,
    action: d.action,
    ip: d.ip,
    user_agent: d.userAgent,
    accessed_at: e.metadata.recordedAt,
  };
}

/**
 * recording_downloads: one append-only row per RecordingAccessed (download or refresh of a recording URL).
 * Rows are only ever inserted; the position is the key, so a replayed batch cannot add a second copy. IP and
 * user agent are sealed with the call's data key (privacy/openRows.ts); `keyring` undefined writes them in
 * plaintext (only to measure what sealing costs; the service always passes it).
 */
export function createRecordingDownloadsProjector(keyring: Keyring | undefined): Projector {
  return {
    name: 'recording_downloads',
    tables: ['recording_downloads'],
    handles: new Set(['RecordingAccessed']),
    prepare: keyring ? (events) => prepareCallKeys(keyring, events) : undefined,
    async apply(trx, events, prepared) {
      const keys = prepared as CallKeys | undefined;
      if (keyring && !keys) throw new Error('recording_downloads: apply needs the keys its prepare step fetched');
      const rows = events
        .filter((e) => e.type === 'RecordingAccessed')
        .map(downloadRow)
        .map((r) => (keys ? sealColumns('recording_downloads', r as unknown as Record<string, unknown>, r.call_id, keys) : r) as RecordingDownloadsTable);
      if (rows.length === 0) return;
      await withDownloads(trx)
        .insertInto('recording_downloads')
        .values(rows)
        .onConflict((oc) => oc.column('position').doNothing())
        .execute();
    },
  };
}
