import type { Database } from '../../db/connect.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { prepareEvents } from '../prepareEvents.ts';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent } from '../port.ts';
import { createAppendSignal } from '../signal.ts';
import { pollingSubscription } from '../subscription.ts';
import { eventsChannel } from '../../db/connect.ts';
import { AppendQueueFullError, AppendTimeoutError } from '../appendErrors.ts';
import { appendBatch, type AppendRequest } from './appendBatch.ts';
import { readAllPage, readAllPageOfTypes, readHeadPosition, readStreamEvents } from './readEvents.ts';

export interface PostgresEventStoreOptions {
  logger?: Logger;
  /** Upper bound of events written by one group-commit transaction. */
  maxBatchEvents?: number;
  /** Fallback poll interval of subscriptions when no notification arrives. */
  pollMs?: number;
  /** At most this many appends wait for a batch; more are refused with AppendQueueFullError (unbounded when unset). */
  maxQueued?: number;
  /** An append still queued (not yet sent) after this many ms is withdrawn with AppendTimeoutError. */
  queueTimeoutMs?: number;
}

interface Pending {
  request: AppendRequest;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
}

/**
 * The event store on PostgreSQL or embedded PGlite. Appends that arrive while a write is in flight are
 * queued and written together in the next transaction (group commit); each keeps its own checks.
 */
export function createPostgresEventStore(database: Database, opts: PostgresEventStoreOptions = {}): EventStore & { queueFull(): boolean } {
  const { db } = database;
  const logger = opts.logger ?? silentLogger;
  const maxBatchEvents = opts.maxBatchEvents ?? 5000;
  const pollMs = opts.pollMs ?? 1000;
  const signal = createAppendSignal();
  const queue: Pending[] = [];
  // Two batches may be in flight: while one commits, the next already waits on the append lock in the
  // database, so no round trip is wasted between them. They still commit one after the other.
  const maxInFlight = 2;
  let inFlight = 0;
  let scheduled = false;
  let unlisten: (() => Promise<void>) | undefined;
  let listening: Promise<void> | undefined;

  function ensureListening() {
    listening ??= database
      .listen(eventsChannel(database.schema), () => signal.notify())
      .then((stop) => {
        unlisten = stop;
      })
      .catch((err) => logger.warn({ err, errorCode: 'database_unavailable' }, 'LISTEN failed; subscriptions fall back to polling'));
    return listening;
  }

  async function writeBatch(batch: Pending[]) {
    const results = await appendBatch(db, batch.map((p) => p.request));
    batch.forEach((p, i) => p.resolve(results[i]!));
    if (results.some((r) => r.ok && !r.duplicate)) signal.notify();
  }

  function schedule() {
    if (scheduled || inFlight >= maxInFlight) return;
    scheduled = true;
    // Let the appends of this tick (e.g. writers just woken by the previous batch) join the batch.
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  }

  async function flush() {
    if (inFlight >= maxInFlight || queue.length === 0) return;
    inFlight += 1;
    try {
      if (queue.length > 0) {
        const batch: Pending[] = [];
        let events = 0;
        while (queue.length > 0 && (batch.length === 0 || events + queue[0]!.request.events.length <= maxBatchEvents)) {
          const p = queue.shift()!;
          clearTimeout(p.timer); // sent: from here the database's own timeouts bound it
          events += p.request.events.length;
          batch.push(p);
        }
        if (queue.length > 0) schedule();
        try {
          await writeBatch(batch);
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            return;
          }
          // Nothing of the batch committed. Try each request alone, so one bad request fails only itself.
          for (const p of batch) {
            try {
              await writeBatch([p]);
            } catch (e) {
              p.reject(e);
            }
          }
        }
      }
    } finally {
      inFlight -= 1;
      if (queue.length > 0) schedule();
    }
  }

  return {
    kind: database.kind,
    /** True while the append queue holds APPEND_QUEUE_MAX: a webhook can be refused before its body is read. */
    queueFull: () => opts.maxQueued !== undefined && queue.length >= opts.maxQueued,
    async append(streamId: string, events: NewEvent[], expected: ExpectedRevision = 'any') {
      const checked = prepareEvents(events);
      if (!checked.ok) return checked.result;
      const prepared = checked.events;
      if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 500) {
        throw new Error('streamId must be a non-empty string of at most 500 characters');
      }
      if (opts.maxQueued !== undefined && queue.length >= opts.maxQueued) throw new AppendQueueFullError(opts.maxQueued);
      return new Promise<AppendResult>((resolve, reject) => {
        const p: Pending = { request: { streamId, events: prepared, expected }, resolve, reject };
        if (opts.queueTimeoutMs !== undefined) {
          const ms = opts.queueTimeoutMs;
          p.timer = setTimeout(() => {
            const i = queue.indexOf(p);
            if (i >= 0) queue.splice(i, 1);
            reject(new AppendTimeoutError(ms));
          }, ms);
        }
        queue.push(p);
        schedule();
      });
    },
    readStream(streamId, o = {}) {
      return readStreamEvents(db, streamId, o.fromRevision ?? 0, o.limit);
    },
    readAll({ after, limit }) {
      return readAllPage(db, after, limit);
    },
    readAllOfTypes({ after, limit, types }) {
      return readAllPageOfTypes(db, after, limit, types);
    },
    subscribe(after, o = {}) {
      void ensureListening();
      return pollingSubscription({ after, batchSize: o.batchSize ?? 500, pollMs, readAll: (r) => readAllPage(db, r.after, r.limit, o.omitData), signal });
    },
    headPosition() {
      return readHeadPosition(db);
    },
    async waitForAppend(timeoutMs) {
      void ensureListening();
      await signal.wait(signal.version, timeoutMs);
    },
    async close() {
      await listening;
      await unlisten?.();
    },
  };
}
