import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { CALL_LOG_COLUMNS, type CallLogRow } from '../../projections/callLogs/evolve.ts';
import type { ApiCallRow, ListCallsInput } from './callsSchemas.ts';
import { ApiCall } from './callsSchemas.ts';

/** Reads of the call_logs read model for the calls API. Every query takes the caller's org. */

const TIMESTAMPS = ['status_at', 'started_at', 'ended_at', 'recording_signed_url_expires_at', 'recording_uploaded_at', 'recording_next_retry_at'] as const;
const INT8 = ['recording_bytes', 'first_position', 'last_position'] as const;

function normalise(row: Record<string, unknown>): CallLogRow {
  const r: Record<string, unknown> = {};
  for (const c of CALL_LOG_COLUMNS) r[c] = row[c] ?? null;
  for (const k of TIMESTAMPS) {
    const v = r[k];
    r[k] = v === null ? null : new Date(v as string | Date).toISOString();
  }
  for (const k of INT8) r[k] = r[k] === null ? null : Number(r[k]);
  return r as unknown as CallLogRow;
}

const API_COLUMNS = Object.keys(ApiCall.shape) as Array<keyof ApiCallRow>;

/** The API view of a row: the table's columns except signed and source URLs (bearer credentials). */
export function toApiCall(row: CallLogRow): ApiCallRow {
  const out: Record<string, unknown> = {};
  for (const c of API_COLUMNS) out[c] = row[c as keyof CallLogRow];
  return out as ApiCallRow;
}

export function recordingState(row: CallLogRow) {
  return {
    status: row.recording_status,
    available: row.recording_status === 'uploaded' && !row.recording_missing && row.recording_storage_path !== null,
    transcriptOnly: row.transcript_only_fallback,
    urlExpiresAt: row.recording_signed_url_expires_at,
    bytes: row.recording_bytes,
    durationSeconds: row.recording_duration_seconds,
    contentType: row.recording_content_type,
    attempts: row.recording_attempts,
    nextRetryAt: row.recording_next_retry_at,
    errorCode: row.recording_error_code,
    error: row.recording_error,
  };
}

/** The call, or undefined when it does not exist in this org (another org's call looks exactly like none). */
export async function findCall(db: Kysely<DB>, orgId: string, id: string): Promise<CallLogRow | undefined> {
  const row = await db.selectFrom('call_logs').select(CALL_LOG_COLUMNS).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return row ? normalise(row as Record<string, unknown>) : undefined;
}

/** Keyset cursor over (ended_at desc nulls last, id desc): the last row's ended_at (exact, as text) and id. */
interface Cursor {
  e: string | null;
  i: string;
}

/** `timestamptz::text` output, e.g. `2026-05-01 10:00:00.123456+00` (or with a `:30` minute offset). */
const PG_TIMESTAMPTZ_TEXT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d){0,2}$/;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(s: string): Cursor | undefined {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
    if (!c || typeof c !== 'object' || typeof c.i !== 'string' || c.i.length > 128) return undefined;
    if (c.e !== null && (typeof c.e !== 'string' || !PG_TIMESTAMPTZ_TEXT.test(c.e))) return undefined;
    return { e: c.e, i: c.i };
  } catch {
    return undefined;
  }
}

/**
 * One page of an org's calls, newest first (ended_at desc, calls without an end last, then id desc: the
 * order of call_logs_org_ended_idx). `q` is Postgres full-text search (websearch syntax, 'simple'
 * configuration) over the generated `search` column and its GIN index.
 */
export async function listCalls(db: Kysely<DB>, orgId: string, f: ListCallsInput & { cursorValue?: Cursor }): Promise<{ rows: CallLogRow[]; nextCursor: string | null }> {
  const columns = CALL_LOG_COLUMNS.filter((c) => c !== 'transcript');
  let q = db
    .selectFrom('call_logs')
    .select(columns)
    .select(sql<string | null>`ended_at::text`.as('ended_at_key'))
    .where('org_id', '=', orgId);
  if (f.from) q = q.where('ended_at', '>=', new Date(f.from));
  if (f.to) q = q.where('ended_at', '<', new Date(f.to));
  if (f.status) q = q.where('status', 'in', f.status);
  if (f.recording_status) q = q.where('recording_status', 'in', f.recording_status);
  if (f.has_recording === true) q = q.where('recording_status', '=', 'uploaded');
  if (f.has_recording === false) q = q.where('recording_status', '<>', 'uploaded');
  if (f.ended_reason) q = q.where('ended_reason', '=', f.ended_reason);
  if (f.call_type) q = q.where('call_type', '=', f.call_type);
  if (f.assistant_id) q = q.where('assistant_id', '=', f.assistant_id);
  if (f.q) q = q.where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${f.q})`);
  // The cursor is a range of the index (a row comparison), so a page deep in the list costs what the first
  // one does; `a < e or (a = e and b < i)` would scan every entry before the cursor. Calls without an end
  // come last: after the dated ones run out, the page is filled from them.
  const c = f.cursorValue;
  const ordered = (b: typeof q) => b.orderBy(sql`ended_at desc nulls last`).orderBy('id', 'desc');
  let rows;
  if (!c) {
    rows = await ordered(q).limit(f.limit + 1).execute();
  } else if (c.e === null) {
    rows = await ordered(q.where('ended_at', 'is', null).where('id', '<', c.i)).limit(f.limit + 1).execute();
  } else {
    rows = await ordered(q.where(sql<boolean>`(ended_at, id) < (${c.e}::timestamptz, ${c.i})`)).limit(f.limit + 1).execute();
    if (rows.length <= f.limit) rows = rows.concat(await ordered(q.where('ended_at', 'is', null)).limit(f.limit + 1 - rows.length).execute());
  }
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1] as (Record<string, unknown> & { ended_at_key: string | null; id: string }) | undefined;
  const nextCursor = rows.length > f.limit && last ? encodeCursor({ e: last.ended_at_key, i: last.id }) : null;
  return { rows: page.map((r) => normalise({ ...(r as Record<string, unknown>), transcript: null })), nextCursor };
}
