import { sql } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventStore, RecordedEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createOrphanSweepProcess, runOrphanSweep, type OrphanSweepOptions } from '../../src/processes/orphanSweep.ts';
import { allProjectors } from '../../src/projections/all.ts';
import { testKeyring } from '../support/keyring.ts';
import { createProjectionRunner, type ProjectionRunner } from '../../src/projections/runner.ts';
import { fail } from '../../src/storage/port.ts';
import { withMetrics } from '../../src/projections/metrics/projector.ts';
import type { TestBackend, TestDb } from '../support/databases.ts';
import { DAY, localSweepStorage, seedCall, supabaseSweepStorage, type SweepStorage } from './support.ts';

/** The orphan sweep suites, run by the orphanSweep.*.test.ts files (split to keep each file short). */

export const NOW = new Date('2026-05-20T02:00:00.000Z');
const clock = () => NOW;

interface Fixture {
  t: TestDb;
  store: EventStore;
  runner: ProjectionRunner;
  s: SweepStorage;
  opts: OrphanSweepOptions;
  paths: { referencedOld: string; orphanOld: string; orphanYoung: string; orphanEdge: string; missing: string; otherOrg: string };
  missingCall: string;
}

/**
 * One database per backend for all tests of a file (opening PGlite costs seconds); every setup empties
 * its tables, so each test starts from nothing.
 */
const opened = new Map<TestBackend, TestDb>();
export async function closeDatabases() {
  for (const t of opened.values()) await t.close();
  opened.clear();
}

async function freshDatabase(backend: TestBackend): Promise<TestDb> {
  let t = opened.get(backend);
  if (!t) opened.set(backend, (t = await backend.open()));
  const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = ${t.database.schema} and tablename <> 'schema_migrations'`.execute(t.database.db);
  await sql`truncate ${sql.join(tables.rows.map((r) => sql.table(r.tablename)))}`.execute(t.database.db);
  return t;
}

async function setup(backend: TestBackend, makeStorage: () => Promise<SweepStorage>): Promise<Fixture> {
  const t = await freshDatabase(backend);
  const store = createPostgresEventStore(t.database);
  const runner = createProjectionRunner({ database: t.database, store, projectors: allProjectors(testKeyring(t.database)), instanceId: 'test' });
  const s = await makeStorage();
  const old = new Date(NOW.getTime() - 30 * DAY);
  const paths = {
    referencedOld: 'org-a/2026/04/20/ref.wav',
    orphanOld: 'org-a/2026/04/21/orphan.wav',
    orphanYoung: 'org-a/2026/05/18/young.wav',
    orphanEdge: 'org-a/2026/05/13/edge.wav',
    missing: 'org-a/2026/04/22/gone.wav',
    otherOrg: 'org-b/2026/04/01/orphan-b.wav',
  };
  await s.putAt(paths.referencedOld, old, 5000);
  await s.putAt(paths.orphanOld, new Date(NOW.getTime() - 10 * DAY), 7000);
  await s.putAt(paths.orphanYoung, new Date(NOW.getTime() - 2 * DAY), 3000);
  await s.putAt(paths.orphanEdge, new Date(NOW.getTime() - 7 * DAY + 60_000), 3000); // one minute short of 7 days
  await s.putAt(paths.otherOrg, new Date(NOW.getTime() - 45 * DAY), 11_000);
  await seedCall(store, 'org-a', old, paths.referencedOld, { bytes: 5000 });
  const missingCall = await seedCall(store, 'org-a', old, paths.missing); // uploaded, but the object is not there
  await seedCall(store, 'org-a', old); // a call without a recording
  const opts: OrphanSweepOptions = {
    db: t.database.db, store, storage: s.storage, minAgeDays: 7, fallbackOrgId: 'default', clock, pageSize: 2,
    beforeSweep: () => runner.catchUp(),
  };
  return { t, store, runner, s, opts, paths, missingCall };
}

async function teardown(f: Fixture | undefined) {
  if (!f) return;
  await f.s.close();
  await f.store.close();
}

async function allEvents(store: EventStore): Promise<RecordedEvent[]> {
  return store.readAll({ after: 0, limit: 10_000 });
}

export function storageSuite(backend: TestBackend, name: 'local' | 'supabase') {
  const make = name === 'local' ? localSweepStorage : supabaseSweepStorage;
  const test = suite(`orphan sweep [${name} storage, ${backend.name}]`);

  test('dry run lists what it would do and changes nothing', async () => {
    let f: Fixture | undefined;
    try {
      f = await setup(backend, make);
      await f.runner.catchUp();
      const head = await f.store.headPosition();
      const r = await runOrphanSweep(f.opts, { dryRun: true });
      assert.ok(r.complete);
      assert.is(r.dryRun, true);
      assert.is(r.scanned, 5);
      assert.equal(r.deleted.map((d) => d.path).sort(), [f.paths.orphanOld, f.paths.otherOrg].sort());
      assert.is(r.bytesFreed, 18_000);
      assert.is(r.keptReferenced, 1);
      assert.is(r.keptYoung, 2);
      assert.equal(r.missing.map((m) => m.callId), [f.missingCall]);
      assert.is(await f.store.headPosition(), head, 'a dry run writes no event');
      for (const p of Object.values(f.paths)) if (p !== f.paths.missing) assert.ok(await f.s.exists(p), `${p} still there`);
    } finally {
      await teardown(f);
    }
  });

  test('deletes only old unreferenced objects, records each deletion, flags vanished recordings once', async () => {
    let f: Fixture | undefined;
    try {
      f = await setup(backend, make);
      const r = await runOrphanSweep(f.opts, { dryRun: false });
      assert.ok(r.complete);
      assert.is(r.sweepId, '2026-05-20');
      assert.equal(r.deleted.map((d) => d.path).sort(), [f.paths.orphanOld, f.paths.otherOrg].sort());
      assert.equal(r.failed, []);
      assert.not.ok(await f.s.exists(f.paths.orphanOld));
      assert.not.ok(await f.s.exists(f.paths.otherOrg));
      assert.ok(await f.s.exists(f.paths.referencedOld), 'referenced object kept');
      assert.ok(await f.s.exists(f.paths.orphanYoung), 'young object kept');
      assert.ok(await f.s.exists(f.paths.orphanEdge), 'object just under the limit kept');

      const sweepEvents = await f.store.readStream('sweep-2026-05-20');
      const deleted = sweepEvents.filter((e) => e.type === 'OrphanDeleted');
      assert.is(deleted.length, 2);
      const orphan = deleted.find((e) => (e.data as { storagePath: string }).storagePath === f!.paths.orphanOld)!;
      assert.equal(orphan.data, { storagePath: f.paths.orphanOld, bytes: 7000, ageDays: 10, lastModified: new Date(NOW.getTime() - 10 * DAY).toISOString() });
      assert.is(orphan.metadata.orgId, 'org-a');
      assert.is(deleted.find((e) => (e.data as { storagePath: string }).storagePath === f!.paths.otherOrg)!.metadata.orgId, 'org-b');
      const completed = sweepEvents.filter((e) => e.type === 'SweepCompleted');
      assert.is(completed.length, 1);
      const summary = completed[0]!.data as Record<string, unknown>;
      assert.equal({ ...summary, durationMs: 0 }, { sweepId: '2026-05-20', scanned: 5, deleted: 2, bytesFreed: 18_000, missingFlagged: 1, durationMs: 0 });
      assert.ok(completed[0]!.position > deleted[1]!.position, 'the summary comes last');

      const callEvents = await f.store.readStream(`call-${f.missingCall}`);
      const missing = callEvents.filter((e) => e.type === 'RecordingMissing');
      assert.is(missing.length, 1);
      assert.equal(missing[0]!.data, { callId: f.missingCall, storagePath: f.paths.missing, sweepId: '2026-05-20' });

      await f.runner.catchUp();
      const row = await f.t.database.db.selectFrom('call_logs').select(['recording_missing', 'recording_status']).where('id', '=', f.missingCall).executeTakeFirstOrThrow();
      assert.equal(row, { recording_missing: true, recording_status: 'missing' });
      const metrics = await withMetrics(f.t.database.db).selectFrom('recording_metrics_daily').select(['org_id', 'orphans_deleted', 'orphan_bytes_deleted', 'missing_flagged']).where('day', '=', '2026-05-20').orderBy('org_id').execute();
      assert.equal(metrics.map((m) => ({ ...m, orphan_bytes_deleted: Number(m.orphan_bytes_deleted) })), [
        { org_id: 'org-a', orphans_deleted: 1, orphan_bytes_deleted: 7000, missing_flagged: 1 },
        { org_id: 'org-b', orphans_deleted: 1, orphan_bytes_deleted: 11_000, missing_flagged: 0 },
      ]);

      // The same day again: nothing new to delete or flag, no duplicate events, a second (empty) summary.
      const before = (await allEvents(f.store)).length;
      const again = await runOrphanSweep(f.opts, { dryRun: false });
      assert.is(again.sweepId, '2026-05-20.2');
      assert.is(again.deleted.length, 0);
      assert.is(again.missingFlagged, 0, 'an already flagged call is not flagged again');
      const after = await allEvents(f.store);
      assert.is(after.length, before + 1);
      assert.is(after[after.length - 1]!.type, 'SweepCompleted');
    } finally {
      await teardown(f);
    }
  });

  test('a failed removal is visible and finished by the next run without a second event', async () => {
    let f: Fixture | undefined;
    try {
      f = await setup(backend, make);
      const real = f.s.storage;
      let failRemovals = true;
      const flaky = { ...real, list: real.list.bind(real), remove: async (paths: string[]) => (failRemovals ? fail<{ removed: number }>('unavailable', 'storage is down') : real.remove(paths)) };
      const r = await runOrphanSweep({ ...f.opts, storage: flaky }, { dryRun: false });
      assert.is(r.deleted.length, 0);
      assert.equal(r.failed.map((x) => x.path).sort(), [f.paths.orphanOld, f.paths.otherOrg].sort());
      assert.ok(await f.s.exists(f.paths.orphanOld));
      let sweepEvents = await f.store.readStream('sweep-2026-05-20');
      // Written ahead of the removal: the event exists, and the summary says none was deleted and which failed.
      assert.is(sweepEvents.filter((e) => e.type === 'OrphanDeleted').length, 2);
      const summary = sweepEvents.find((e) => e.type === 'SweepCompleted')!;
      assert.is((summary.data as { deleted: number }).deleted, 0);
      assert.is(summary.metadata.failedCount, 2);
      await f.runner.catchUp();
      const pending = await withMetrics(f.t.database.db).selectFrom('recording_metrics_sweeps').select('failed_by_org').executeTakeFirstOrThrow();
      assert.equal(pending.failed_by_org, { 'org-a': 1, 'org-b': 1 });

      failRemovals = false;
      const r2 = await runOrphanSweep(f.opts, { dryRun: false });
      assert.is(r2.deleted.length, 2);
      assert.not.ok(await f.s.exists(f.paths.orphanOld));
      sweepEvents = await f.store.readStream('sweep-2026-05-20');
      assert.is(sweepEvents.filter((e) => e.type === 'OrphanDeleted').length, 2, 'same object, same day: same event');
      assert.equal(sweepEvents.filter((e) => e.type === 'SweepCompleted').map((e) => (e.data as { deleted: number }).deleted), [0, 2]);
    } finally {
      await teardown(f);
    }
  });

  test('no event, no deletion: an append that fails keeps the object', async () => {
    let f: Fixture | undefined;
    try {
      f = await setup(backend, make);
      await f.runner.catchUp();
      const store = f.store;
      const refusing: EventStore = {
        ...store,
        readStream: store.readStream.bind(store),
        append: async (stream, events, expected) =>
          stream.startsWith('sweep-') && events[0]?.type === 'OrphanDeleted'
            ? { ok: false, error: { code: 'wrong_expected_revision', message: 'simulated outage', streamId: stream, expected: expected ?? 'any', actual: 'no_stream' } }
            : store.append(stream, events, expected),
      };
      const r = await runOrphanSweep({ ...f.opts, store: refusing }, { dryRun: false });
      assert.is(r.deleted.length, 0);
      assert.is(r.failed.length, 2);
      assert.ok(r.failed.every((x) => x.code === 'database_unavailable'));
      assert.ok(await f.s.exists(f.paths.orphanOld));
      assert.ok(await f.s.exists(f.paths.otherOrg));
    } finally {
      await teardown(f);
    }
  });

  test.after(closeDatabases);
  return test;
}


export function processSuite(backend: TestBackend) {
  const test = suite(`orphan sweep process [${backend.name}]`);
  test('one instance sweeps per day under the lease; the schedule is daily at 02:00 UTC', async () => {
    let f: Fixture | undefined;
    const procs: Array<ReturnType<typeof createOrphanSweepProcess>> = [];
    try {
      f = await setup(backend, localSweepStorage);
      const mk = (instanceId: string) => {
        const p = createOrphanSweepProcess({ ...f!.opts, cron: '0 2 * * *', instanceId, leaseMs: 60_000 });
        procs.push(p);
        return p;
      };
      const a = mk('instance-a');
      const b = mk('instance-b');
      const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
      const results = [ra, rb];
      assert.is(results.filter((x) => x === 'skipped').length, 1, 'exactly one instance swept');
      const ran = results.find((x): x is Exclude<typeof x, 'skipped'> => x !== 'skipped');
      assert.is(ran?.deleted.length, 2);
      assert.is(await a.tick(), 'skipped');
      assert.is(await b.tick(), 'skipped');
      assert.is((await f.store.readStream('sweep-2026-05-20')).filter((e) => e.type === 'SweepCompleted').length, 1);

      a.start();
      const next = a.nextRun();
      assert.ok(next);
      assert.is(next!.getUTCHours(), 2);
      assert.is(next!.getUTCMinutes(), 0);
      assert.ok(next!.getTime() > Date.now() && next!.getTime() <= Date.now() + DAY);
    } finally {
      for (const p of procs) await p.stop();
      await teardown(f);
    }
  });
  test.after(closeDatabases);
  return test;
}
