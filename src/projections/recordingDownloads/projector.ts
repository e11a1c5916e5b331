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
 * recording_downloads: one row per RecordingAccessed (download or refresh of a recording URL). Rows are
 * inserted with the position as the key, so a replayed batch cannot add a second copy; a CallErased empties
 * the IP and user agent of that call's rows (who downloaded, and when, stays). IP and user agent are sealed
 * with the call's data key (privacy/openRows.ts); `keyring` undefined writes them in plaintext (only to
 * measure what sealing costs; the service always passes it).
 */
export function createRecordingDownloadsProjector(keyring: Keyring | undefined): Projector {
  return {
    name: 'recording_downloads',
    tables: ['recording_downloads'],
    handles: new Set(['RecordingAccessed', 'CallErased']),
    prepare: keyring ? (events) => prepareCallKeys(keyring, events.filter((e) => e.type === 'RecordingAccessed')) : undefined,
    async apply(trx, events, prepared) {
      const keys = prepared as CallKeys | undefined;
      if (keyring && !keys) throw new Error('recording_downloads: apply needs the keys its prepare step fetched');
      const row = (e: RecordedEvent) => {
        const r = downloadRow(e);
        return (keys ? sealColumns('recording_downloads', r as unknown as Record<string, unknown>, r.call_id, keys) : r) as RecordingDownloadsTable;
      };
      // In log order: the accesses before an erasure are inserted, then the erasure empties their personal columns.
      for (let i = 0; i < events.length; ) {
        const e = events[i]!;
        if (e.type === 'CallErased') {
          await withDownloads(trx)
            .updateTable('recording_downloads')
            .set({ ip: null, user_agent: null })
            .where('call_id', '=', (e.data as EventData<'CallErased'>).callId)
            .execute();
          i++;
          continue;
        }
        let j = i;
        while (j < events.length && events[j]!.type === 'RecordingAccessed') j++;
        if (j === i) {
          i++;
          continue;
        }
        await withDownloads(trx)
          .insertInto('recording_downloads')
          .values(events.slice(i, j).map(row))
          .onConflict((oc) => oc.column('position').doNothing())
          .execute();
        i = j;
      }
    },
  };
}
