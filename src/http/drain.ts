import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Graceful shutdown of the HTTP server (SIGTERM on a deploy):
 *   1. `draining` becomes true at once (GET /ready answers 503 so the load balancer stops sending);
 *   2. the listening socket closes (no new connections) and idle keep-alive connections are closed;
 *   3. requests in flight finish; each reply says `Connection: close` and its connection is closed after
 *      it, so clients open their next request elsewhere instead of on a dying socket;
 *   4. after `graceMs`, whatever is still open is cut (counted and returned).
 * A request is never cut after it was accepted unless it outlives the grace period.
 */
export interface HttpDrainer {
  readonly draining: boolean;
  /** Resolves when every request finished, or the grace period ran out: `{ cut }` connections were then destroyed. */
  drain(graceMs: number, beforeWait?: () => Promise<void>): Promise<{ cut: number; waitedMs: number }>;
}

export function createHttpDrainer(server: Server): HttpDrainer {
  let draining = false;
  const active = new Set<ServerResponse>();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    active.add(res);
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      active.delete(res);
      // A connection that just became idle during the drain is closed now, not at keepAliveTimeout.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });
  return {
    get draining() {
      return draining;
    },
    async drain(graceMs, beforeWait) {
      const started = Date.now();
      draining = true;
      for (const res of active) if (!res.headersSent) res.setHeader('Connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await beforeWait?.();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        closed.then(() => 'drained' as const),
        new Promise<'grace'>((resolve) => {
          timer = setTimeout(() => resolve('grace'), graceMs);
        }),
      ]);
      clearTimeout(timer);
      let cut = 0;
      if (outcome === 'grace') {
        cut = active.size;
        server.closeAllConnections();
        await closed;
      }
      return { cut, waitedMs: Date.now() - started };
    },
  };
}
