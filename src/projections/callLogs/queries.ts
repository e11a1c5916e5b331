import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { blindQuery } from '../../privacy/blindSearch.ts';
import type { Keyring } from '../../privacy/keyring.ts';
import { openRows } from '../../privacy/openRows.ts';
import { CALL_LOG_COLUMNS, CALL_LOG_INT8, CALL_LOG_TIMESTAMPS, type CallLogRow } from './columns.ts';

/**
 * Every query of the call_logs read model (its projector writes it; everything else reads it through here):
 * the calls API, the recording pipeline's to-do list, the orphan sweep, reconciliation and the metrics views.
 * Queries for a caller take its org. Queries that return personal columns (PERSONAL_COLUMNS.call_logs) take the
 * keyring and return them opened (a destroyed key reads as null).
 */

/** The filters of GET /api/calls (validated by the route). */
export interface CallListFilter {
  limit: number;
  from?: string;
  to?: string;
  status?: string[];
  recording_status?: string[];
  has_recording?: boolean;
  ended_reason?: string;
  call_type?: string;
  assistant_id?: string;
  q?: string;
}


function normalise(row: Record<string, unknown>): CallLogRow {
  const r: Record<string, unknown> = {};
  for (const c of CALL_LOG_COLUMNS) r[c] = row[c] ?? null;
  for (const k of CALL_LOG_TIMESTAMPS) {
    const v = r[k];
    r[k] = v === null ? null : new Date(v as string | Date).toISOString();
  }
  for (const k of CALL_LOG_INT8) r[k] = r[k] === null ? null : Number(r[k]);
  return r as unknown as CallLogRow;
}

/** The call, or undefined when it does not exist in this org (another org's call looks exactly like none). */
export async function findCall(db: Kysely<DB>, keyring: Keyring, orgId: string, id: string): Promise<CallLogRow | undefined> {
  const row = await db.selectFrom('call_logs').select(CALL_LOG_COLUMNS).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return row ? (await openRows(keyring, 'call_logs', [normalise(row as Record<string, unknown>)], (r) => r.id))[0] : undefined;
}

/** Whether the call exists in this org (no personal column read). */
export async function callExists(db: Kysely<DB>, orgId: string, id: string): Promise<boolean> {
  return (await db.selectFrom('call_logs').select('id').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Keyset cursor over (ended_at desc nulls last, id desc): the last row's ended_at (exact, as text) and id. */
export interface Cursor {
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
 * order of call_logs_org_ended_idx). `q` is full-text search in web-search syntax over the blind index `search`
 * and its GIN index: the query is parsed and its words blinded here (privacy/blindSearch.ts), PostgreSQL matches
 * the tokens. A `q` without any word matches nothing.
 */
export async function listCalls(db: Kysely<DB>, keyring: Keyring, orgId: string, f: CallListFilter & { cursorValue?: Cursor }): Promise<{ rows: CallLogRow[]; nextCursor: string | null }> {
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
  if (f.q) {
    const query = blindQuery(keyring.searchKey, f.q);
    q = query === undefined ? q.where(sql<boolean>`false`) : q.where(sql<boolean>`search @@ ${query}::tsquery`);
  }
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
  const opened = await openRows(keyring, 'call_logs', page.map((r) => normalise({ ...(r as Record<string, unknown>), transcript: null })), (r) => r.id);
  return { rows: opened, nextCursor };
}

// --- the recording pipeline ------------------------------------------------------------------------

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
    .where('erased_at', 'is', null)
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

// --- the orphan sweep ------------------------------------------------------------------------------

/** Which of `paths` some call references (call_logs_storage_path_idx). */
export async function referencedPaths(db: Kysely<DB>, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const rows = await db.selectFrom('call_logs').select('recording_storage_path').where('recording_storage_path', 'in', paths).execute();
  return new Set(rows.map((r) => r.recording_storage_path as string));
}

/** One page (by id, after `after`) of calls whose recording is uploaded, with where it is stored. */
export async function uploadedRecordingsAfter(db: Kysely<DB>, after: string, limit: number) {
  return db
    .selectFrom('call_logs')
    .select(['id', 'org_id', 'recording_storage_path', 'recording_sha256'])
    .where('recording_status', '=', 'uploaded')
    .where('recording_storage_path', 'is not', null)
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .execute();
}

// --- reconciliation --------------------------------------------------------------------------------

/** Ids among `ids` whose call_logs row already has an end (a CallEnded): a shortcut, the store still decides. */
export async function alreadyEnded(db: Kysely<DB>, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('call_logs').select('id').where('id', 'in', ids).where('ended_at', 'is not', null).execute();
  return new Set(rows.map((r) => r.id));
}

/** Calls seen in progress but not ended, whose last status is older than `stuckMinutes` (and younger than `horizonMs`), oldest first. */
export async function stuckCalls(db: Kysely<DB>, now: Date, stuckMinutes: number, horizonMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('call_logs')
    .select('id')
    .where('ended_at', 'is', null)
    .where('status_at', '<', new Date(now.getTime() - stuckMinutes * 60_000))
    .where('status_at', '>', new Date(now.getTime() - horizonMs))
    .orderBy('status_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

// --- metrics ---------------------------------------------------------------------------------------

/** Calls whose uploaded object is gone (recording_missing), in one org or all. */
export async function countMissingRecordings(db: Kysely<DB>, orgId: string): Promise<number> {
  let q = db.selectFrom('call_logs').select((eb) => eb.fn.countAll<string>().as('n')).where('recording_missing', '=', true);
  if (orgId !== 'all') q = q.where('org_id', '=', orgId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** Calls whose recording retention deleted (recording_status 'expired'), in one org or all. */
export async function countExpiredRecordings(db: Kysely<DB>, orgId: string): Promise<number> {
  let q = db.selectFrom('call_logs').select((eb) => eb.fn.countAll<string>().as('n')).where('recording_status', '=', 'expired');
  if (orgId !== 'all') q = q.where('org_id', '=', orgId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}
