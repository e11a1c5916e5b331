import { sql } from 'kysely';
import type { RecordedEvent } from '../../events/port.ts';
import { searchVector } from '../../privacy/blindSearch.ts';
import type { Keyring } from '../../privacy/keyring.ts';
import { PERSONAL_COLUMNS } from '../../privacy/fields.ts';
import { openValue, prepareCallKeys, sealColumns, type CallKeys } from '../../privacy/openRows.ts';
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
// The text is indexed only when it changed (see apply): otherwise excluded.search is null, and the row keeps its own
// search vector, transcript and summary as stored. Assigning the stored values lets PostgreSQL keep their TOAST
// pointers; assigning the same text afresh would write it out of line again on every pipeline update of the call.
const TEXT_COLUMNS: readonly string[] = ['transcript', 'summary'];
const updateList = sql.join([
  ...CALL_LOG_COLUMNS.filter((c) => c !== 'id').map((c) =>
    TEXT_COLUMNS.includes(c)
      ? sql`${sql.ref(c)} = case when excluded.search is null then call_logs.${sql.ref(c)} else excluded.${sql.ref(c)} end`
      : sql`${sql.ref(c)} = excluded.${sql.ref(c)}`,
  ),
  sql`search = coalesce(excluded.search, call_logs.search)`,
]);

const callIdOf = (e: RecordedEvent) => (e.data as { callId: string }).callId;

/**
 * call_logs: one row per call. Each batch loads the rows it touches, evolves them in memory with the pure
 * evolveCallLog and writes them back with one upsert (a single JSON parameter), so a rebuild runs at the speed
 * of reading the log. With a keyring it reads the log sealed: a personal column is sealed under the name of the
 * field it copies, so evolveCallLog carries the sealed values from the events to the row untouched. The write
 * step (sealColumns, with the calls' key states fetched by `prepare` before the transaction) seals what an event
 * written before encryption brought in plaintext and empties what a destroyed key sealed; only the text to index
 * is opened, for the rows whose text changed.
 *
 * `search` is a blind index: the tsvector of the blinded tokens of transcript and summary (privacy/blindSearch.ts).
 *
 * `keyring` undefined builds a projector that writes plaintext and unblinded words: only to measure what
 * sealing costs (bench/privacyRebuild.ts); the service and the CLI always pass the keyring (allProjectors).
 */
export function createCallLogsProjector(keyring: Keyring | undefined): Projector {
  return {
    name: 'call_logs',
    tables: ['call_logs'],
    handles: CALL_LOG_EVENTS,
    partitionKey: callIdOf,
    sealed: Boolean(keyring),
    prepare: keyring ? (events) => prepareCallKeys(keyring, events) : undefined,
    async apply(trx, events, prepared) {
      const keys = prepared as CallKeys | undefined;
      if (keyring && !keys) throw new Error('call_logs: apply needs the keys its prepare step fetched');
      const ids = [...new Set(events.map(callIdOf))];
      const existing = await trx.selectFrom('call_logs').selectAll().where('id', 'in', ids).execute();
      const rows = new Map<string, CallLogRow>(existing.map((r) => [r.id, fromDb(r as Record<string, unknown>)]));
      const changed = new Set<string>();
      for (const e of events) {
        const id = callIdOf(e);
        const next = evolveCallLog(rows.get(id), e);
        if (next && next !== rows.get(id)) {
          rows.set(id, next);
          changed.add(id);
        }
      }
      if (changed.size === 0) return;
      // Blinding a ~1 KB transcript and building its tsvector is the dearest part of a write, and most writes are
      // pipeline state (upload, signed URL, downloads): index the text of new rows and of rows whose text changed
      // only. Sealing is deterministic, so comparing sealed values is comparing the texts.
      const before = new Map(existing.map((r) => [r.id, r]));
      const out = [...changed].map((id) => {
        const plain = rows.get(id)!;
        const row = keys ? sealColumns('call_logs', plain, id, keys) : plain;
        const old = before.get(id);
        if (old && old.transcript === row.transcript && old.summary === row.summary) return { ...row, search: null };
        // The text as indexed: opened (a destroyed key leaves nothing to index; plaintext from an event written
        // before encryption is indexed as it came).
        const text = (c: 'transcript' | 'summary') =>
          keys ? (row[c] === null ? null : (openValue(keys, id, 'transcript', PERSONAL_COLUMNS.call_logs[c].field, plain[c]) as string | null)) : plain[c];
        return { ...row, search: searchVector(keyring?.searchKey, [text('transcript'), text('summary')]) };
      });
      // The rows travel as json, not jsonb: PostgreSQL then checks the document once and reads each field's text
      // from it, instead of building a jsonb value first (at 400 rows a page that build was a third of the write).
      await sql`
        insert into ${sql.table('call_logs')} (${columnList}, search)
        select ${columnList}, search
          from json_populate_recordset(null::${sql.table('call_logs')}, ${JSON.stringify(out)}::json)
        on conflict (id) do update set ${updateList}`.execute(trx);
    },
  };
}
