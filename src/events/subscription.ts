import type { Position, RecordedEvent, ReadAllOptions, Subscription } from './port.ts';
import type { AppendSignal } from './signal.ts';

/**
 * Catch-up then live subscription built on paged readAll: read pages until a short page, then wait for
 * the append signal (or the poll interval, the fallback when a notification is missed), and go on.
 */
export function pollingSubscription(opts: {
  after: Position;
  batchSize: number;
  pollMs: number;
  readAll(o: ReadAllOptions): Promise<RecordedEvent[]>;
  signal: AppendSignal;
}): Subscription {
  let closed = false;
  let position = opts.after;
  const stop = { wake: () => {} };
  async function* run(): AsyncGenerator<RecordedEvent> {
    while (!closed) {
      const seen = opts.signal.version;
      const page = await opts.readAll({ after: position, limit: opts.batchSize });
      for (const event of page) {
        if (closed) return;
        position = event.position;
        yield event;
      }
      if (page.length < opts.batchSize && !closed) {
        await Promise.race([opts.signal.wait(seen, opts.pollMs), new Promise<void>((r) => (stop.wake = r))]);
      }
    }
  }
  const iterator = run();
  return {
    [Symbol.asyncIterator]: () => iterator,
    async close() {
      closed = true;
      stop.wake();
      await iterator.return(undefined);
    },
  };
}
