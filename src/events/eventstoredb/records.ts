import type { Position as EsdbPosition, ResolvedEvent } from '@eventstore/db-client';
import type { EventMetadata, Position, RecordedEvent } from '../port.ts';
import { upcast } from '../upcast.ts';

/**
 * How callrec's streams and positions map onto EventStoreDB.
 *
 * Streams: a port stream `call-x` is the EventStoreDB stream `<namespace>call-x` (namespace '' by
 * default). Event-id claims (see claims.ts) live in `<namespace>callrec-eventid-<uuid>`. Reads of the
 * global log skip claims, events of other namespaces, system streams (`$…`) and system event types (`$…`).
 *
 * Positions: the port's Position is EventStoreDB's commit position as a number. Events appended over
 * gRPC are implicit transactions, for which the server reports commit position = prepare position, so
 * the commit position alone identifies an event and orders `$all`; reading "after p" asks for
 * `{ commit: p, prepare: p }` (inclusive) and drops the event at p. Assumptions, checked on every event
 * read: commit = prepare (an event written inside a legacy TCP explicit transaction would break it) and
 * commit < 2^53 (a 9-petabyte log). A Position is only meaningful for the store it came from.
 */
export const CLAIM_STREAM_PREFIX = 'callrec-eventid-';

export interface StreamNames {
  namespace: string;
  /** The EventStoreDB stream of a port stream. */
  esdb(streamId: string): string;
  /** The EventStoreDB stream holding the claim of an event id. */
  claim(eventId: string): string;
  /** The port stream of an EventStoreDB stream, or undefined when it is not a callrec event stream. */
  port(esdbStream: string): string | undefined;
}

export function streamNames(namespace = ''): StreamNames {
  return {
    namespace,
    esdb: (streamId) => namespace + streamId,
    claim: (eventId) => `${namespace}${CLAIM_STREAM_PREFIX}${eventId}`,
    port(esdbStream) {
      if (!esdbStream.startsWith(namespace)) return undefined;
      const id = esdbStream.slice(namespace.length);
      if (id.length === 0 || id.startsWith('$') || id.startsWith(CLAIM_STREAM_PREFIX)) return undefined;
      return id;
    },
  };
}

/** Refuses stream ids that cannot be callrec event streams on EventStoreDB. */
export function checkStreamId(streamId: string): void {
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 500) {
    throw new Error('streamId must be a non-empty string of at most 500 characters');
  }
  if (streamId.startsWith('$')) throw new Error(`streamId ${streamId}: streams starting with $ are EventStoreDB system streams`);
  if (streamId.startsWith(CLAIM_STREAM_PREFIX)) throw new Error(`streamId ${streamId}: the ${CLAIM_STREAM_PREFIX} prefix is reserved for event-id claims`);
}

const MAX_POSITION = BigInt(Number.MAX_SAFE_INTEGER);

export function toPortPosition(p: EsdbPosition | undefined, what: string): Position {
  // A server before 22.6 leaves the positions of stream reads at their default, 0; no user event sits
  // at position 0 of a real log (the log opens with system records).
  if (!p || (p.commit === 0n && p.prepare === 0n)) {
    throw new Error(`EventStoreDB sent ${what} without a position (servers before 22.6 do not report positions on stream reads)`);
  }
  if (p.commit !== p.prepare) {
    throw new Error(`${what} has commit position ${p.commit} ≠ prepare position ${p.prepare} (an explicit transaction); callrec needs commit = prepare`);
  }
  if (p.commit > MAX_POSITION) throw new Error(`${what} has commit position ${p.commit}, beyond 2^53`);
  return Number(p.commit);
}

/** A resolved EventStoreDB event as a callrec event, or undefined when it is not one (see streamNames). */
export function toRecordedEvent(resolved: ResolvedEvent, names: StreamNames): RecordedEvent | undefined {
  const e = resolved.event;
  if (!e || e.type.startsWith('$')) return undefined;
  const streamId = names.port(e.streamId);
  if (streamId === undefined) return undefined;
  const metadata = (isObject(e.metadata) ? e.metadata : {}) as EventMetadata;
  return {
    eventId: e.id,
    type: e.type,
    data: upcast(e.type, metadata.schemaVersion, e.data),
    metadata,
    streamId,
    revision: Number(e.revision),
    position: toPortPosition(e.position, `event ${e.id} (${e.streamId}@${e.revision})`),
    storedAt: e.created,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
