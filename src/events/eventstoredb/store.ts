import { silentLogger, type Logger } from '../../log.ts';
import { prepareEvents } from '../prepareEvents.ts';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent } from '../port.ts';
import { createAppendSignal } from '../signal.ts';
import { pollingSubscription } from '../subscription.ts';
import { appendToEventStoreDb, createKnownRevisions } from './append.ts';
import { openEsdbConnection } from './connection.ts';
import { startAppendNotifier } from './notifier.ts';
import { createReadAhead, readAllPage, readHeadPosition, readStreamEvents } from './reads.ts';
import { checkStreamId, streamNames } from './records.ts';

export interface EventStoreDbStoreOptions {
  /** `esdb://host:2113?tls=false`, or any connection string @eventstore/db-client accepts. */
  connectionString: string;
  /** Upper bound of every call to the server, in ms (default 10000). */
  deadlineMs?: number;
  logger?: Logger;
  /** Fallback poll interval of subscriptions when no live notification arrives (default 1000). */
  pollMs?: number;
  /**
   * Prefix of every EventStoreDB stream this store uses, so that several callrec deployments, or test
   * runs, can share one server without seeing each other's events. Default none: every stream of the
   * server that is not a system stream or a claim is then read as a callrec stream.
   */
  namespace?: string;
  /** Calls in flight at once on the connection (default 64). */
  maxConcurrentCalls?: number;
}

/**
 * The event store on EventStoreDB (gRPC, @eventstore/db-client 6.x; server 22.10 or later, which
 * reports positions on stream reads). How streams, positions and event ids map onto the server:
 * records.ts (streams, positions), claims.ts (store-wide unique event ids), append.ts (the append steps).
 *
 * - Appends to one stream run one at a time in this process; appends to different streams run
 *   concurrently.
 * - readAll pages through `$all`, skipping system events, event-id claims and other namespaces; the
 *   rest of the last chunk read serves the next page when it follows on (reads.ts).
 * - subscribe is the polling subscription over readAll, woken by this process's appends and by a live
 *   `$all` subscription (notifier.ts) for appends from other processes.
 * - Every call is under `deadlineMs`; an unreachable or silent server is a `database_unavailable`
 *   CallrecError naming the connection string (password masked).
 * - Reading `$all` needs a user allowed to (on a secure server, an admin or an adjusted `$all` ACL).
 */
export function createEventStoreDbStore(opts: EventStoreDbStoreOptions): EventStore {
  const logger = opts.logger ?? silentLogger;
  const pollMs = opts.pollMs ?? 1000;
  const conn = openEsdbConnection({
    connectionString: opts.connectionString,
    deadlineMs: opts.deadlineMs ?? 10_000,
    maxConcurrentCalls: opts.maxConcurrentCalls ?? 64,
    logger,
  });
  const names = streamNames(opts.namespace ?? '');
  const signal = createAppendSignal();
  const locks = createStreamLocks();
  const knownRevisions = createKnownRevisions();
  let notifier: ReturnType<typeof startAppendNotifier> | undefined;
  let closed = false;
  const ensureNotifier = () => {
    if (!closed) notifier ??= startAppendNotifier(conn, names, signal, logger);
  };
  const readAhead = createReadAhead();
  const readAll = (r: { after: number; limit: number }) => readAllPage(conn, names, r.after, r.limit, readAhead);

  return {
    kind: 'eventstoredb',
    async append(streamId: string, events: NewEvent[], expected: ExpectedRevision = 'any') {
      const checked = prepareEvents(events);
      if (!checked.ok) return checked.result;
      const prepared = checked.events;
      checkStreamId(streamId);
      const result = await locks.run(streamId, () => appendToEventStoreDb(conn, names, streamId, prepared, expected, knownRevisions));
      if (result.ok && !result.duplicate && result.positions.length > 0) signal.notify();
      return result;
    },
    async readStream(streamId, o = {}) {
      checkStreamId(streamId);
      return readStreamEvents(conn, names, streamId, o.fromRevision ?? 0, o.limit);
    },
    readAll({ after, limit }) {
      return readAll({ after, limit });
    },
    subscribe(after, o = {}) {
      ensureNotifier();
      return pollingSubscription({ after, batchSize: o.batchSize ?? 500, pollMs, readAll, signal });
    },
    headPosition() {
      return readHeadPosition(conn, names);
    },
    async waitForAppend(timeoutMs) {
      ensureNotifier();
      await signal.wait(signal.version, timeoutMs);
    },
    async close() {
      closed = true;
      await notifier?.stop();
      await conn.close();
    },
  };
}

/** Runs functions one at a time per key (in call order), concurrently across keys. */
function createStreamLocks() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const result = (tails.get(key) ?? Promise.resolve()).then(fn);
      const tail = result.catch(() => {});
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
  };
}
