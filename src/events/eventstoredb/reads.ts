import { BACKWARDS, END, FORWARDS, START, StreamNotFoundError, type AllStreamResolvedEvent, type Position as EsdbPosition, type ResolvedEvent } from '@eventstore/db-client';
import type { Position, RecordedEvent } from '../port.ts';
import type { EsdbConnection } from './connection.ts';
import { toEsdbPosition, toRecordedEvent, type StreamNames } from './records.ts';

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
 * One page of callrec events after `after`, in `$all` order. `$all` also holds system events, claims and
 * other namespaces, so this reads chunks (growing while they yield little) until `limit` callrec events
 * are found or the end of the log is reached: a short page therefore always means "nothing more yet".
 */
export async function readAllPage(conn: EsdbConnection, names: StreamNames, after: Position, limit: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  if (limit <= 0) return out;
  let from: EsdbPosition | typeof START = after > 0 ? toEsdbPosition(after) : START;
  // The read is inclusive: anything at or before `skipTo` was already seen.
  let skipTo: bigint | undefined = after > 0 ? BigInt(after) : undefined;
  let chunk = Math.min(Math.max(limit * 2 + 1, 64), MAX_CHUNK);
  for (;;) {
    const start: EsdbPosition | typeof START = from;
    const raw: AllStreamResolvedEvent[] = await conn.collect<AllStreamResolvedEvent>('readAll', (c) =>
      c.readAll({ fromPosition: start, direction: FORWARDS, maxCount: chunk, deadline: conn.deadlineMs }),
    );
    let last: EsdbPosition | undefined;
    for (const r of raw) {
      const p = r.event?.position;
      if (!p) continue;
      last = p;
      if (skipTo !== undefined && p.commit <= skipTo) continue;
      const e = toRecordedEvent(r, names);
      if (!e) continue;
      out.push(e);
      if (out.length === limit) return out;
    }
    if (raw.length < chunk || !last) return out;
    from = last;
    skipTo = last.commit;
    chunk = Math.min(chunk * 2, MAX_CHUNK);
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
