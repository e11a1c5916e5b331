import { randomUUID } from 'node:crypto';

/**
 * The in-memory transaction log behind the fake EventStoreDB: streams, the `$all` order and the
 * server-side rules a client can observe over gRPC.
 *
 * - Positions are byte-like offsets that grow by each record's size (never contiguous, never reused).
 *   Every append is an implicit transaction, so an event's commit position equals its prepare position.
 * - Expected revision: `any`, `no_stream` (= revision -1), `stream_exists`, or an exact revision.
 * - Idempotency (as EventStoreDB documents it): a write whose event ids are exactly the events that
 *   follow the expected revision succeeds without writing anything (`idempotent`); with `any` /
 *   `stream_exists` the first event id is looked up in the stream and the following ids must match.
 *   A write that matches only in part is a wrong expected version.
 * - System events (`$`-prefixed types in `$`-prefixed streams) are seeded at start and, optionally,
 *   written between user appends, as a real server does with its statistics.
 */

export interface ProposedEvent {
  eventId: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export interface StoredEvent extends ProposedEvent {
  streamId: string;
  revision: number;
  /** Commit position = prepare position. */
  position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as the server reports `created`. */
  created: bigint;
}

export type ExpectedVersion = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: number };

export type AppendOutcome =
  /** `position`: of the last event written (or matched), as the server reports it. */
  | { kind: 'written' | 'idempotent'; currentRevision: number; position: bigint }
  | { kind: 'wrong_expected_version'; currentRevision: number };

export type AllFrom = 'start' | 'end' | bigint;
export type StreamFrom = 'start' | 'end' | number;

export interface FakeLog {
  append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[]): AppendOutcome;
  readStream(streamId: string, from: StreamFrom, backwards: boolean, count: number): StoredEvent[] | 'not_found';
  /** Forwards: events at or after `from` (inclusive). Backwards: events before `from`. */
  readAll(from: AllFrom, backwards: boolean, count: number): StoredEvent[];
  /** Called synchronously for every stored event, in log order. */
  onEvent(listener: (e: StoredEvent) => void): () => void;
  readonly events: readonly StoredEvent[];
  readonly appends: number;
}

export interface FakeLogOptions {
  /** After every N written user appends, also write a `$statsCollected` system event (0 = never). */
  systemEventEvery?: number;
}

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));

export function createFakeLog(opts: FakeLogOptions = {}): FakeLog {
  const events: StoredEvent[] = [];
  const streams = new Map<string, StoredEvent[]>();
  const idIndex = new Map<string, Map<string, number>>();
  const listeners = new Set<(e: StoredEvent) => void>();
  let nextPosition = 0n;
  let userAppends = 0;

  /** Stores the events; returns the position of the last one. */
  function store(streamId: string, proposed: ProposedEvent[]): bigint {
    let stream = streams.get(streamId);
    if (!stream) {
      stream = [];
      streams.set(streamId, stream);
      idIndex.set(streamId, new Map());
    }
    const ids = idIndex.get(streamId)!;
    let last = nextPosition;
    const created = BigInt(Date.now()) * 10_000n;
    for (const p of proposed) {
      const e: StoredEvent = { ...p, eventId: p.eventId.toLowerCase(), streamId, revision: stream.length, position: nextPosition, created };
      last = e.position;
      // A prepare record: header, stream name, type, data and metadata.
      nextPosition += BigInt(88 + encoder.encode(streamId).length + encoder.encode(p.type).length + p.data.length + p.customMetadata.length);
      stream.push(e);
      ids.set(e.eventId, e.revision);
      events.push(e);
      for (const l of listeners) l(e);
    }
    return last;
  }

  function systemEvent(streamId: string, type: string, data: unknown) {
    store(streamId, [{ eventId: randomUUID(), type, contentType: 'application/json', data: json(data), customMetadata: new Uint8Array() }]);
  }

  systemEvent('$settings', '$settings', { $userStreamAcl: { $r: '$all' } });
  systemEvent('$user-admin', '$UserCreated', { loginName: 'admin', fullName: 'Event Store Administrator' });

  /** Ids of `proposed` equal the events stored from revision `from` on (all of them, inside the stream). */
  function matchesFrom(stream: StoredEvent[], from: number, proposed: ProposedEvent[]): 'all' | 'some' | 'none' {
    let matched = 0;
    for (let i = 0; i < proposed.length; i++) {
      const e = stream[from + i];
      if (e && e.eventId === proposed[i]!.eventId.toLowerCase()) matched++;
    }
    return matched === proposed.length ? 'all' : matched > 0 ? 'some' : 'none';
  }

  return {
    get events() {
      return events;
    },
    get appends() {
      return userAppends;
    },
    append(streamId, expected, proposed) {
      const stream = streams.get(streamId) ?? [];
      const current = stream.length - 1;
      const idempotent = (from: number): AppendOutcome => ({
        kind: 'idempotent',
        currentRevision: from + proposed.length - 1,
        position: stream[from + proposed.length - 1]!.position,
      });
      const wrong: AppendOutcome = { kind: 'wrong_expected_version', currentRevision: current };

      if (proposed.length > 0) {
        if (expected.kind === 'any' || (expected.kind === 'stream_exists' && current >= 0)) {
          const at = idIndex.get(streamId)?.get(proposed[0]!.eventId.toLowerCase());
          if (at !== undefined) {
            const m = matchesFrom(stream, at, proposed);
            if (m === 'all') return idempotent(at);
            return wrong;
          }
        } else if (expected.kind === 'no_stream' || expected.kind === 'revision') {
          const expectedRevision = expected.kind === 'no_stream' ? -1 : expected.revision;
          if (expectedRevision < current) {
            const m = matchesFrom(stream, expectedRevision + 1, proposed);
            return m === 'all' ? idempotent(expectedRevision + 1) : wrong;
          }
        }
      }
      switch (expected.kind) {
        case 'no_stream':
          if (current !== -1) return wrong;
          break;
        case 'stream_exists':
          if (current === -1) return wrong;
          break;
        case 'revision':
          if (current !== expected.revision) return wrong;
          break;
      }
      if (proposed.length === 0) return { kind: 'written', currentRevision: current, position: nextPosition };
      const position = store(streamId, proposed);
      userAppends += 1;
      if (opts.systemEventEvery && userAppends % opts.systemEventEvery === 0) {
        systemEvent('$stats-127.0.0.1:2113', '$statsCollected', { 'proc-id': process.pid, appends: userAppends });
      }
      return { kind: 'written', currentRevision: current + proposed.length, position };
    },
    readStream(streamId, from, backwards, count) {
      const stream = streams.get(streamId);
      if (!stream) return 'not_found';
      if (!backwards) {
        const start = from === 'start' ? 0 : from === 'end' ? stream.length : from;
        return stream.slice(start, start + count);
      }
      const start = from === 'end' ? stream.length - 1 : from === 'start' ? -1 : Math.min(from, stream.length - 1);
      const out: StoredEvent[] = [];
      for (let i = start; i >= 0 && out.length < count; i--) out.push(stream[i]!);
      return out;
    },
    readAll(from, backwards, count) {
      if (!backwards) {
        const start = from === 'start' ? 0 : from === 'end' ? events.length : firstAtOrAfter(events, from);
        return events.slice(start, start + count);
      }
      const end = from === 'end' ? events.length : from === 'start' ? 0 : firstAtOrAfter(events, from);
      const out: StoredEvent[] = [];
      for (let i = end - 1; i >= 0 && out.length < count; i--) out.push(events[i]!);
      return out;
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Index of the first event whose position is >= `position` (binary search; positions increase). */
export function firstAtOrAfter(events: readonly StoredEvent[], position: bigint): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.position < position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
