import { BACKWARDS, END, FORWARDS, START, StreamNotFoundError, type AllStreamResolvedEvent, type Position as EsdbPosition, type ResolvedEvent } from '@eventstore/db-client';
import type { Position, RecordedEvent } from '../port.ts';
import type { EsdbConnection } from './connection.ts';
import { toRecordedEvent, type StreamNames } from './records.ts';

const MAX_CHUNK = 4096;

/** Raw events of an EventStoreDB stream from `fromRevision`; [] when the stream does not exist. */
export async function readRawStream(conn: EsdbConnection, esdbStream: string, fromRevision = 0, limit?: number): Promise<ResolvedEvent[]> {
  try {
    return await conn.collect<ResolvedEvent>(`readStream ${esdbStream}`, (c) =>
      c.readStream(esdbStream, { fromRevision: BigInt(fromRevision), direction: FORWARDS, ...(limit === undefined ? {} : { maxCount: limit }), deadline: conn.deadlineMs }),
    );
  } catch (err) {
    if (err instanceof StreamNotFoundError) return [];
    throw err;
  }
}

/** Revision of the last event of a stream, -1 when it does not exist. */
export async function lastRevision(conn: EsdbConnection, esdbStream: string): Promise<number> {
  try {
    const last = await conn.collect<ResolvedEvent>(`readStream ${esdbStream} (last revision)`, (c) =>
      c.readStream(esdbStream, { fromRevision: END, direction: BACKWARDS, maxCount: 1, deadline: conn.deadlineMs }),
    );
    return last[0]?.event ? Number(last[0].event.revision) : -1;
  } catch (err) {
    if (err instanceof StreamNotFoundError) return -1;
    throw err;
  }
}

export async function readStreamEvents(conn: EsdbConnection, names: StreamNames, streamId: string, fromRevision = 0, limit?: number): Promise<RecordedEvent[]> {
  const raw = await readRawStream(conn, names.esdb(streamId), fromRevision, limit);
  return raw.map((r) => toRecordedEvent(r, names)).filter((e): e is RecordedEvent => e !== undefined);
}

/**
 * The raw `$all` events of the last chunk read, so that a reader paging forwards with a small limit
 * does not cost one server read per page. `$all` only ever grows at its end, so the events between two
 * positions already read never change; a buffered chunk is used only for the part it covers, and its
 * end is never taken for the end of the log.
 */
export interface ReadAhead {
  /** Raw entries strictly after `cursor` (undefined = the start of the log), when the buffer covers it. */
  after(cursor: EsdbPosition | undefined): { entries: RawEntry[]; start: number } | undefined;
  keep(from: EsdbPosition | undefined, entries: RawEntry[]): void;
}

interface RawEntry {
  /** The server's position of the event (of any event: system events and claims included). */
  position: EsdbPosition;
  /** The callrec event at this position, if it is one. */
  event?: RecordedEvent;
}

/** Orders `$all` positions: by commit, then prepare. */
function compare(a: EsdbPosition, b: EsdbPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

export function createReadAhead(): ReadAhead {
  let covered = false;
  let from: EsdbPosition | undefined;
  let entries: RawEntry[] = [];
  return {
    after(cursor) {
      if (!covered) return undefined;
      if (cursor === undefined) return from === undefined ? { entries, start: 0 } : undefined;
      if (from !== undefined && compare(cursor, from) === 0) return { entries, start: 0 };
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compare(entries[mid]!.position, cursor) < 0) lo = mid + 1;
        else hi = mid;
      }
      const at = entries[lo];
      return at && compare(at.position, cursor) === 0 ? { entries, start: lo + 1 } : undefined;
    },
    keep(f, e) {
      covered = true;
      from = f;
      entries = e;
    },
  };
}

const MIN_CHUNK = 256;

/**
 * One page of callrec events after `after`, in `$all` order. `$all` also holds system events, claims and
 * other namespaces, so this reads chunks (growing while they yield little) until `limit` callrec events
 * are found or the end of the log is reached: a short page therefore always means "nothing more yet".
 */
export async function readAllPage(conn: EsdbConnection, names: StreamNames, after: Position, limit: number, readAhead?: ReadAhead): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  if (limit <= 0) return out;
  // Where the read stands: the full position of the last event seen (a callrec position has commit = prepare).
  let cursor: EsdbPosition | undefined = after > 0 ? { commit: BigInt(after), prepare: BigInt(after) } : undefined;
  // Every callrec event is preceded by the claim of its id: about 2 × limit raw events hold `limit`.
  let chunk = Math.min(Math.max(limit * 2 + 2, MIN_CHUNK), MAX_CHUNK);
  let buffered = readAhead?.after(cursor);
  for (;;) {
    let entries: RawEntry[];
    let start = 0;
    let endOfLog = false;
    if (buffered) {
      ({ entries, start } = buffered);
      buffered = undefined;
    } else {
      const from = cursor;
      const raw: AllStreamResolvedEvent[] = await conn.collect<AllStreamResolvedEvent>('readAll', (c) =>
        c.readAll({ fromPosition: from ?? START, direction: FORWARDS, maxCount: chunk, deadline: conn.deadlineMs }),
      );
      endOfLog = raw.length < chunk;
      entries = [];
      for (const r of raw) {
        const p = r.event?.position;
        // The read is inclusive: the event at the cursor was already seen.
        if (!p || (from !== undefined && compare(p, from) <= 0)) continue;
        entries.push({ position: p, event: toRecordedEvent(r, names) });
      }
      readAhead?.keep(from, entries);
      chunk = Math.min(chunk * 2, MAX_CHUNK);
    }
    for (let i = start; i < entries.length; i++) {
      const entry = entries[i]!;
      cursor = entry.position;
      if (!entry.event) continue;
      out.push(entry.event);
      if (out.length === limit) return out;
    }
    if (endOfLog) return out;
  }
}

/** Position of the last callrec event in `$all`, 0 when there is none. */
export async function readHeadPosition(conn: EsdbConnection, names: StreamNames): Promise<Position> {
  let from: EsdbPosition | typeof END = END;
  let chunk = 64;
  for (;;) {
    const start: EsdbPosition | typeof END = from;
    const raw: AllStreamResolvedEvent[] = await conn.collect<AllStreamResolvedEvent>('readAll backwards (head position)', (c) =>
      c.readAll({ fromPosition: start, direction: BACKWARDS, maxCount: chunk, deadline: conn.deadlineMs }),
    );
    for (const r of raw) {
      const e = toRecordedEvent(r, names);
      if (e) return e.position;
    }
    const last: EsdbPosition | undefined = raw.at(-1)?.event?.position;
    if (raw.length < chunk || !last) return 0;
    from = last;
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
}
