import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { callStream } from '../../src/events/catalog.ts';
import { createEventStoreDbStore } from '../../src/events/eventstoredb/store.ts';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createEncryptingEventStore } from '../../src/privacy/encryptingStore.ts';
import { createKeyring, type Keyring } from '../../src/privacy/keyring.ts';
import { startFakeEventStoreDb } from '../fakes/esdbServer/index.ts';
import { eventStoreContract, restartableStore, type StoreHarness } from '../events/contract.ts';
import { backends, createTestDatabase, dropTestDatabase, pgliteBackend } from '../support/databases.ts';
import { meta } from '../support/events.ts';

/**
 * The encrypting store is an event store like the others: the shared contract runs through it on both
 * adapters; then what it adds (sealing, opening a page with one key lookup) on both adapters.
 */

const MASTER = randomBytes(32);

// The wrapper is the same over any adapter: the contract runs through it on PostgreSQL (PGlite when PostgreSQL is
// unreachable) and on EventStoreDB; the suites below and test/privacy/eventLog.test.ts cover PGlite too.
for (const backend of (await backends()).slice(-1)) {
  eventStoreContract(`encrypting store over ${backend.name}`, async (): Promise<StoreHarness> => {
    const dir = backend.name === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'callrec-pglite-')) : undefined;
    const url = dir ? undefined : await createTestDatabase();
    return restartableStore(
      async () => {
        const database = await connectDatabase(dir ? { pgliteDir: dir } : { databaseUrl: url });
        await migrate(database);
        const store = createEncryptingEventStore(createPostgresEventStore(database), createKeyring(database, MASTER));
        return {
          store,
          async close() {
            await store.close();
            await database.close();
          },
        };
      },
      async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
        else await dropTestDatabase(url!);
      },
    );
  }).run();
}

eventStoreContract('encrypting store over eventstoredb (local gRPC fake), keys in PGlite', async (): Promise<StoreHarness> => {
  const fake = await startFakeEventStoreDb({ systemEventEvery: 7 });
  const keys = await pgliteBackend.open();
  return restartableStore(
    async () => {
      const store = createEncryptingEventStore(createEventStoreDbStore({ connectionString: fake.url, pollMs: 250 }), createKeyring(keys.database, MASTER));
      return { store, close: () => store.close() };
    },
    async () => {
      await fake.close();
      await keys.close();
    },
  );
}).run();

/** A CallEnded holding personal data (as the webhook decides it). */
function callEnded(callId: string, orgId = 'org-e', eventId: string = randomUUID()): NewEvent {
  return {
    eventId,
    type: 'CallEnded',
    data: {
      callId, orgId, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: 'asst-1', phoneNumberId: null, customerNumber: `+44 20 7946 ${callId.slice(0, 4)}`,
      startedAt: null, endedAt: '2026-12-01T10:00:00.000Z', durationSeconds: 61, endedReason: 'customer-ended-call',
      transcript: `User: my name is ${callId} and I need my prescription renewed.`, summary: `Prescription renewal for ${callId}.`, cost: 0.12,
      recordingUrl: `https://storage.vapi.ai/${callId}-mono.wav`, stereoRecordingUrl: null, messageAt: null,
    },
    metadata: meta({ orgId, actor: 'vapi' }),
  };
}

/** The keyring, counting its lookups (the real one underneath). */
function counting(keyring: Keyring) {
  const calls: number[] = [];
  const counted: Keyring = {
    searchKey: keyring.searchKey,
    ensure: (...a) => keyring.ensure(...a),
    get: (...a) => keyring.get(...a),
    destroy: (...a) => keyring.destroy(...a),
    lookup: (ids) => {
      calls.push(ids.length);
      return keyring.lookup(ids);
    },
  };
  return { keyring: counted, calls };
}

interface Adapter {
  name: string;
  open(): Promise<{ sealed: EventStore; database: Database; close(): Promise<void> }>;
}

const adapters: Adapter[] = [
  ...(await backends()).map((b) => ({
    name: b.name,
    async open() {
      const t = await b.open();
      const sealed = createPostgresEventStore(t.database, { pollMs: 100 });
      return { sealed, database: t.database, close: async () => (await sealed.close(), await t.close()) };
    },
  })),
  {
    name: 'eventstoredb (fake), keys in PGlite',
    async open() {
      const fake = await startFakeEventStoreDb();
      const t = await pgliteBackend.open();
      const sealed = createEventStoreDbStore({ connectionString: fake.url, pollMs: 100 });
      return { sealed, database: t.database, close: async () => (await sealed.close(), await fake.close(), await t.close()) };
    },
  },
];

for (const adapter of adapters) {
  const test = suite(`encrypting store [${adapter.name}]`);

  test('personal fields are sealed underneath, plain through the wrapper; a repeat is a duplicate', async () => {
    const { sealed, database, close } = await adapter.open();
    try {
      const store = createEncryptingEventStore(sealed, createKeyring(database, MASTER));
      const callId = randomUUID();
      const event = callEnded(callId);
      const first = await store.append(callStream(callId), [event], 'no_stream');
      assert.ok(first.ok && !first.duplicate, JSON.stringify(first));
      const raw = (await sealed.readStream(callStream(callId)))[0]!.data as Record<string, unknown>;
      const plain = event.data as Record<string, unknown>;
      for (const f of ['customerNumber', 'transcript', 'summary', 'recordingUrl']) {
        assert.match(String(raw[f]), /^pii1:/, f);
        assert.not.ok(JSON.stringify(raw).includes(String(plain[f])), `${f} in plaintext underneath`);
      }
      assert.is(raw.stereoRecordingUrl, null, 'null stays null');
      assert.equal((await store.readStream(callStream(callId)))[0]!.data, plain);
      const again = await store.append(callStream(callId), [event], 'any');
      assert.ok(again.ok && again.duplicate, JSON.stringify(again));
      if (again.ok && first.ok) assert.equal(again.positions, first.positions);
      // A different plaintext under the same id is still a conflict.
      const changed = { ...event, data: { ...plain, summary: 'another summary' } };
      const conflict = await store.append(callStream(callId), [changed], 'any');
      assert.ok(!conflict.ok && conflict.error.code === 'event_id_conflict', JSON.stringify(conflict));
    } finally {
      await close();
    }
  });

  test('readAll and a subscription open each page with one key lookup; live events arrive opened', async () => {
    const { sealed, database, close } = await adapter.open();
    try {
      const { keyring, calls } = counting(createKeyring(database, MASTER));
      const store = createEncryptingEventStore(sealed, keyring);
      const ids = Array.from({ length: 30 }, () => randomUUID());
      for (const id of ids) assert.ok((await store.append(callStream(id), [callEnded(id)])).ok);

      // A fresh store (cold key cache) reads them.
      const reader = counting(createKeyring(database, MASTER));
      const cold = createEncryptingEventStore(sealed, reader.keyring);
      const page = await cold.readAll({ after: 0, limit: 100 });
      assert.is(page.length, 30);
      assert.equal(reader.calls, [30], 'one lookup for the whole page');
      assert.equal(page.map((e) => (e.data as { transcript: string }).transcript), ids.map((id) => (callEnded(id).data as { transcript: string }).transcript));

      const again = counting(createKeyring(database, MASTER));
      const sub = createEncryptingEventStore(sealed, again.keyring).subscribe(0, { batchSize: 10 });
      const seen: RecordedEvent[] = [];
      const it = sub[Symbol.asyncIterator]();
      try {
        while (seen.length < 30) seen.push((await it.next()).value as RecordedEvent);
        assert.equal(again.calls, [10, 10, 10], 'one lookup per page of the subscription');
        assert.equal(seen.map((e) => e.eventId), page.map((e) => e.eventId));
        assert.equal(seen.map((e) => e.data), page.map((e) => e.data));
        // Live: a new event arrives on its own, opened.
        const late = randomUUID();
        const next = it.next();
        assert.ok((await store.append(callStream(late), [callEnded(late)])).ok);
        const live = (await next).value as RecordedEvent;
        assert.equal(live.data, callEnded(late).data);
      } finally {
        await sub.close();
      }
      assert.is(calls.length, 0, 'appends look no key up in bulk');
    } finally {
      await close();
    }
  });

  test.run();
}
