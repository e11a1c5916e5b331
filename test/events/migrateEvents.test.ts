import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { CallrecError } from '../../src/errors.ts';
import { createEventStoreDbStore } from '../../src/events/eventstoredb/store.ts';
import { migrateEvents } from '../../src/events/migrateEvents.ts';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { startFakeEventStoreDb, type FakeEventStoreDb } from '../fakes/esdbServer/index.ts';
import { meta, statusEvent } from '../support/events.ts';

/**
 * migrateEvents between the Postgres store (PGlite) and the EventStoreDB adapter (local gRPC fake), both
 * ways. Starting PGlite is the slow part, so one database serves the whole file: each test uses its own
 * streams and its own fake server, and compares whole logs or only what it copied.
 */

let database: Database;
let pg: EventStore;

test.before(async () => {
  database = await connectDatabase({ pgliteDir: 'memory://' });
  await migrate(database);
  pg = createPostgresEventStore(database);
});

test.after(async () => {
  await pg.close();
  await database.close();
});

async function withEsdb(fn: (esdb: EventStore, fake: FakeEventStoreDb) => Promise<void>) {
  const fake = await startFakeEventStoreDb({ systemEventEvery: 5 });
  const esdb = createEventStoreDbStore({ connectionString: fake.url });
  try {
    await fn(esdb, fake);
  } finally {
    await esdb.close();
    await fake.close();
  }
}

/** A log with several streams, multi-event appends, interleaving and rich metadata. */
async function seed(store: EventStore, calls: string[], rounds: number, firstRound = 0): Promise<void> {
  for (let round = firstRound; round < firstRound + rounds; round++) {
    for (const [i, call] of calls.entries()) {
      const events: NewEvent[] =
        (round + i) % 3 === 0
          ? [statusEvent(call, `r${round}-a`), statusEvent(call, `r${round}-b`)]
          : [{ ...statusEvent(call, `r${round}`), metadata: meta({ causationId: randomUUID(), actor: `user:${i}`, schemaVersion: 1, note: { nested: [round, i] } }) }];
      const r = await store.append(`call-${call}`, events, round === 0 ? 'no_stream' : 'any');
      assert.ok(r.ok, JSON.stringify(r));
    }
  }
}

async function readEverything(store: EventStore, from = 0): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let after = from; ; ) {
    const page = await store.readAll({ after, limit: 50 });
    out.push(...page);
    if (page.length < 50) return out;
    after = page.at(-1)!.position;
  }
}

const shape = (events: RecordedEvent[]) => events.map((e) => ({ eventId: e.eventId, streamId: e.streamId, revision: e.revision, type: e.type, data: e.data, metadata: e.metadata }));

function assertSameLog(target: RecordedEvent[], source: RecordedEvent[]) {
  assert.is(target.length, source.length, 'event count');
  assert.equal(shape(target), shape(source));
  for (let i = 1; i < target.length; i++) assert.ok(target[i]!.position > target[i - 1]!.position, 'target positions increase');
}

test('Postgres → EventStoreDB: order, ids, streams, types, data and metadata preserved; a re-run copies nothing', () =>
  withEsdb(async (esdb, fake) => {
    await seed(pg, ['a', 'b', 'c', 'd'], 6);
    const source = await readEverything(pg);
    assert.ok(source.length > 30);
    const progress: number[] = [];
    const first = await migrateEvents({ from: pg, to: esdb, batchSize: 7, onProgress: (p) => progress.push(p.copied + p.skipped) });
    assert.equal(first, { copied: source.length, skipped: 0 });
    assert.is(progress.at(-1), source.length);
    assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]!), 'progress grows');
    assertSameLog(await readEverything(esdb), source);
    for (const call of ['a', 'b', 'c', 'd']) {
      assert.equal(shape(await esdb.readStream(`call-${call}`)), shape(await pg.readStream(`call-${call}`)));
    }
    const storedInEsdb = fake.log.events.filter((e) => e.streamId.startsWith('call-')).length;

    assert.equal(await migrateEvents({ from: pg, to: esdb, batchSize: 7 }), { copied: 0, skipped: source.length });
    assert.is(fake.log.events.filter((e) => e.streamId.startsWith('call-')).length, storedInEsdb, 'nothing written by the re-run');

    // New source events since the last run: only they are copied.
    await seed(pg, ['a', 'e'], 1, 6);
    const grown = await readEverything(pg);
    const third = await migrateEvents({ from: pg, to: esdb });
    assert.equal(third, { copied: grown.length - source.length, skipped: source.length });
    assertSameLog(await readEverything(esdb), grown);

    // And back: the copy holds exactly the source's events, so copying it into the source adds nothing.
    assert.equal(await migrateEvents({ from: esdb, to: pg }), { copied: 0, skipped: grown.length });
  }),
);

test('EventStoreDB → Postgres: order, ids, streams, types, data and metadata preserved; a re-run copies nothing', () =>
  withEsdb(async (esdb) => {
    await seed(esdb, ['x', 'y', 'z'], 5);
    const source = await readEverything(esdb);
    assert.ok(source.length > 15);
    const head = await pg.headPosition();
    const first = await migrateEvents({ from: esdb, to: pg, batchSize: 4 });
    assert.equal(first, { copied: source.length, skipped: 0 });
    assertSameLog(await readEverything(pg, head), source);
    assert.equal(await migrateEvents({ from: esdb, to: pg, batchSize: 4 }), { copied: 0, skipped: source.length });
    assertSameLog(await readEverything(pg, head), source);
  }),
);

test('a target that disagrees stops the copy with a conflict naming the event', () =>
  withEsdb(async (esdb) => {
    await seed(esdb, ['k'], 2);
    // The target already has another event at revision 0 of call-k.
    assert.ok((await pg.append('call-k', [statusEvent('k', 'other')], 'no_stream')).ok);
    const source = await readEverything(esdb);
    let err: unknown;
    try {
      await migrateEvents({ from: esdb, to: pg });
    } catch (e) {
      err = e;
    }
    assert.instance(err, CallrecError);
    assert.is((err as CallrecError).code, 'conflict');
    assert.ok((err as Error).message.includes(source[0]!.eventId), (err as Error).message);
    assert.match((err as Error).message, /call-k revision 0/);
    assert.is((await pg.readStream('call-k')).length, 1, 'nothing copied into the disagreeing stream');
  }),
);

test.run();
