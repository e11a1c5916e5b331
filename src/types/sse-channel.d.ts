// Types for sse-channel 4.x (the package ships none): the parts callrec uses.
declare module 'sse-channel' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  namespace SseChannel {
    interface Options {
      /** Messages to pre-populate the in-memory history with. */
      history?: Message[];
      /** Size of the in-memory history (0 or unset means 500). */
      historySize?: number;
      /** Milliseconds clients should wait before reconnecting (sent as `retry:` on connect). */
      retryTimeout?: number;
      /** Milliseconds between `:` ping comments to every client (default 20000). */
      pingInterval?: number;
      jsonEncode?: boolean;
    }
    interface Message {
      id?: number | string;
      event?: string;
      data?: unknown;
      retry?: number;
    }
  }

  class SseChannel extends EventEmitter {
    constructor(options?: SseChannel.Options);
    connections: ServerResponse[];
    connectionCount: number;
    /** Writes the SSE headers, `:ok`, `retry:`, then replays history newer than Last-Event-ID. */
    addClient(req: IncomingMessage, res: ServerResponse, callback?: () => void): void;
    removeClient(res: ServerResponse): void;
    getConnectionCount(): number;
    ping(): void;
    retry(retryTimeout: number): void;
    /** To every client (and into the history), or only to `clients` (bypassing the history). */
    send(msg: SseChannel.Message | string, clients?: ServerResponse[]): void;
    sendEventsSinceId(res: ServerResponse, sinceId: number): void;
    /** Ends every connection and stops the ping timer. */
    close(): void;
  }

  export = SseChannel;
}
