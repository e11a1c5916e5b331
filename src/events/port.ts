import type { Result } from '../result.ts';

/**
 * The event store port. Two adapters implement it (Postgres/PGlite and EventStoreDB) and both pass
 * one contract suite (test/events/contract.ts).
 */

/** Global position in the log: increases with commit order, never reused. 0 = before the first event. */
export type Position = number;

/**
 * `any`: no check. `no_stream`: the stream must not exist. `stream_exists`: it must exist.
 * A number: the stream's current revision (0-based index of its last event) must equal it.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface EventMetadata {
  correlationId: string;
  causationId: string | null;
  orgId: string;
  /** When the fact happened according to callrec (ISO). `recordedAt` of the row is when it was written. */
  recordedAt: string;
  /** `vapi`, `system:<process>`, `user:<id>`, `cli:<user>` … */
  actor: string;
  schemaVersion?: number;
  [key: string]: unknown;
}

export interface NewEvent {
  eventId: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface RecordedEvent<T = unknown> {
  eventId: string;
  type: string;
  data: T;
  metadata: EventMetadata;
  streamId: string;
  revision: number;
  position: Position;
  /** When the store committed the event. */
  storedAt: Date;
}

export type AppendError =
  | { code: 'wrong_expected_revision'; message: string; streamId: string; expected: ExpectedRevision; actual: number | 'no_stream' }
  | { code: 'event_id_conflict'; message: string; eventId: string }
  | { code: 'invalid_event'; message: string; eventId: string; type: string; issues: string[] };

export type AppendResult = Result<
  {
    /** The stream's revision after the append (or after the original append, for a repeat). */
    nextRevision: number;
    /** Positions of the appended events, in order (the original positions for a repeat). */
    positions: Position[];
    /** True when every event was already in the store, unchanged: nothing was written. */
    duplicate: boolean;
  },
  { error: AppendError }
>;

export interface ReadAllOptions {
  /** Read events strictly after this position (0 = from the start). */
  after: Position;
  limit: number;
}

export interface SubscribeOptions {
  batchSize?: number;
  /**
   * Top-level fields of `data` the subscriber never reads (a call's texts): a store may leave them out of the events
   * it delivers (PostgreSQL and PGlite do; EventStoreDB delivers whole events).
   */
  omitData?: readonly string[];
}

export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export interface EventStore {
  readonly kind: string;
  append(streamId: string, events: NewEvent[], expected?: ExpectedRevision): Promise<AppendResult>;
  /** Every event of the stream in revision order; empty array when the stream does not exist. */
  readStream(streamId: string, opts?: { fromRevision?: number; limit?: number }): Promise<RecordedEvent[]>;
  /** One page of the global log, in position order. A returned page never skips an event that commits later. */
  readAll(opts: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Optional: one page of the global log's events of these types only, in position order, never skipping one that
   * commits later. A page shorter than `limit` holds every such event committed before the read began: a reader
   * that took headPosition() first has then seen every event of these types up to that head.
   */
  readAllOfTypes?(opts: ReadAllOptions & { types: readonly string[] }): Promise<RecordedEvent[]>;
  /** Catch-up (every event after `after`) then live, until closed. */
  subscribe(after: Position, opts?: SubscribeOptions): Subscription;
  /** Highest committed position visible to readers (0 when empty). */
  headPosition(): Promise<Position>;
  /** Resolves on the next append in this process or a notification from another; used by pollers. */
  waitForAppend(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function describeExpected(e: ExpectedRevision): string {
  return typeof e === 'number' ? `revision ${e}` : e;
}
