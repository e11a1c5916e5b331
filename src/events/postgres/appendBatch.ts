import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { schemaOf } from '../../db/schemaPlugin.ts';
import { describeExpected, type AppendResult, type ExpectedRevision, type NewEvent } from '../port.ts';

export interface AppendRequest {
  streamId: string;
  events: NewEvent[];
  expected: ExpectedRevision;
}

type RawResult =
  | { ok: true; nextRevision: number; positions: number[]; duplicate: boolean }
  | { ok: false; code: 'wrong_expected_revision'; actual: number }
  | { ok: false; code: 'event_id_conflict'; eventId: string; reason: 'other_content' | 'partial_repeat' };

/**
 * Appends several independent requests in one statement (group commit) through the SQL function
 * callrec_append (db/migrations/001_event_store.sql): one round trip, each request with its own
 * expected-revision check and idempotency. Run on its own it is its own transaction; inside an explicit
 * transaction it joins it (the append lock is then held until that transaction ends).
 */
export async function appendBatch(db: Kysely<DB>, requests: AppendRequest[]): Promise<AppendResult[]> {
  for (const r of requests) {
    const ids = new Set(r.events.map((e) => e.eventId));
    if (ids.size !== r.events.length) throw new Error(`an append to ${r.streamId} names one event id twice`);
  }
  const payload = JSON.stringify(requests.map((r) => ({ streamId: r.streamId, expected: r.expected, events: r.events })));
  const res = await sql<{ r: RawResult[] | string }>`select ${sql.id(schemaOf(db), 'callrec_append')}(${payload}::jsonb) as r`.execute(db);
  const raw = res.rows[0]!.r;
  const results = (typeof raw === 'string' ? JSON.parse(raw) : raw) as RawResult[];
  return results.map((r, i): AppendResult => {
    const req = requests[i]!;
    if (r.ok) return { ok: true, nextRevision: Number(r.nextRevision), positions: r.positions.map(Number), duplicate: r.duplicate };
    if (r.code === 'wrong_expected_revision') {
      const actual = r.actual < 0 ? 'no_stream' : Number(r.actual);
      return {
        ok: false,
        error: {
          code: 'wrong_expected_revision',
          streamId: req.streamId,
          expected: req.expected,
          actual,
          message: `stream ${req.streamId}: expected ${describeExpected(req.expected)}, actual ${actual === 'no_stream' ? 'no_stream' : `revision ${actual}`}`,
        },
      };
    }
    return {
      ok: false,
      error: {
        code: 'event_id_conflict',
        eventId: r.eventId,
        message:
          r.reason === 'other_content'
            ? `event ${r.eventId} already exists with other content (another stream, type or data)`
            : `event ${r.eventId} already exists but other events of this append do not: a partial repeat is refused`,
      },
    };
  });
}
