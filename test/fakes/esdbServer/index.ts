import * as grpc from '@grpc/grpc-js';
import { createFakeLog, type FakeLog, type FakeLogOptions } from './log.ts';
import { featuresGrpc, featuresPb, streamsGrpc } from './protocol.ts';
import { streamsService, type CallCounts } from './streamsService.ts';

/**
 * A local stand-in for EventStoreDB's gRPC interface, for tests where no server can be installed. It
 * speaks the real wire format (the service definitions shipped with @eventstore/db-client) on
 * 127.0.0.1, insecure, and keeps events in memory:
 *
 * - `event_store.client.server_features.ServerFeatures/GetSupportedMethods` — the client's probe on its
 *   first call; it advertises Read, Append and BatchAppend, so the client appends through BatchAppend as
 *   it does against a current server. With `serverFeatures: false` the service is absent (UNIMPLEMENTED,
 *   as on old servers) and the client falls back to the client-streaming Append.
 * - `event_store.client.streams.Streams/Read` — a stream forwards/backwards from a revision (a missing
 *   stream answers `stream_not_found`); `$all` forwards from a position (inclusive) or backwards
 *   (exclusive); a catch-up + live subscription to `$all` (confirmation, backlog after the position,
 *   caught-up, then live). `$all` reads and subscriptions honour a stream-name or event-type filter
 *   (regex or prefixes; no checkpoints are sent). Stream subscriptions answer UNIMPLEMENTED.
 * - `Append` / `BatchAppend` — expected-revision checks and EventStoreDB's idempotency of repeated
 *   writes (see log.ts); a wrong expected version is reported the way each call reports it
 *   (`AppendResp.wrong_expected_version`, or a `google.rpc.Status` whose details are a packed
 *   `WrongExpectedVersion`).
 * - `Delete` / `Tombstone` answer UNIMPLEMENTED.
 *
 * Like Kestrel in front of a real server, at most `maxConcurrentStreams` (default 100) calls run at once
 * per connection.
 */
export interface FakeEventStoreDbOptions extends FakeLogOptions {
  serverFeatures?: boolean;
  maxConcurrentStreams?: number;
  serverVersion?: string;
}

export interface FakeEventStoreDb {
  /** `esdb://127.0.0.1:<port>?tls=false` */
  url: string;
  port: number;
  log: FakeLog;
  calls: CallCounts;
  close(): Promise<void>;
}

export async function startFakeEventStoreDb(opts: FakeEventStoreDbOptions = {}): Promise<FakeEventStoreDb> {
  const log = createFakeLog(opts);
  const calls: CallCounts = { read: 0, subscribe: 0, append: 0, batchAppend: 0, features: 0 };
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': opts.maxConcurrentStreams ?? 100 });
  const streams = streamsGrpc.StreamsService;
  // Read answers with pre-serialised events (see readEvent in streamsService.ts) as well as messages.
  const read = { ...streams.read, responseSerialize: (m: unknown) => (Buffer.isBuffer(m) ? m : streams.read.responseSerialize(m as never)) };
  server.addService({ ...streams, read } as unknown as grpc.ServiceDefinition, streamsService(log, calls));
  if (opts.serverFeatures !== false) {
    server.addService(featuresGrpc.ServerFeaturesService as unknown as grpc.ServiceDefinition, {
      getSupportedMethods(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
        calls.features += 1;
        const methods = ['read', 'append', 'batchappend'].map((name) =>
          new featuresPb.SupportedMethod().setServiceName('event_store.client.streams.streams').setMethodName(name),
        );
        callback(null, new featuresPb.SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(opts.serverVersion ?? '23.10.0'));
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `esdb://127.0.0.1:${port}?tls=false`,
    port,
    log,
    calls,
    async close() {
      server.forceShutdown();
    },
  };
}
