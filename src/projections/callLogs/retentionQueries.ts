import { sql, type Kysely, type SqlBool, type ExpressionBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';

/**
 * The retention process's reads of call_logs. Each kind has a partial index (db/migrations/013_retention.sql)
 * over (org_id, ended_at, id) of the calls whose recording (resp. transcript) is still there and not held or
 * erased; the WHERE clauses below are those index predicates, word for word, so the planner can use them.
 * An expired call leaves its index: a run reads what expires now, whatever the size of call_logs.
 */

export type RetentionKind = 'recording' | 'transcript';

const pending = {
  recording: (eb: ExpressionBuilder<DB, 'call_logs'>) =>
    eb.and([eb('recording_status', '=', 'uploaded'), eb('held_at', 'is', null), eb('erased_at', 'is', null)]),
  transcript: (eb: ExpressionBuilder<DB, 'call_logs'>) =>
    eb.and([eb.or([eb('transcript', 'is not', null), eb('summary', 'is not', null)]), eb('transcript_expired_at', 'is', null), eb('held_at', 'is', null), eb('erased_at', 'is', null)]),
};
const pendingSql = {
  recording: sql<SqlBool>`recording_status = 'uploaded' and held_at is null and erased_at is null`,
  transcript: sql<SqlBool>`(transcript is not null or summary is not null) and transcript_expired_at is null and held_at is null and erased_at is null`,
};

/**
 * The orgs that have calls with a `kind` still to expire some day: a loose scan of the partial index (one
 * index probe per org, however many calls each has).
 */
export async function orgsWithPending(db: Kysely<DB>, kind: RetentionKind): Promise<string[]> {
  const rows = await orgsWithPendingQuery(kind).execute(db);
  return rows.rows.map((r) => r.org_id!);
}

/** The SQL of orgsWithPending (tests check its plan). */
export function orgsWithPendingQuery(kind: RetentionKind) {
  const t = sql.table('call_logs');
  const p = pendingSql[kind];
  return sql<{ org_id: string | null }>`
    with recursive orgs(org_id) as (
      (select org_id from ${t} where ${p} order by org_id limit 1)
      union all
      select (select c.org_id from ${t} c where ${p} and c.org_id > orgs.org_id order by c.org_id limit 1)
        from orgs where orgs.org_id is not null
    )
    select org_id from orgs where org_id is not null`;
}

/** Keyset position of a page: the last row's end time (ISO) and id. */
export interface RetentionCursor {
  endedAt: string;
  id: string;
}

/**
 * One page of an org's calls whose `kind` is still there, not held or erased, and that ended at or before
 * `cutoff`, oldest first, after `cursor`. The columns are what decideRetention needs (never the text).
 */
export async function retentionCandidates(db: Kysely<DB>, kind: RetentionKind, orgId: string, cutoff: Date, cursor: RetentionCursor | undefined, limit: number) {
  const rows = await retentionCandidatesQuery(db, kind, orgId, cutoff, cursor, limit).execute();
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());
  return rows.map((r) => ({
    id: r.id,
    org_id: r.org_id,
    ended_at: iso(r.ended_at),
    recording_status: r.recording_status,
    recording_storage_path: r.recording_storage_path,
    recording_missing: r.recording_missing,
    has_transcript: Boolean(r.has_transcript),
    transcript_expired_at: iso(r.transcript_expired_at),
    erased_at: iso(r.erased_at),
    held_at: iso(r.held_at),
  }));
}

/** The query of retentionCandidates (tests check its plan). */
export function retentionCandidatesQuery(db: Kysely<DB>, kind: RetentionKind, orgId: string, cutoff: Date, cursor: RetentionCursor | undefined, limit: number) {
  let q = db
    .selectFrom('call_logs')
    .select(['id', 'org_id', 'ended_at', 'recording_status', 'recording_storage_path', 'recording_missing', 'transcript_expired_at', 'erased_at', 'held_at'])
    .select(sql<boolean>`(transcript is not null or summary is not null)`.as('has_transcript'))
    .where(pending[kind])
    .where('org_id', '=', orgId)
    .where('ended_at', '<=', cutoff);
  if (cursor) q = q.where(sql<SqlBool>`(ended_at, id) > (${cursor.endedAt}::timestamptz, ${cursor.id})`);
  return q.orderBy('ended_at').orderBy('id').limit(limit);
}
