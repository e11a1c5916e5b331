import { sql } from 'kysely';
import type { Projector } from '../projector.ts';
import { CALL_LOG_COLUMNS, CALL_LOG_INT8, CALL_LOG_TIMESTAMPS, type CallLogRow } from './columns.ts';
import { CALL_LOG_EVENTS, evolveCallLog } from './evolve.ts';

const toIso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));

function fromDb(row: Record<string, unknown>): CallLogRow {
  const r = { ...row } as Record<string, unknown>;
  delete r.search;
  for (const k of CALL_LOG_TIMESTAMPS) r[k] = toIso(r[k]);
  for (const k of CALL_LOG_INT8) r[k] = r[k] === null ? null : Number(r[k]);
  return r as unknown as CallLogRow;
}

const columnList = sql.join(CALL_LOG_COLUMNS.map((c) => sql.ref(c)));
const searchVector = sql`to_tsvector('simple', coalesce(transcript, '') || ' ' || coalesce(summary, ''))`;
const updateList = sql.join([
  ...CALL_LOG_COLUMNS.filter((c) => c !== 'id').map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`),
  // The text is indexed only when it changed (see apply): otherwise excluded.search is null and the row keeps its own.
  sql`search = coalesce(excluded.search, call_logs.search)`,
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
  partitionKey: (e) => (e.data as { callId: string }).callId,
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
    // to_tsvector of a ~1 KB transcript is the dearest part of a write, and most writes are pipeline state
    // (upload, signed URL, downloads): index the text of new rows and of rows whose text changed only.
    const before = new Map(existing.map((r) => [r.id, r]));
    const reindex = [...changed].filter((id) => {
      const old = before.get(id);
      const now = rows.get(id)!;
      return !old || old.transcript !== now.transcript || old.summary !== now.summary;
    });
    const payload = JSON.stringify([...changed].map((id) => rows.get(id)));
    await sql`
      insert into ${sql.table('call_logs')} (${columnList}, search)
      select ${columnList}, case when id = any(${reindex}::text[]) then ${searchVector} end
        from jsonb_populate_recordset(null::${sql.table('call_logs')}, ${payload}::jsonb)
      on conflict (id) do update set ${updateList}`.execute(trx);
  },
};
