import { EventStoreDBClient, StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '@eventstore/db-client';
import { CallrecError } from '../../errors.ts';
import type { Logger } from '../../log.ts';

/**
 * The one @eventstore/db-client client of a store, with every call under a deadline.
 *
 * Why a timer of our own: the client's deadline does not cover everything. Its first call probes the
 * server's features with no deadline at all, and reads run with an infinite deadline, so against a port
 * that accepts TCP but never speaks HTTP/2 a call waits forever, and `dispose()` does not free it. Each
 * call here races a timer; when the timer wins, the client is retired (its gRPC channel closed, which
 * fails whatever still waits on it) and the next call starts on a fresh client.
 */
export interface EsdbConnection {
  /** The connection string with any password masked, for messages and logs. */
  readonly url: string;
  readonly deadlineMs: number;
  /** Runs one client call under the deadline. WrongExpectedVersion and StreamNotFound pass through as is. */
  call<T>(what: string, fn: (client: EventStoreDBClient) => Promise<T>): Promise<T>;
  /** Collects a streaming read (readStream/readAll) under the deadline, cancelling it on timeout. */
  collect<T>(what: string, open: (client: EventStoreDBClient) => StreamingReadLike<T>): Promise<T[]>;
  /** The current client, for long-lived calls (subscriptions) that are not under a deadline. */
  client(): EventStoreDBClient;
  close(): Promise<void>;
}

/** What the client's readStream/readAll return: an object-mode readable that can be cancelled. */
export interface StreamingReadLike<T> {
  on(event: 'data', fn: (item: T) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  cancel(): Promise<void>;
}

export interface EsdbConnectionOptions {
  connectionString: string;
  deadlineMs: number;
  /** Calls in flight at once (a server accepts about 100 concurrent HTTP/2 streams per connection). */
  maxConcurrentCalls: number;
  logger: Logger;
}

/** Masks the password of `esdb://user:password@host…`. */
export function maskConnectionString(s: string): string {
  return s.replace(/^([a-z+]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

export function openEsdbConnection(opts: EsdbConnectionOptions): EsdbConnection {
  const url = maskConnectionString(opts.connectionString);
  const { deadlineMs, logger } = opts;
  let current = newClient();
  let closed = false;
  let active = 0;
  const waiting: Array<() => void> = [];

  function newClient(): EventStoreDBClient {
    try {
      return EventStoreDBClient.connectionString(opts.connectionString);
    } catch (err) {
      throw new Error(`invalid EventStoreDB connection string ${url}: ${(err as Error).message}`);
    }
  }

  async function acquire() {
    if (active < opts.maxConcurrentCalls) {
      active += 1;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  function release() {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  }

  function retire(client: EventStoreDBClient) {
    if (client === current && !closed) current = newClient();
    void shutDown(client);
  }

  function timeoutError(what: string) {
    return new CallrecError(
      'database_unavailable',
      `EventStoreDB at ${url} did not answer ${what} within ${deadlineMs} ms (is it an EventStoreDB gRPC endpoint, with the right tls setting?)`,
      { url, what },
    );
  }

  function mapError(what: string, err: unknown): unknown {
    if (err instanceof WrongExpectedVersionError || err instanceof StreamNotFoundError || err instanceof CallrecError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UnavailableError || /UNAVAILABLE/.test(message)) {
      return new CallrecError('database_unavailable', `EventStoreDB at ${url} is unreachable (${what}): ${message}`, { url, what });
    }
    return new CallrecError('database_unavailable', `EventStoreDB at ${url}: ${what} failed: ${message}`, { url, what });
  }

  function ensureOpen(what: string) {
    if (closed) throw new CallrecError('database_unavailable', `EventStoreDB store for ${url} is closed (${what})`, { url, what });
  }

  return {
    url,
    deadlineMs,
    client: () => current,
    async call(what, fn) {
      ensureOpen(what);
      await acquire();
      const client = current;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          fn(client),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              logger.warn({ errorCode: 'database_unavailable', url, what, deadlineMs }, 'EventStoreDB call timed out; reconnecting');
              retire(client);
              reject(timeoutError(what));
            }, deadlineMs);
          }),
        ]);
      } catch (err) {
        throw mapError(what, err);
      } finally {
        clearTimeout(timer);
        release();
      }
    },
    async collect<T>(what: string, open: (client: EventStoreDBClient) => StreamingReadLike<T>) {
      ensureOpen(what);
      await acquire();
      const client = current;
      try {
        return await new Promise<T[]>((resolve, reject) => {
          const items: T[] = [];
          let settled = false;
          const settle = (fn: () => void) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            fn();
          };
          const timer = setTimeout(() => {
            settle(() => {
              logger.warn({ errorCode: 'database_unavailable', url, what, deadlineMs }, 'EventStoreDB read timed out; reconnecting');
              void stream.cancel().catch(() => {});
              retire(client);
              reject(timeoutError(what));
            });
          }, deadlineMs);
          let stream: StreamingReadLike<T>;
          try {
            stream = open(client);
          } catch (err) {
            settle(() => reject(mapError(what, err)));
            return;
          }
          stream.on('data', (item) => items.push(item));
          stream.on('end', () => settle(() => resolve(items)));
          stream.on('error', (err) => settle(() => reject(mapError(what, err))));
        });
      } finally {
        release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await shutDown(current);
    },
  };
}

/**
 * Disposes a client and closes its gRPC channel. `dispose()` alone cancels open streams but leaves the
 * channel (and any call still waiting for it, such as the feature probe) alive; closing the channel ends
 * those calls and lets the process exit. The channel getter is protected in the client's typings.
 */
async function shutDown(client: EventStoreDBClient): Promise<void> {
  await Promise.race([client.dispose().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
  try {
    const channel = await (client as unknown as { getChannel(): Promise<{ close(): void }> }).getChannel();
    channel.close();
  } catch {
    // No channel could be made (bad address): nothing to close.
  }
}
