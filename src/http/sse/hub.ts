import type { IncomingMessage, ServerResponse } from 'node:http';
import SseChannel from 'sse-channel';
import type { EventStore, Position, RecordedEvent, Subscription } from '../../events/port.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { createUploadTracker, SSE_SOURCE_TYPES, SSE_UNREAD_FIELDS, toSseMessage, type SseMessage } from './messages.ts';

/**
 * The SSE fan-out: one subscription to the event store per process feeds every connection, fanned out by
 * org (and optionally by call). Built on sse-channel (headers, `retry:`, heartbeat comments, writing);
 * its in-memory history is never used — every message is sent to an explicit client list — because a
 * reconnecting client is caught up from the log itself:
 *
 *   on connect with Last-Event-ID = L, the client is registered first (live messages for it are buffered),
 *   then the log is read from L and the org's messages are written, then the buffer is flushed, skipping
 *   what the catch-up already sent, and the client goes live. Every client remembers the last position it
 *   was sent, and nothing at or below it is sent again: no gap (the catch-up reads past everything the hub
 *   had dispatched when the client registered) and no duplicate.
 */

export interface SseHubOptions {
  store: EventStore;
  logger?: Logger;
  /** Seconds between heartbeat comments (default 15). */
  heartbeatSeconds?: number;
  /** `retry:` sent to clients, milliseconds (default 3000). */
  retryMs?: number;
  /** Page size of catch-up reads (default 1000). */
  pageSize?: number;
  /** A client whose unsent output exceeds this many bytes is dropped (it reconnects and catches up). */
  maxBufferedBytes?: number;
  /**
   * Reads one org's SSE-relevant events after a position through an index (Postgres/PGlite log). Without
   * it (EventStoreDB) the catch-up pages through the whole log and filters.
   */
  orgEvents?: {
    /** `omitData`: top-level fields of `data` the hub never reads (see SubscribeOptions). */
    page(orgId: string, after: Position, limit: number, callId: string | undefined, omitData: readonly string[]): Promise<RecordedEvent[]>;
    countAfter(orgId: string, after: Position, cap: number): Promise<number>;
  };
  /** A resume more than this many events behind gets a `reset` event instead of a replay (SSE_MAX_REPLAY_EVENTS, default 10,000). */
  maxReplayEvents?: number;
}

export interface SseConnectOptions {
  orgId: string;
  /** Only this call's messages. */
  callId?: string;
  /** Resume after this position (the client's Last-Event-ID). */
  lastEventId?: number;
}

export interface SseHub {
  /** Subscribes to the log from its current head. */
  start(): Promise<void>;
  /** Takes over the response: headers, catch-up from the log, then live messages until the client leaves. */
  connect(req: IncomingMessage, res: ServerResponse, opts: SseConnectOptions): Promise<void>;
  /** Position of the last event the hub has dispatched. */
  readonly position: Position;
  clientCount(): number;
  stop(): Promise<void>;
}

interface Client {
  res: ServerResponse;
  orgId: string;
  callId?: string;
  lastSent: Position;
  /** Live messages that arrived during the catch-up; null once live. */
  pending: SseMessage[] | null;
  closed: boolean;
}

export function createSseHub(opts: SseHubOptions): SseHub {
  const { store } = opts;
  const logger = opts.logger ?? silentLogger;
  const pageSize = opts.pageSize ?? 1000;
  const maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
  const maxReplay = opts.maxReplayEvents ?? 10_000;
  const channel = new SseChannel({ retryTimeout: opts.retryMs ?? 3000, pingInterval: (opts.heartbeatSeconds ?? 15) * 1000, historySize: 1 });
  const byOrg = new Map<string, Set<Client>>();
  const tracker = createUploadTracker(store);
  let position: Position = 0;
  let running = false;
  let subscription: Subscription | undefined;
  let loop: Promise<void> | undefined;
  let clients = 0;

  function write(c: Client, msg: SseMessage) {
    if (c.closed) return;
    channel.send({ id: msg.id, event: msg.event, data: msg.data }, [c.res]);
    c.lastSent = msg.id;
  }

  function fanOut(msg: SseMessage) {
    const set = byOrg.get(msg.orgId);
    if (!set) return;
    const targets: ServerResponse[] = [];
    for (const c of set) {
      if (c.callId !== undefined && c.callId !== msg.callId) continue;
      if (c.pending) {
        c.pending.push(msg);
        continue;
      }
      if (msg.id <= c.lastSent) continue;
      if (c.res.writableLength > maxBuffered) {
        logger.warn({ orgId: c.orgId, buffered: c.res.writableLength }, 'SSE client too slow; dropping it (it will reconnect and catch up)');
        c.res.destroy();
        continue;
      }
      c.lastSent = msg.id;
      targets.push(c.res);
    }
    if (targets.length > 0) channel.send({ id: msg.id, event: msg.event, data: msg.data }, targets);
  }

  async function dispatch(e: RecordedEvent) {
    if (SSE_SOURCE_TYPES.has(e.type)) {
      tracker.observe(e);
      try {
        const msg = await toSseMessage(e, tracker);
        if (msg) fanOut(msg);
      } catch (err) {
        logger.error({ err, errorCode: 'database_unavailable', position: e.position }, 'SSE message could not be built');
      }
    }
    position = e.position;
  }

  async function run() {
    while (running) {
      try {
        // Without the call's texts: no message is built from them (PostgreSQL leaves them out of what it sends).
        subscription = store.subscribe(position, { omitData: SSE_UNREAD_FIELDS });
        for await (const e of subscription) {
          if (!running) break;
          await dispatch(e);
        }
      } catch (err) {
        if (!running) break;
        logger.error({ err, errorCode: 'database_unavailable', position }, 'SSE subscription failed; resubscribing');
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await subscription?.close().catch(() => {});
      }
    }
  }

  function detach(c: Client) {
    if (c.closed) return;
    c.closed = true;
    clients -= 1;
    const set = byOrg.get(c.orgId);
    set?.delete(c);
    if (set && set.size === 0) byOrg.delete(c.orgId);
    channel.removeClient(c.res);
  }

  async function catchUp(c: Client, from: Position) {
    const head = await store.headPosition();
    // An id from the future (another database, a reset) cannot be resumed: start from the present.
    let after = from > head ? head : from;
    c.lastSent = after;
    const behind = opts.orgEvents ? await opts.orgEvents.countAfter(c.orgId, after, maxReplay + 1) : head - after;
    if (behind > maxReplay) {
      // Too far behind to replay: tell the client to refetch its lists and continue live from the head.
      channel.send({ id: head, event: 'reset', data: JSON.stringify({ reason: 'too_far_behind', maxReplayEvents: maxReplay, lastEventId: head }) }, [c.res]);
      c.lastSent = head;
      after = head;
    }
    const own = createUploadTracker(store);
    if (opts.orgEvents && behind <= maxReplay) {
      for (;;) {
        const page = await opts.orgEvents.page(c.orgId, after, pageSize, c.callId, SSE_UNREAD_FIELDS);
        for (const e of page) {
          if (c.closed) return;
          own.observe(e);
          const msg = await toSseMessage(e, own);
          if (msg) write(c, msg);
          after = e.position;
        }
        if (page.length < pageSize) break;
      }
      // Everything of this org up to the head was read: nothing at or below it is sent again.
      c.lastSent = Math.max(c.lastSent, after, head);
    }
    for (;;) {
      if (opts.orgEvents) break;
      const page = await store.readAll({ after, limit: pageSize });
      for (const e of page) {
        if (c.closed) return;
        if (e.metadata.orgId === c.orgId && SSE_SOURCE_TYPES.has(e.type) && (c.callId === undefined || (e.data as { callId?: string }).callId === c.callId)) {
          own.observe(e);
          const msg = await toSseMessage(e, own);
          if (msg) write(c, msg);
        }
        after = e.position;
        c.lastSent = Math.max(c.lastSent, e.position);
      }
      if (page.length < pageSize) break;
    }
    // Synchronously from here: flush what arrived live meanwhile, then go live.
    const pending = c.pending ?? [];
    c.pending = null;
    for (const msg of pending) if (msg.id > c.lastSent) write(c, msg);
  }

  return {
    get position() {
      return position;
    },
    clientCount: () => clients,
    async start() {
      if (running) return;
      position = await store.headPosition();
      running = true;
      loop = run();
    },
    async connect(req, res, o) {
      // Stop proxies from buffering or transforming the stream. sse-channel hands its own headers to
      // writeHead (Content-Type, Cache-Control: no-cache, Connection), which win over setHeader, so its
      // Cache-Control is extended with no-transform there.
      res.setHeader('X-Accel-Buffering', 'no');
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, status: number, headers?: Record<string, string>) {
        return writeHead.call(this, status, { ...headers, 'Cache-Control': 'no-cache, no-transform' });
      } as typeof res.writeHead;
      const c: Client = { res, orgId: o.orgId, callId: o.callId, lastSent: position, pending: o.lastEventId === undefined ? null : [], closed: false };
      channel.addClient(req, res);
      clients += 1;
      let set = byOrg.get(c.orgId);
      if (!set) byOrg.set(c.orgId, (set = new Set()));
      set.add(c);
      res.on('close', () => detach(c));
      if (o.lastEventId === undefined) return;
      try {
        await catchUp(c, o.lastEventId);
      } catch (err) {
        logger.error({ err, errorCode: 'database_unavailable', orgId: c.orgId }, 'SSE catch-up failed; closing the stream (the client reconnects)');
        res.destroy();
      }
    },
    async stop() {
      running = false;
      await subscription?.close().catch(() => {});
      await loop;
      channel.close();
    },
  };
}
