import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendBatch } from '../../src/events/postgres/appendBatch.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import { backends } from '../support/databases.ts';
import { statusEvent } from '../support/events.ts';
import { eventually } from '../support/eventually.ts';

// Two explicit transactions append and commit in a chosen order while a reader pages the log.
// The classic bug: B takes a later position but commits first; a reader that has passed B's position
// never comes back for A. The append lock makes B wait for A, so the reader sees A, then B.
for (const backend of await backends()) {
  const test = suite(`gap-safe global order [${backend.name}]`);

  test('a slow transaction that commits after a later one is not skipped', async () => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    try {
      const { db } = t.database;
      await store.append('call-seed', [statusEvent('seed')]);
      const seen: RecordedEvent[] = [];
      let stop = false;
      const reader = (async () => {
        let after = 0;
        while (!stop) {
          const page = await store.readAll({ after, limit: 10 });
          seen.push(...page);
          if (page.length) after = page.at(-1)!.position;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();

      const a = await db.startTransaction().execute();
      const resA = await appendBatch(a, [{ streamId: 'call-slow', events: [statusEvent('slow')], expected: 'any' }]);
      // B starts after A has chosen its position, and tries to commit first.
      const bDone = (async () => {
        const b = await db.startTransaction().execute();
        const resB = await appendBatch(b, [{ streamId: 'call-fast', events: [statusEvent('fast')], expected: 'any' }]);
        await b.commit().execute();
        return resB;
      })();
      await new Promise((r) => setTimeout(r, 300));
      if (backend.name === 'postgres') {
        // The reader is running against the live database: it must not have seen B before A committed.
        assert.equal(seen.map((e) => e.streamId), ['call-seed']);
      }
      await a.commit().execute();
      const resB = await bDone;
      await eventually(() => `the reader to see 3 events (saw ${seen.length})`, () => seen.length >= 3, { timeoutMs: 5000, intervalMs: 10 }).finally(() => (stop = true));
      await reader;
      assert.equal(seen.map((e) => e.streamId), ['call-seed', 'call-slow', 'call-fast']);
      assert.ok(resA[0]!.ok && resB[0]!.ok);
      if (resA[0]!.ok && resB[0]!.ok) assert.ok(resB[0]!.positions[0]! > resA[0]!.positions[0]!);
    } finally {
      await store.close();
      await t.close();
    }
  });

  test('a rolled-back append leaves no trace and no hole', async () => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    try {
      const trx = await t.database.db.startTransaction().execute();
      await appendBatch(trx, [{ streamId: 'call-rb', events: [statusEvent('rb')], expected: 'any' }]);
      await trx.rollback().execute();
      const r = await store.append('call-ok', [statusEvent('ok')]);
      assert.ok(r.ok);
      if (r.ok) assert.equal(r.positions, [1]);
      assert.equal(await store.readStream('call-rb'), []);
    } finally {
      await store.close();
      await t.close();
    }
  });

  test.run();
}
