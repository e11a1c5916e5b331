import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AllFrom, AppendOutcome, ExpectedVersion, FakeLog, ProposedEvent, StoredEvent, StreamFrom } from './log.ts';
import { anyPb, emptyPb, sharedPb, statusPb, streamIdentifier, streamName, streamsPb, uuidMessage, uuidToString } from './protocol.ts';

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;
type Proposed = InstanceType<typeof streamsPb.AppendReq.ProposedMessage> | InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>;

/** Counts of the calls the fake answered, by method, so tests can see which wire path a client took. */
export type CallCounts = Record<'read' | 'subscribe' | 'append' | 'batchAppend' | 'features', number>;

interface RpcError extends Error {
  code: grpc.status;
  /** EventStoreDB's `exception` trailer, which the client maps to its typed errors. */
  exception?: string;
}

function rpcError(code: grpc.status, message: string, exception?: string): RpcError {
  return Object.assign(new Error(message), { code, exception });
}

function toServiceError(e: RpcError): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  if (e.exception) metadata.set('exception', e.exception);
  return { code: e.code, details: e.message, metadata };
}

/** The Streams service (Read, Append, BatchAppend) over the in-memory log. */
export function streamsService(log: FakeLog, calls: CallCounts): grpc.UntypedServiceImplementation {
  return {
    read(call: grpc.ServerWritableStream<ReadReq, ReadResp | Buffer>) {
      try {
        const options = call.request.getOptions();
        if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, 'ReadReq without options');
        const structured = options.getUuidOption()?.hasStructured() ?? false;
        const keep = eventFilter(options);
        if (options.hasSubscription()) {
          calls.subscribe += 1;
          return subscribe(call, options, structured, keep);
        }
        calls.read += 1;
        const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
        const count = options.hasCount() ? Number(options.getCount()) : Number.MAX_SAFE_INTEGER;
        if (options.hasStream()) {
          const s = options.getStream()!;
          const name = streamName(s.getStreamIdentifier());
          const from: StreamFrom = s.hasRevision() ? Number(s.getRevision()) : s.hasEnd() ? 'end' : 'start';
          const events = log.readStream(name, from, backwards, count);
          if (events === 'not_found') {
            const resp = new streamsPb.ReadResp();
            resp.setStreamNotFound(new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(name)));
            call.write(resp);
          } else {
            for (const e of events) call.write(readEvent(e, false, structured));
          }
        } else if (options.hasAll()) {
          const a = options.getAll()!;
          const from: AllFrom = a.hasPosition() ? BigInt(a.getPosition()!.getCommitPosition()) : a.hasEnd() ? 'end' : 'start';
          // A filtered read counts the events it returns, as the server does with a `count` window.
          let sent = 0;
          for (const e of log.readAll(from, backwards, keep === everything ? count : Number.MAX_SAFE_INTEGER)) {
            if (sent >= count) break;
            if (!keep(e)) continue;
            call.write(readEvent(e, true, structured));
            sent += 1;
          }
        } else {
          throw rpcError(grpc.status.INVALID_ARGUMENT, 'ReadReq names neither a stream nor $all');
        }
        call.end();
      } catch (err) {
        fail(call, err);
      }
    },

    append(call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) {
      calls.append += 1;
      let options: InstanceType<typeof streamsPb.AppendReq.Options> | undefined;
      const proposed: ProposedEvent[] = [];
      let failed: RpcError | undefined;
      call.on('data', (req: AppendReq) => {
        if (failed) return;
        try {
          if (req.hasOptions()) options = req.getOptions();
          else if (req.hasProposedMessage()) proposed.push(toProposed(req.getProposedMessage()!));
        } catch (err) {
          failed = err as RpcError;
        }
      });
      call.on('error', () => {});
      call.on('end', () => {
        if (failed) return callback(toServiceError(failed));
        if (!options) return callback(toServiceError(rpcError(grpc.status.INVALID_ARGUMENT, 'AppendReq without options')));
        const expected: ExpectedVersion = options.hasRevision()
          ? { kind: 'revision', revision: Number(options.getRevision()) }
          : options.hasNoStream()
            ? { kind: 'no_stream' }
            : options.hasStreamExists()
              ? { kind: 'stream_exists' }
              : { kind: 'any' };
        const outcome = log.append(streamName(options.getStreamIdentifier()), expected, proposed);
        const resp = new streamsPb.AppendResp();
        if (outcome.kind === 'wrong_expected_version') {
          const w = new streamsPb.AppendResp.WrongExpectedVersion();
          if (outcome.currentRevision < 0) w.setCurrentNoStream(new sharedPb.Empty());
          else w.setCurrentRevision(String(outcome.currentRevision));
          if (expected.kind === 'revision') w.setExpectedRevision(String(expected.revision));
          else if (expected.kind === 'no_stream') w.setExpectedNoStream(new sharedPb.Empty());
          else if (expected.kind === 'stream_exists') w.setExpectedStreamExists(new sharedPb.Empty());
          else w.setExpectedAny(new sharedPb.Empty());
          resp.setWrongExpectedVersion(w);
        } else {
          const s = new streamsPb.AppendResp.Success();
          if (outcome.currentRevision < 0) s.setNoStream(new sharedPb.Empty());
          else s.setCurrentRevision(String(outcome.currentRevision));
          s.setPosition(new streamsPb.AppendResp.Position().setCommitPosition(String(outcome.position)).setPreparePosition(String(outcome.position)));
          resp.setSuccess(s);
        }
        callback(null, resp);
      });
    },

    batchAppend(call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) {
      calls.batchAppend += 1;
      const pending = new Map<string, { options?: InstanceType<typeof streamsPb.BatchAppendReq.Options>; events: ProposedEvent[]; error?: RpcError }>();
      call.on('data', (req: BatchAppendReq) => {
        const correlation = req.getCorrelationId();
        const key = uuidToString(correlation);
        let entry = pending.get(key);
        if (!entry) {
          entry = { events: [] };
          pending.set(key, entry);
        }
        if (req.hasOptions()) entry.options = req.getOptions();
        try {
          for (const m of req.getProposedMessagesList()) entry.events.push(toProposed(m));
        } catch (err) {
          entry.error = err as RpcError;
        }
        if (!req.getIsFinal()) return;
        pending.delete(key);
        const resp = new streamsPb.BatchAppendResp();
        resp.setCorrelationId(correlation);
        const options = entry.options;
        if (!options) {
          resp.setError(status(grpc.status.INVALID_ARGUMENT, 'BatchAppendReq without options', 'event_store.client.BadRequest', new sharedPb.BadRequest().setMessage('no options')));
          call.write(resp);
          return;
        }
        const name = streamName(options.getStreamIdentifier());
        resp.setStreamIdentifier(streamIdentifier(name));
        const expected: ExpectedVersion = options.hasStreamPosition()
          ? { kind: 'revision', revision: Number(options.getStreamPosition()) }
          : options.hasNoStream()
            ? { kind: 'no_stream' }
            : options.hasStreamExists()
              ? { kind: 'stream_exists' }
              : { kind: 'any' };
        if (expected.kind === 'revision') resp.setStreamPosition(String(expected.revision));
        else if (expected.kind === 'no_stream') resp.setNoStream(new emptyPb.Empty());
        else if (expected.kind === 'stream_exists') resp.setStreamExists(new emptyPb.Empty());
        else resp.setAny(new emptyPb.Empty());
        const deadline = options.getDeadline()?.toDate();
        if (entry.error) {
          resp.setError(status(grpc.status.INVALID_ARGUMENT, entry.error.message, 'event_store.client.BadRequest', new sharedPb.BadRequest().setMessage(entry.error.message)));
        } else if (deadline && deadline.getTime() < Date.now()) {
          resp.setError(status(grpc.status.DEADLINE_EXCEEDED, 'deadline passed before the write', 'event_store.client.Timeout', new sharedPb.Timeout()));
        } else {
          const outcome = log.append(name, expected, entry.events);
          if (outcome.kind === 'wrong_expected_version') resp.setError(wrongExpectedVersion(outcome, expected));
          else {
            const s = new streamsPb.BatchAppendResp.Success();
            if (outcome.currentRevision < 0) s.setNoStream(new emptyPb.Empty());
            else s.setCurrentRevision(String(outcome.currentRevision));
            s.setPosition(new sharedPb.AllStreamPosition().setCommitPosition(String(outcome.position)).setPreparePosition(String(outcome.position)));
            resp.setSuccess(s);
          }
        }
        call.write(resp);
      });
      call.on('error', () => {});
      call.on('end', () => call.end());
    },

    delete(_call: unknown, callback: grpc.sendUnaryData<never>) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'the fake server does not delete streams' });
    },
    tombstone(_call: unknown, callback: grpc.sendUnaryData<never>) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'the fake server does not tombstone streams' });
    },
  };

  /** A catch-up then live subscription to $all: confirmation, stored events after `from` (exclusive), caught-up, live. */
  function subscribe(
    call: grpc.ServerWritableStream<ReadReq, ReadResp | Buffer>,
    options: InstanceType<typeof streamsPb.ReadReq.Options>,
    structured: boolean,
    keep: (e: StoredEvent) => boolean,
  ) {
    if (!options.hasAll()) throw rpcError(grpc.status.UNIMPLEMENTED, 'the fake server only subscribes to $all');
    const a = options.getAll()!;
    const confirmation = new streamsPb.ReadResp();
    confirmation.setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID()));
    call.write(confirmation);
    let backlog: StoredEvent[] = [];
    if (a.hasStart()) backlog = log.readAll('start', false, Number.MAX_SAFE_INTEGER);
    else if (a.hasPosition()) {
      const after = BigInt(a.getPosition()!.getCommitPosition());
      backlog = log.readAll(after, false, Number.MAX_SAFE_INTEGER).filter((e) => e.position > after);
    }
    for (const e of backlog) if (keep(e)) call.write(readEvent(e, true, structured));
    const caughtUp = new streamsPb.ReadResp();
    caughtUp.setCaughtUp(new streamsPb.ReadResp.CaughtUp());
    call.write(caughtUp);
    const stop = log.onEvent((e) => {
      if (keep(e)) call.write(readEvent(e, true, structured));
    });
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }
}

const everything = () => true;

/**
 * The server-side filter of a $all read or subscription: a regex (searched, not anchored) or a list of
 * prefixes, on the stream name or on the event type. Checkpoints are not sent.
 */
function eventFilter(options: InstanceType<typeof streamsPb.ReadReq.Options>): (e: StoredEvent) => boolean {
  const f = options.getFilter();
  if (!options.hasFilter() || !f) return everything;
  const onStream = f.hasStreamIdentifier();
  const expr = onStream ? f.getStreamIdentifier() : f.getEventType();
  if (!expr) return everything;
  const regex = expr.getRegex() ? new RegExp(expr.getRegex()) : undefined;
  const prefixes = expr.getPrefixList();
  return (e) => {
    const subject = onStream ? e.streamId : e.type;
    if (regex) return regex.test(subject);
    return prefixes.length === 0 || prefixes.some((p) => subject.startsWith(p));
  };
}

function fail(call: grpc.ServerWritableStream<ReadReq, ReadResp | Buffer>, err: unknown) {
  const e = typeof (err as RpcError).code === 'number' ? (err as RpcError) : rpcError(grpc.status.INTERNAL, (err as Error).message);
  call.emit('error', toServiceError(e));
}

function toProposed(m: Proposed): ProposedEvent {
  const md = m.getMetadataMap();
  const type = md.get('type');
  const contentType = md.get('content-type');
  if (type === undefined) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required metadata property type is missing', 'missing-required-metadata-property');
  if (contentType === undefined) {
    throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required metadata property content-type is missing', 'missing-required-metadata-property');
  }
  const eventId = uuidToString(m.getId());
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(eventId)) {
    throw rpcError(grpc.status.INVALID_ARGUMENT, `event id ${JSON.stringify(eventId)} is not a UUID`);
  }
  return { eventId, type, contentType, data: m.getData_asU8(), customMetadata: m.getCustomMetadata_asU8() };
}

const encoded = new WeakMap<StoredEvent, Map<string, Buffer>>();

/**
 * A stored event as a ReadResp, serialised once per event and shape: a stored event never changes, and
 * encoding dominates the cost of the large reads tests make. The Read method's serialiser (index.ts)
 * passes these bytes through.
 */
function readEvent(e: StoredEvent, fromAll: boolean, structured: boolean): Buffer {
  const key = `${fromAll}:${structured}`;
  let forEvent = encoded.get(e);
  if (!forEvent) {
    forEvent = new Map();
    encoded.set(e, forEvent);
  }
  let bytes = forEvent.get(key);
  if (!bytes) {
    bytes = Buffer.from(buildReadEvent(e, fromAll, structured).serializeBinary());
    forEvent.set(key, bytes);
  }
  return bytes;
}

function buildReadEvent(e: StoredEvent, fromAll: boolean, structured: boolean): ReadResp {
  const rec = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
  rec.setId(uuidMessage(e.eventId, structured));
  rec.setStreamIdentifier(streamIdentifier(e.streamId));
  rec.setStreamRevision(String(e.revision));
  rec.setPreparePosition(String(e.position));
  rec.setCommitPosition(String(e.position));
  const md = rec.getMetadataMap();
  md.set('type', e.type);
  md.set('content-type', e.contentType);
  md.set('created', String(e.created));
  rec.setCustomMetadata(e.customMetadata);
  rec.setData(e.data);
  const ev = new streamsPb.ReadResp.ReadEvent();
  ev.setEvent(rec);
  if (fromAll) ev.setCommitPosition(String(e.position));
  else ev.setNoPosition(new sharedPb.Empty());
  const resp = new streamsPb.ReadResp();
  resp.setEvent(ev);
  return resp;
}

function status(code: grpc.status, message: string, typeName: string, detail: { serializeBinary(): Uint8Array }) {
  const any = new anyPb.Any();
  any.pack(detail.serializeBinary(), typeName);
  const s = new statusPb.Status();
  s.setCode(code as number);
  s.setMessage(message);
  s.setDetails(any);
  return s;
}

function wrongExpectedVersion(outcome: Extract<AppendOutcome, { kind: 'wrong_expected_version' }>, expected: ExpectedVersion) {
  const w = new sharedPb.WrongExpectedVersion();
  if (outcome.currentRevision < 0) w.setCurrentNoStream(new emptyPb.Empty());
  else w.setCurrentStreamRevision(String(outcome.currentRevision));
  if (expected.kind === 'revision') w.setExpectedStreamPosition(String(expected.revision));
  else if (expected.kind === 'no_stream') w.setExpectedNoStream(new emptyPb.Empty());
  else if (expected.kind === 'stream_exists') w.setExpectedStreamExists(new emptyPb.Empty());
  else w.setExpectedAny(new emptyPb.Empty());
  const current = outcome.currentRevision < 0 ? 'no stream' : `revision ${outcome.currentRevision}`;
  return status(grpc.status.FAILED_PRECONDITION, `Wrong expected version (current: ${current})`, 'event_store.client.WrongExpectedVersion', w);
}
