import { END, streamNameFilter, type AllStreamSubscription } from '@eventstore/db-client';
import type { Logger } from '../../log.ts';
import type { AppendSignal } from '../signal.ts';
import type { EsdbConnection } from './connection.ts';
import { CLAIM_STREAM_PREFIX, type StreamNames } from './records.ts';

/**
 * Wakes readers when any process appends: a live subscription to `$all` from its end that notifies the
 * append signal for every callrec event it sees (it delivers nothing itself; readers still page through
 * readAll). The server filters on the stream name (this namespace, no system streams, no claims), so
 * system projections' link events and statistics do not travel. When the subscription fails it is
 * opened again a second later; meanwhile subscriptions fall back to polling. Being long-lived, it is the
 * one call without a deadline.
 */
export function startAppendNotifier(conn: EsdbConnection, names: StreamNames, signal: AppendSignal, logger: Logger): { stop(): Promise<void> } {
  let stopped = false;
  let current: AllStreamSubscription | undefined;
  let retry: NodeJS.Timeout | undefined;

  function open() {
    if (stopped) return;
    let sub: AllStreamSubscription;
    try {
      sub = conn.client().subscribeToAll({ fromPosition: END, filter: streamNameFilter({ regex: streamsOf(names.namespace) }) });
    } catch (err) {
      logger.warn({ err, errorCode: 'database_unavailable', url: conn.url }, 'EventStoreDB live subscription could not start');
      again();
      return;
    }
    current = sub;
    sub.on('data', (r) => {
      const e = r.event;
      if (e && !e.type.startsWith('$') && names.port(e.streamId) !== undefined) signal.notify();
    });
    const dropped = (err?: Error) => {
      if (current !== sub) return;
      current = undefined;
      if (!stopped && err) logger.warn({ err, errorCode: 'database_unavailable', url: conn.url }, 'EventStoreDB live subscription dropped; polling until it is back');
      again();
    };
    sub.on('error', dropped);
    sub.on('end', () => dropped());
    sub.on('close', () => dropped());
  }

  function again() {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      open();
    }, 1000);
    retry.unref();
  }

  open();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      const sub = current;
      current = undefined;
      await sub?.unsubscribe().catch(() => {});
    },
  };
}

/** A regex of the EventStoreDB streams holding callrec events of a namespace. */
export function streamsOf(namespace: string): string {
  const ns = namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^${ns}(?!\\$|${CLAIM_STREAM_PREFIX})`;
}
