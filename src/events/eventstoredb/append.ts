import { jsonEvent, NO_STREAM, WrongExpectedVersionError, type AppendExpectedRevision, type JSONType } from '@eventstore/db-client';
import { canonicalJson } from './canonical.ts';
import { describeExpected, type AppendResult, type ExpectedRevision, type NewEvent, type Position } from '../port.ts';
import { claimEventId, type ClaimResult } from './claims.ts';
import type { EsdbConnection } from './connection.ts';
import { lastRevision, readRawStream } from './reads.ts';
import { toPortPosition, type StreamNames } from './records.ts';

/** Appends retried after a concurrent writer (another process) moved a stream appended with `any`. */
const MAX_ATTEMPTS = 50;

/**
 * The last revision this process saw of each stream it wrote (bounded). It spares the read of step 1:
 * a revision seen earlier is as safe a base as one read just now (both predate the claims), and when
 * another process has moved the stream since, the append is refused and retried as below.
 */
export interface KnownRevisions {
  get(esdbStream: string): number | undefined;
  set(esdbStream: string, revision: number): void;
}

export function createKnownRevisions(max = 10_000): KnownRevisions {
  const known = new Map<string, number>();
  return {
    get: (stream) => known.get(stream),
    set(stream, revision) {
      known.delete(stream);
      known.set(stream, revision);
      if (known.size > max) known.delete(known.keys().next().value!);
    },
  };
}

interface StoredCopy {
  revision: number;
  position: Position;
  type: string;
  data: unknown;
}

interface StreamScan {
  /** Last revision, -1 when the stream does not exist. */
  current: number;
  /** For each event of the append, its stored copy in the stream, if any. */
  found: Array<StoredCopy | undefined>;
}

/**
 * Appends already-validated events to one stream, with the port's semantics on EventStoreDB. Callers
 * run at most one append per stream at a time in this process (store.ts); other processes may append
 * concurrently, which the steps below allow for.
 *
 * 1. For `any` / `stream_exists`, take the stream's last revision *before* claiming (the one this
 *    process last saw, else read it): nobody else may write these events before their ids are
 *    claimed, so the append in step 4, made at exactly that revision, cannot silently add a second
 *    copy of an event someone else wrote in between (the server either finds the same ids right after
 *    that revision — its own idempotency — or refuses the revision).
 * 2. Claim every event id (claims.ts). Another stream, type or data under an id → `event_id_conflict`.
 * 3. When an id was claimed before, look for the events in the stream: all there unchanged → a repeat
 *    (`duplicate: true`, original revisions and positions); only some, or changed → `event_id_conflict`.
 *    The stream's revision read here replaces the one of step 1.
 * 4. Append with the port's expected revision; `any` / `stream_exists` are sent as the exact revision
 *    read before. On a wrong expected version, look for the events again (a concurrent identical append
 *    from another process may have won: that is a repeat); then retry an `any` at the new revision, or
 *    report `wrong_expected_revision` with the actual revision.
 *
 * One imprecision remains: when two processes append the same new event at the same moment, the server
 * stores it once and both may report `duplicate: false` (with the same, original position).
 */
export async function appendToEventStoreDb(
  conn: EsdbConnection,
  names: StreamNames,
  streamId: string,
  events: NewEvent[],
  expected: ExpectedRevision,
  known: KnownRevisions = createKnownRevisions(0),
): Promise<AppendResult> {
  const esdbStream = names.esdb(streamId);
  const ids = new Set<string>();
  for (const e of events) {
    if (ids.has(e.eventId)) return conflict(e.eventId, `event ${e.eventId} appears twice in one append`);
    ids.add(e.eventId);
  }
  const flexible = expected === 'any' || expected === 'stream_exists';

  if (events.length === 0) return emptyAppend(streamId, expected, await lastRevision(conn, esdbStream));

  // 1.
  let base = flexible ? (known.get(esdbStream) ?? (await lastRevision(conn, esdbStream))) : undefined;

  // 2.
  const claims: ClaimResult[] = await Promise.all(events.map((e) => claimEventId(conn, names, streamId, e)));
  const refused = claims.find((c) => c.kind === 'conflict');
  if (refused && refused.kind === 'conflict') return conflict(events[claims.indexOf(refused)]!.eventId, refused.message);

  // 3.
  if (claims.some((c) => c.kind === 'same')) {
    const scan = await scanStream(conn, esdbStream, events);
    known.set(esdbStream, scan.current);
    const repeat = asRepeat(events, scan);
    if (repeat) return repeat;
    base = scan.current;
  }

  // 4.
  for (let attempt = 1; ; attempt++) {
    if (expected === 'stream_exists' && base === -1) return wrongRevision(streamId, expected, -1);
    const revision: AppendExpectedRevision = flexible
      ? base! < 0
        ? NO_STREAM
        : BigInt(base!)
      : expected === 'no_stream'
        ? NO_STREAM
        : BigInt(expected as number);
    try {
      const result = await conn.call(`append to ${esdbStream}`, (c) =>
        c.appendToStream(
          esdbStream,
          events.map((e) => jsonEvent({ id: e.eventId, type: e.type, data: e.data as JSONType, metadata: e.metadata as unknown as JSONType })),
          { expectedRevision: revision, deadline: conn.deadlineMs },
        ),
      );
      const nextRevision = Number(result.nextExpectedRevision);
      known.set(esdbStream, nextRevision);
      // The server answers with the position of the (last) event written; for one event that is its
      // position. Several events, or an answer without a usable position, are read back.
      const p = result.position;
      const positions =
        events.length === 1 && p && p.commit === p.prepare && p.commit > 0n
          ? [toPortPosition(p, `the append to ${esdbStream}`)]
          : await readBackPositions(conn, esdbStream, events, nextRevision);
      return { ok: true, nextRevision, positions, duplicate: false };
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError)) throw err;
      const scan = await scanStream(conn, esdbStream, events);
      known.set(esdbStream, scan.current);
      const repeat = asRepeat(events, scan);
      if (repeat) return repeat;
      const actual = scan.current;
      if (flexible && (expected === 'any' || actual >= 0) && attempt < MAX_ATTEMPTS) {
        base = actual;
        continue;
      }
      return wrongRevision(streamId, expected, actual);
    }
  }
}

async function scanStream(conn: EsdbConnection, esdbStream: string, events: NewEvent[]): Promise<StreamScan> {
  const raw = await readRawStream(conn, esdbStream);
  const byId = new Map<string, StoredCopy>();
  let current = -1;
  for (const r of raw) {
    const e = r.event;
    if (!e) continue;
    current = Math.max(current, Number(e.revision));
    if (!byId.has(e.id)) {
      byId.set(e.id, { revision: Number(e.revision), position: toPortPosition(e.position, `event ${e.id}`), type: e.type, data: e.data });
    }
  }
  return { current, found: events.map((e) => byId.get(e.eventId)) };
}

/** The append as a repeat of stored events, a conflict, or undefined when none of its events is stored. */
function asRepeat(events: NewEvent[], scan: StreamScan): AppendResult | undefined {
  const stored = scan.found.filter((f) => f !== undefined).length;
  if (stored === 0) return undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const f = scan.found[i];
    if (f && (f.type !== e.type || canonicalJson(f.data) !== canonicalJson(e.data))) {
      return conflict(e.eventId, `event ${e.eventId} already exists with other content (type ${f.type})`);
    }
  }
  if (stored < events.length) {
    const first = events.find((_, i) => scan.found[i] !== undefined)!;
    return conflict(first.eventId, `event ${first.eventId} already exists but other events of this append do not: a partial repeat is refused`);
  }
  const copies = scan.found as StoredCopy[];
  return { ok: true, nextRevision: copies.at(-1)!.revision, positions: copies.map((c) => c.position), duplicate: true };
}

/** Positions of the events just written at revisions nextRevision-n+1 … nextRevision. */
async function readBackPositions(conn: EsdbConnection, esdbStream: string, events: NewEvent[], nextRevision: number): Promise<Position[]> {
  const first = nextRevision - events.length + 1;
  const raw = await readRawStream(conn, esdbStream, first, events.length);
  return events.map((e, i) => {
    const r = raw[i]?.event;
    if (!r || r.id !== e.eventId) {
      throw new Error(`EventStoreDB stream ${esdbStream}: event ${e.eventId} is not at revision ${first + i} after the append`);
    }
    return toPortPosition(r.position, `event ${e.eventId}`);
  });
}

function emptyAppend(streamId: string, expected: ExpectedRevision, current: number): AppendResult {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === -1) ||
    (expected === 'stream_exists' && current >= 0) ||
    (typeof expected === 'number' && expected === current);
  if (!ok) return wrongRevision(streamId, expected, current);
  return { ok: true, nextRevision: current, positions: [], duplicate: false };
}

function wrongRevision(streamId: string, expected: ExpectedRevision, current: number): AppendResult {
  const actual = current < 0 ? ('no_stream' as const) : current;
  return {
    ok: false,
    error: {
      code: 'wrong_expected_revision',
      streamId,
      expected,
      actual,
      message: `stream ${streamId}: expected ${describeExpected(expected)}, actual ${actual === 'no_stream' ? 'no_stream' : `revision ${actual}`}`,
    },
  };
}

function conflict(eventId: string, message: string): AppendResult {
  return { ok: false, error: { code: 'event_id_conflict', eventId, message } };
}
