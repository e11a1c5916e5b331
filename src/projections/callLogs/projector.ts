import { sql } from 'kysely';
import type { Projector } from '../projector.ts';
import { CALL_LOG_COLUMNS, CALL_LOG_EVENTS, evolveCallLog, type CallLogRow } from './evolve.ts';

const toIso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));

function fromDb(row: Record<string, unknown>): CallLogRow {
  const r = { ...row } as Record<string, unknown>;
  delete r.search;
  for (const k of ['status_at', 'started_at', 'ended_at', 'recording_signed_url_expires_at', 'recording_uploaded_at', 'recording_next_retry_at']) r[k] = toIso(r[k]);
  for (const k of ['recording_bytes', 'first_position', 'last_position']) r[k] = r[k] === null ? null : Number(r[k]);
  return r as unknown as CallLogRow;
}

const columnList = sql.join(CALL_LOG_COLUMNS.map((c) => sql.ref(c)));
const searchVector = sql`to_tsvector('simple', coalesce(transcript, '') || ' ' || coalesce(summary, ''))`;
const updateList = sql.join([
  ...CALL_LOG_COLUMNS.filter((c) => c !== 'id').map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`),
  // Re-index the text only when it changed: most updates are pipeline state, not transcripts.
  sql`search = case when call_logs.transcript is not distinct from excluded.transcript
                     and call_logs.summary is not distinct from excluded.summary
                    then call_logs.search else excluded.search end`,
]);

/**
 * call_logs: one row per call. Each batch loads the rows it touches, evolves them in memory with the pure
 * evolveCallLog, and writes them back with one upsert (a single JSON parameter), so a rebuild runs at the
 * speed of reading the log.
 */
export const callLogsProjector: Projector = {
  name: 'call_logs',
  tables: ['call_logs'],
  handles: CALL_LOG_EVENTS,
  async apply(trx, events) {
    const ids = [...new Set(events.map((e) => (e.data as { callId: string }).callId))];
    const existing = await trx.selectFrom('call_logs').selectAll().where('id', 'in', ids).execute();
    const rows = new Map<string, CallLogRow>(existing.map((r) => [r.id, fromDb(r as Record<string, unknown>)]));
    const changed = new Set<string>();
    for (const e of events) {
      const id = (e.data as { callId: string }).callId;
      const next = evolveCallLog(rows.get(id), e);
      if (next && next !== rows.get(id)) {
        rows.set(id, next);
        changed.add(id);
      }
    }
    if (changed.size === 0) return;
    const payload = JSON.stringify([...changed].map((id) => rows.get(id)));
    await sql`
      insert into ${sql.table('call_logs')} (${columnList}, search)
      select ${columnList}, ${searchVector} from jsonb_populate_recordset(null::${sql.table('call_logs')}, ${payload}::jsonb)
      on conflict (id) do update set ${updateList}`.execute(trx);
  },
};
