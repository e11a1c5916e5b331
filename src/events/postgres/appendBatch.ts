import { sql, type Transaction } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { describeExpected, type AppendResult, type ExpectedRevision, type NewEvent } from '../port.ts';
import { canonicalJson } from '../canonicalJson.ts';

export const APPEND_LOCK_KEY = 7_310_002;
export const EVENTS_CHANNEL = 'callrec_events';

export interface AppendRequest {
  streamId: string;
  events: NewEvent[];
  expected: ExpectedRevision;
}

interface KnownEvent {
  streamId: string;
  type: string;
  data: string;
  revision: number;
  position: number;
}

/**
 * Appends several independent requests in one transaction (group commit). Each request keeps its own
 * expected-revision check and idempotency; a failing request does not affect the others.
 *
 * The transaction-level advisory lock serialises writers, so the positions chosen here (max + 1 …) commit
 * in order: readers paging by position never pass an event that is still uncommitted.
 */
export async function appendBatch(trx: Transaction<DB>, requests: AppendRequest[]): Promise<AppendResult[]> {
  await sql`select pg_advisory_xact_lock(${APPEND_LOCK_KEY})`.execute(trx);

  const streamIds = [...new Set(requests.map((r) => r.streamId))];
  const eventIds = [...new Set(requests.flatMap((r) => r.events.map((e) => e.eventId)))];

  const [head, streamRows, existingRows] = await Promise.all([
    sql<{ max: string | number | null }>`select max(position) as max from events`.execute(trx),
    trx.selectFrom('streams').select(['stream_id', 'revision']).where('stream_id', 'in', streamIds).execute(),
    eventIds.length === 0
      ? Promise.resolve([])
      : trx
          .selectFrom('events')
          .select(['event_id', 'stream_id', 'stream_revision', 'position', 'type', 'data'])
          .where(sql<boolean>`event_id = any(${eventIds}::uuid[])`)
          .execute(),
  ]);

  let nextPosition = Number(head.rows[0]?.max ?? 0) + 1;
  const revisions = new Map<string, number>(streamRows.map((r) => [r.stream_id, Number(r.revision)]));
  const known = new Map<string, KnownEvent>(
    existingRows.map((r) => [
      r.event_id,
      { streamId: r.stream_id, type: r.type, data: canonicalJson(r.data), revision: Number(r.stream_revision), position: Number(r.position) },
    ]),
  );

  const rows: Array<[number, string, number, string, string, string, string]> = [];
  const results: AppendResult[] = requests.map((req) => {
    const current = revisions.get(req.streamId) ?? -1;

    // Idempotency: all events already stored unchanged → report the original positions.
    const seen = req.events.map((e) => known.get(e.eventId));
    const repeated = seen.filter((k) => k !== undefined).length;
    if (repeated > 0) {
      for (let i = 0; i < req.events.length; i++) {
        const e = req.events[i]!;
        const k = seen[i];
        if (k && (k.streamId !== req.streamId || k.type !== e.type || k.data !== canonicalJson(e.data))) {
          return conflict(e.eventId, `event ${e.eventId} already exists with other content (stream ${k.streamId}, type ${k.type})`);
        }
      }
      if (repeated < req.events.length) {
        const first = req.events.find((e) => known.has(e.eventId))!;
        return conflict(first.eventId, `event ${first.eventId} already exists but other events of this append do not: a partial repeat is refused`);
      }
      const last = seen[seen.length - 1]!;
      return { ok: true, nextRevision: last.revision, positions: seen.map((k) => k!.position), duplicate: true };
    }

    const wrong = checkExpected(req.expected, current);
    if (wrong) {
      return {
        ok: false,
        error: {
          code: 'wrong_expected_revision',
          streamId: req.streamId,
          expected: req.expected,
          actual: current < 0 ? 'no_stream' : current,
          message: `stream ${req.streamId}: expected ${describeExpected(req.expected)}, actual ${current < 0 ? 'no_stream' : `revision ${current}`}`,
        },
      };
    }

    const positions: number[] = [];
    let revision = current;
    const ids = new Set<string>();
    for (const e of req.events) {
      if (ids.has(e.eventId)) return conflict(e.eventId, `event ${e.eventId} appears twice in one append`);
      ids.add(e.eventId);
    }
    for (const e of req.events) {
      revision += 1;
      const position = nextPosition++;
      positions.push(position);
      const data = canonicalJson(e.data);
      rows.push([position, req.streamId, revision, e.eventId, e.type, data, JSON.stringify(e.metadata)]);
      known.set(e.eventId, { streamId: req.streamId, type: e.type, data, revision, position });
    }
    revisions.set(req.streamId, revision);
    return { ok: true, nextRevision: revision, positions, duplicate: false };
  });

  if (rows.length > 0) {
    await sql`
      insert into events (position, stream_id, stream_revision, event_id, type, data, metadata)
      select * from unnest(
        ${rows.map((r) => r[0])}::bigint[], ${rows.map((r) => r[1])}::text[], ${rows.map((r) => r[2])}::bigint[],
        ${rows.map((r) => r[3])}::uuid[], ${rows.map((r) => r[4])}::text[], ${rows.map((r) => r[5])}::jsonb[],
        ${rows.map((r) => r[6])}::jsonb[])`.execute(trx);
    const touched = [...new Set(rows.map((r) => r[1]))];
    await sql`
      insert into streams (stream_id, revision)
      select * from unnest(${touched}::text[], ${touched.map((s) => revisions.get(s)!)}::bigint[])
      on conflict (stream_id) do update set revision = excluded.revision, updated_at = now()`.execute(trx);
    await sql`select pg_notify(${EVENTS_CHANNEL}, ${String(nextPosition - 1)})`.execute(trx);
  }
  return results;
}

function checkExpected(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case 'any':
      return false;
    case 'no_stream':
      return current !== -1;
    case 'stream_exists':
      return current === -1;
    default:
      return current !== expected;
  }
}

function conflict(eventId: string, message: string): AppendResult {
  return { ok: false, error: { code: 'event_id_conflict', eventId, message } };
}
