import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  jsonEvent,
  NO_STREAM,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { CallrecError } from '../../src/errors.ts';
import { createEventStoreDbStore, type EventStoreDbStoreOptions } from '../../src/events/eventstoredb/store.ts';
import type { EventStore, RecordedEvent } from '../../src/events/port.ts';
import { startFakeEventStoreDb, type FakeEventStoreDb } from '../fakes/esdbServer/index.ts';
import { statusEvent } from '../support/events.ts';
import { eventStoreContract, restartableStore, type StoreHarness } from './contract.ts';

/**
 * The EventStoreDB adapter: the shared contract on the local gRPC fake (and on a real server when
 * EVENTSTORE_URL is set), then what is particular to EventStoreDB.
 */

eventStoreContract('eventstoredb on the local gRPC fake', async (): Promise<StoreHarness> => {
  // System events between user events, as a real server writes statistics: readAll must skip them.
  const fake = await startFakeEventStoreDb({ systemEventEvery: 7 });
  return restartableStore(
    async () => {
      const store = createEventStoreDbStore({ connectionString: fake.url, pollMs: 250 });
      return { store, close: () => store.close() };
    },
    () => fake.close(),
  );
}).run();

const EVENTSTORE_URL = process.env.EVENTSTORE_URL;
if (EVENTSTORE_URL) {
  // A real server cannot be emptied between tests: each test gets its own stream namespace.
  eventStoreContract('eventstoredb on EVENTSTORE_URL', async (): Promise<StoreHarness> => {
    const namespace = `callrec-test-${randomUUID().slice(0, 8)}-`;
    return restartableStore(async () => {
      const store = createEventStoreDbStore({ connectionString: EVENTSTORE_URL, namespace, pollMs: 250 });
      return { store, close: () => store.close() };
    });
  }).run();
} else {
  console.log('EVENTSTORE_URL is not set: the contract runs on the local gRPC fake only');
}

/**
 * What the adapter relies on from the server, checked with the bare client: on the fake always, and on
 * a real server when EVENTSTORE_URL is set (so the fake is held to the real thing).
 */
interface Server {
  url: string;
  close(): Promise<void>;
}

function serverSemantics(label: string, open: () => Promise<Server>) {
  const t = suite<{ server: Server }>(`EventStoreDB semantics the adapter relies on [${label}]`);
  t.before(async (ctx) => {
    ctx.server = await open();
  });
  t.after(async (ctx) => {
    await ctx.server.close();
  });
  t('appends, expected versions, idempotent repeats, stream and $all reads, live subscription', async ({ server }) => {
    const client = EventStoreDBClient.connectionString(server.url);
    const stream = `semantics-${randomUUID()}`;
    const ev = (type: string, id = randomUUID()) => jsonEvent({ id, type, data: { type, n: 1 }, metadata: { correlationId: 'c' } });
    try {
      const a = ev('A');
      const b = ev('B');
      const first = await client.appendToStream(stream, [a, b], { expectedRevision: NO_STREAM });
      assert.is(first.nextExpectedRevision, 1n);
      // A single-event append reports that event's position.
      const c = ev('C');
      const third = await client.appendToStream(stream, c, { expectedRevision: 1n });
      assert.ok(third.position && third.position.commit === third.position.prepare);

      // Stream reads: revisions, positions (commit = prepare, increasing), JSON data and metadata.
      const read: ResolvedEvent[] = [];
      for await (const r of client.readStream(stream)) read.push(r);
      assert.equal(read.map((r) => r.event!.id), [a.id, b.id, c.id]);
      const positions = read.map((r) => r.event!.position!);
      assert.ok(positions.every((p) => p.commit === p.prepare && p.commit > 0n));
      assert.ok(positions[0]!.commit < positions[1]!.commit && positions[1]!.commit < positions[2]!.commit);
      assert.is(positions[2]!.commit, third.position!.commit);
      assert.equal(read[0]!.event!.data, { type: 'A', n: 1 });
      assert.equal(read[0]!.event!.metadata, { correlationId: 'c' });
      assert.ok(read[0]!.event!.created instanceof Date);
      const part: ResolvedEvent[] = [];
      for await (const r of client.readStream(stream, { fromRevision: 1n, maxCount: 1 })) part.push(r);
      assert.equal(part.map((r) => r.event!.revision), [1n]);

      // Idempotent repeats: the same ids right after the expected revision write nothing.
      const again = await client.appendToStream(stream, [a, b], { expectedRevision: NO_STREAM });
      assert.is(again.nextExpectedRevision, 1n);
      await client.appendToStream(stream, c, { expectedRevision: 1n });
      // A wrong expected version names the actual revision; no_stream on an existing stream likewise.
      try {
        await client.appendToStream(stream, ev('D'), { expectedRevision: 0n });
        assert.unreachable('wrong expected version accepted');
      } catch (err) {
        assert.instance(err, WrongExpectedVersionError);
        assert.is((err as WrongExpectedVersionError).actualVersion, 2n);
      }
      try {
        await client.appendToStream(stream, ev('E'), { expectedRevision: NO_STREAM });
        assert.unreachable('no_stream accepted on an existing stream');
      } catch (err) {
        assert.instance(err, WrongExpectedVersionError);
      }
      const count: ResolvedEvent[] = [];
      for await (const r of client.readStream(stream)) count.push(r);
      assert.is(count.length, 3, 'repeats and refused appends wrote nothing');

      // A missing stream.
      let missing: unknown;
      try {
        for await (const _ of client.readStream(`semantics-missing-${randomUUID()}`)) void _;
      } catch (err) {
        missing = err;
      }
      assert.instance(missing, StreamNotFoundError);

      // $all: forwards from a position includes it; backwards from a position excludes it.
      const fwd: AllStreamResolvedEvent[] = [];
      for await (const r of client.readAll({ fromPosition: positions[1]!, maxCount: 2 })) fwd.push(r);
      assert.equal(fwd[0]!.event!.id, b.id);
      const back: AllStreamResolvedEvent[] = [];
      for await (const r of client.readAll({ fromPosition: positions[1]!, direction: BACKWARDS, maxCount: 1 })) back.push(r);
      assert.ok(back[0]!.event!.position.commit < positions[1]!.commit);

      // A live subscription from the end sees a new append.
      const sub = client.subscribeToAll({ fromPosition: END });
      try {
        const live = ev('Live');
        const seen = new Promise<void>((resolve) =>
          sub.on('data', (r) => {
            if (r.event?.id === live.id) resolve();
          }),
        );
        await new Promise((r) => setTimeout(r, 200));
        await client.appendToStream(stream, live);
        await within(seen, 5000, 'the live subscription did not deliver the append');
      } finally {
        await sub.unsubscribe();
      }
    } finally {
      await client.dispose();
      (await (client as unknown as { getChannel(): Promise<{ close(): void }> }).getChannel()).close();
    }
  });
  t.run();
}

serverSemantics('local gRPC fake', () => startFakeEventStoreDb({ systemEventEvery: 1 }));
if (EVENTSTORE_URL) serverSemantics('EVENTSTORE_URL', async () => ({ url: EVENTSTORE_URL, close: async () => {} }));

const test = suite('eventstoredb adapter');

async function withFake<T>(opts: Parameters<typeof startFakeEventStoreDb>[0], fn: (fake: FakeEventStoreDb) => Promise<T>): Promise<T> {
  const fake = await startFakeEventStoreDb(opts);
  try {
    return await fn(fake);
  } finally {
    await fake.close();
  }
}

async function withStores<T>(count: number, opts: Omit<EventStoreDbStoreOptions, 'connectionString'> & { url: string }, fn: (...stores: EventStore[]) => Promise<T>) {
  const stores = Array.from({ length: count }, () => createEventStoreDbStore({ ...opts, connectionString: opts.url }));
  try {
    return await fn(...stores);
  } finally {
    for (const s of stores) await s.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

async function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function readEverything(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, limit: 100 });
    out.push(...page);
    if (page.length < 100) return out;
    after = page.at(-1)!.position;
  }
}

test('a port that accepts TCP but never speaks HTTP/2: every call fails within the deadline, naming the URL', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  const url = `esdb://127.0.0.1:${port}?tls=false`;
  const store = createEventStoreDbStore({ connectionString: url, deadlineMs: 400 });
  try {
    for (const [what, call] of [
      ['append', () => store.append('call-h', [statusEvent('h')])],
      ['readAll', () => store.readAll({ after: 0, limit: 10 })],
      ['readStream', () => store.readStream('call-h')],
      ['headPosition', () => store.headPosition()],
    ] as const) {
      const started = Date.now();
      const err = await rejection(call());
      const elapsed = Date.now() - started;
      assert.instance(err, CallrecError, what);
      assert.is((err as CallrecError).code, 'database_unavailable', what);
      assert.ok(err.message.includes(url), `${what}: ${err.message}`);
      assert.match(err.message, /did not answer .* within 400 ms/, what);
      assert.ok(elapsed >= 350 && elapsed < 3000, `${what} failed after ${elapsed} ms`);
    }
    assert.ok(sockets.size > 0, 'the client did connect over TCP');
  } finally {
    await store.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('unreachable port: the first call fails fast with a clear error naming the URL (password masked)', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const store = createEventStoreDbStore({ connectionString: `esdb://admin:s3cret@127.0.0.1:${port}?tls=false`, deadlineMs: 5000 });
  try {
    const started = Date.now();
    const err = await rejection(store.append('call-u', [statusEvent('u')]));
    assert.ok(Date.now() - started < 4000, 'fails before the deadline');
    assert.instance(err, CallrecError);
    assert.is((err as CallrecError).code, 'database_unavailable');
    assert.ok(err.message.includes(`esdb://admin:***@127.0.0.1:${port}?tls=false`), err.message);
    assert.match(err.message, /unreachable/);
    assert.not.match(err.message, /s3cret/);
    const readErr = await rejection(store.readAll({ after: 0, limit: 1 }));
    assert.match(readErr.message, /unreachable/);
  } finally {
    await store.close();
  }
});

test('an invalid connection string is refused at creation', () => {
  assert.throws(() => createEventStoreDbStore({ connectionString: 'http://nope' }), /invalid EventStoreDB connection string/);
});

test('events are stored as plain EventStoreDB JSON events; claims and system events stay out of reads', () =>
  withFake({ systemEventEvery: 1 }, (fake) =>
    withStores(1, { url: fake.url }, async (store) => {
      const e1 = statusEvent('p', 'ringing');
      const e2 = statusEvent('p', 'ended');
      const r = await store.append('call-p', [e1, e2], 'no_stream');
      assert.ok(r.ok);
      const stored = fake.log.events.filter((e) => e.streamId === 'call-p');
      assert.equal(stored.map((e) => [e.eventId, e.type, e.contentType, e.revision]), [
        [e1.eventId, 'CallStatusChanged', 'application/json', 0],
        [e2.eventId, 'CallStatusChanged', 'application/json', 1],
      ]);
      assert.equal(JSON.parse(Buffer.from(stored[0]!.data).toString()), e1.data);
      assert.equal(JSON.parse(Buffer.from(stored[0]!.customMetadata).toString()), e1.metadata);
      if (r.ok) assert.equal(r.positions, stored.map((e) => Number(e.position)));
      const claim = fake.log.events.find((e) => e.streamId === `callrec-eventid-${e1.eventId}`);
      assert.ok(claim, 'the event id is claimed');
      assert.ok(fake.log.events.some((e) => e.type.startsWith('$')), 'the fake wrote system events');
      const all = await readEverything(store);
      assert.equal(all.map((e) => e.eventId), [e1.eventId, e2.eventId]);
      assert.equal(all[0]!.metadata, e1.metadata);
      assert.is(all[0]!.storedAt instanceof Date, true);
      assert.is(await store.headPosition(), all[1]!.position);
      // Positions are the server's commit positions: not contiguous.
      assert.ok(all[1]!.position - all[0]!.position > 1);
    }),
  ),
);

test('readStream honours fromRevision and limit; a missing stream is empty', () =>
  withFake({}, (fake) =>
    withStores(1, { url: fake.url }, async (store) => {
      await store.append('call-r', Array.from({ length: 6 }, (_, i) => statusEvent('r', `s${i}`)), 'no_stream');
      const part = await store.readStream('call-r', { fromRevision: 2, limit: 3 });
      assert.equal(part.map((e) => e.revision), [2, 3, 4]);
      assert.equal(part.map((e) => (e.data as { status: string }).status), ['s2', 's3', 's4']);
      assert.equal(await store.readStream('call-missing'), []);
      assert.match((await rejection(store.readStream('$all'))).message, /system streams/);
    }),
  ),
);

test('stream ids that cannot be callrec streams on EventStoreDB are refused', () =>
  withFake({}, (fake) =>
    withStores(1, { url: fake.url }, async (store) => {
      const system = await rejection(store.append('$settings', [statusEvent('x')]));
      assert.match(system.message, /system streams/);
      const claim = await rejection(store.append(`callrec-eventid-${randomUUID()}`, [statusEvent('x')]));
      assert.match(claim.message, /reserved/);
    }),
  ),
);

test('servers without ServerFeatures: appends go through the streaming Append call with the same semantics', () =>
  withFake({ serverFeatures: false }, (fake) =>
    withStores(1, { url: fake.url }, async (store) => {
      const e = statusEvent('l', 'ended');
      const first = await store.append('call-l', [e], 'no_stream');
      const again = await store.append('call-l', [e], 'no_stream');
      const wrong = await store.append('call-l', [statusEvent('l')], 5);
      const other = await store.append('call-l2', [e]);
      assert.ok(first.ok && !first.duplicate);
      assert.ok(again.ok && again.duplicate);
      if (first.ok && again.ok) assert.equal(again.positions, first.positions);
      assert.ok(!wrong.ok && wrong.error.code === 'wrong_expected_revision' && wrong.error.actual === 0);
      assert.ok(!other.ok && other.error.code === 'event_id_conflict');
      assert.ok(fake.calls.append > 0, 'Append was used');
      assert.is(fake.calls.batchAppend, 0);
    }),
  ),
);

test('an append refused on its expected revision leaves only a claim: the same event can be appended later', () =>
  withFake({}, (fake) =>
    withStores(1, { url: fake.url }, async (store) => {
      await store.append('call-c', [statusEvent('c')], 'no_stream');
      const e = statusEvent('c', 'ended');
      const refused = await store.append('call-c', [e], 7);
      assert.ok(!refused.ok && refused.error.code === 'wrong_expected_revision');
      assert.is((await store.readStream('call-c')).length, 1);
      const later = await store.append('call-c', [e], 0);
      assert.ok(later.ok && !later.duplicate && later.nextRevision === 1);
      const repeat = await store.append('call-c', [e], 0);
      assert.ok(repeat.ok && repeat.duplicate);
      // The claim still holds the id for that event only.
      const elsewhere = await store.append('call-c-other', [e]);
      assert.ok(!elsewhere.ok && elsewhere.error.code === 'event_id_conflict');
    }),
  ),
);

test('two processes delivering the same event at once store it once', () =>
  withFake({}, (fake) =>
    withStores(2, { url: fake.url }, async (a, b) => {
      const e = statusEvent('x2', 'ended');
      await a.append('call-x2', [statusEvent('x2')], 'no_stream');
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).append('call-x2', [e], 'any')));
      assert.ok(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
      assert.is(new Set(results.map((r) => (r.ok ? r.positions[0] : -1))).size, 1);
      assert.is(fake.log.events.filter((s) => s.streamId === 'call-x2' && s.eventId === e.eventId).length, 1);
      assert.is((await a.readStream('call-x2')).length, 2);
    }),
  ),
);

test('two processes appending with `any` to one stream: every append lands once, in one order', () =>
  withFake({}, (fake) =>
    withStores(2, { url: fake.url }, async (a, b) => {
      const events = Array.from({ length: 40 }, (_, i) => statusEvent('y', `s${i}`));
      const results = await Promise.all(events.map((e, i) => (i % 2 ? a : b).append('call-y', [e], 'any')));
      assert.ok(results.every((r) => r.ok && !r.duplicate));
      const stored = await a.readStream('call-y');
      assert.equal(stored.map((e) => e.revision), Array.from({ length: 40 }, (_, i) => i));
      assert.equal(new Set(stored.map((e) => e.eventId)), new Set(events.map((e) => e.eventId)));
    }),
  ),
);

test('a subscriber is woken by another process appending, long before its poll interval', () =>
  withFake({}, (fake) =>
    withStores(2, { url: fake.url, pollMs: 60_000 }, async (reader, writer) => {
      await writer.append('call-w', [statusEvent('w')]);
      const sub = reader.subscribe(0);
      try {
        const it = sub[Symbol.asyncIterator]();
        assert.is(((await it.next()).value as RecordedEvent).streamId, 'call-w');
        await new Promise((r) => setTimeout(r, 200));
        const started = Date.now();
        const next = it.next();
        await writer.append('call-w', [statusEvent('w', 'ended')]);
        const got = await within(next, 5000, 'the subscriber was not woken');
        assert.is(((got as IteratorResult<RecordedEvent>).value.data as { status: string }).status, 'ended');
        assert.ok(Date.now() - started < 5000);
        const waited = reader.waitForAppend(5000);
        const t = Date.now();
        await writer.append('call-w', [statusEvent('w', 'again')]);
        await waited;
        assert.ok(Date.now() - t < 4000, 'waitForAppend woke on the other process');
      } finally {
        await sub.close();
      }
    }),
  ),
);

test('namespaces: stores sharing one server see only their own streams and events', () =>
  withFake({}, (fake) =>
    withStores(1, { url: fake.url, namespace: 'blue-' }, (blue) =>
      withStores(1, { url: fake.url, namespace: 'green-' }, async (green) => {
        const e = statusEvent('n');
        assert.ok((await blue.append('call-n', [e], 'no_stream')).ok);
        assert.ok((await green.append('call-n', [statusEvent('n')], 'no_stream')).ok);
        assert.ok(fake.log.events.some((s) => s.streamId === 'blue-call-n'));
        assert.is((await readEverything(blue)).length, 1);
        assert.is((await readEverything(green)).length, 1);
        assert.equal((await blue.readStream('call-n')).map((x) => x.eventId), [e.eventId]);
        assert.is((await readEverything(blue))[0]!.streamId, 'call-n');
        assert.is(await green.headPosition(), (await readEverything(green))[0]!.position);
      }),
    ),
  ),
);

test.run();
