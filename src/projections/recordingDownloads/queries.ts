import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Keyring } from '../../privacy/keyring.ts';
import { openRows } from '../../privacy/openRows.ts';
import { withDownloads } from './projector.ts';

export interface DownloadFilter {
  orgId: string;
  callId?: string;
  userId?: string;
  action?: 'download' | 'refresh';
  /** accessed_at >= from */
  from?: Date;
  /** accessed_at < to */
  to?: Date;
  /** Keyset cursor: rows with a position below this one. */
  beforePosition?: number;
  limit: number;
}

export interface DownloadRecord {
  position: number;
  event_id: string;
  call_id: string;
  user_id: string;
  action: 'download' | 'refresh';
  ip: string | null;
  user_agent: string | null;
  accessed_at: string;
}

/** One page of an org's recording_downloads, newest first (by log position); IP and user agent opened (null once the call's key is destroyed). */
export async function listDownloads(db: Kysely<DB>, keyring: Keyring, f: DownloadFilter): Promise<DownloadRecord[]> {
  let q = withDownloads(db)
    .selectFrom('recording_downloads')
    .select(['position', 'event_id', 'call_id', 'user_id', 'action', 'ip', 'user_agent', 'accessed_at'])
    .where('org_id', '=', f.orgId);
  if (f.callId !== undefined) q = q.where('call_id', '=', f.callId);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.action !== undefined) q = q.where('action', '=', f.action);
  if (f.from !== undefined) q = q.where('accessed_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('accessed_at', '<', f.to);
  if (f.beforePosition !== undefined) q = q.where('position', '<', f.beforePosition);
  const rows = await q.orderBy('position', 'desc').limit(f.limit).execute();
  const records = rows.map((r) => ({
    position: Number(r.position),
    event_id: r.event_id,
    call_id: r.call_id,
    user_id: r.user_id,
    action: r.action,
    ip: r.ip,
    user_agent: r.user_agent,
    accessed_at: r.accessed_at instanceof Date ? r.accessed_at.toISOString() : new Date(r.accessed_at).toISOString(),
  }));
  return openRows(keyring, 'recording_downloads', records, (r) => r.call_id);
}
