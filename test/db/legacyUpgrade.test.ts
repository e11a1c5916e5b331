import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { decideCallEnded, decideStatusChanged } from '../../src/commands/callIngest.ts';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import type { DB } from '../../src/db/schema.ts';
import { prepareEvents } from '../../src/events/prepareEvents.ts';
import { readAllPage } from '../../src/events/postgres/readEvents.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { allProjectors, PROJECTOR_NAMES } from '../../src/projections/all.ts';
import { createCallLogsProjector } from '../../src/projections/callLogs/projector.ts';
import { recordingMetricsProjector } from '../../src/projections/metrics/projector.ts';
import { createRecordingDownloadsProjector } from '../../src/projections/recordingDownloads/projector.ts';
import { testKeyring } from '../support/keyring.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { EndOfCallReport, normaliseReport, normaliseStatus, StatusUpdate } from '../../src/vapi/messages.ts';
import { listVapiFixtures, loadVapiFixture } from '../fixtures/vapi/index.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';

// An existing deployment (every table and callrec_append in public, made by the migrations before
// DATABASE_SCHEMA: db/migrations 001–005, which shipped and are never edited) upgrades in place: its tables
// move into the schema with their data, replay checksums are the same before and after, and public keeps
// nothing of callrec's, but keeps the host application's tables untouched.

const LEGACY_DIR = new URL('../../db/migrations/', import.meta.url).pathname;
/** The migrations of the layout in public (commit 4e70740), the last of them 005. */
const isLegacy = (f: string) => f.endsWith('.sql') && f < '006';
const FIXED = new Date('2026-11-20T10:00:00.000Z');

/** The requests callrec_append took, for a few calls of every fixture shape (as the old service appended them). */
function legacyRequests(copies: number): unknown[] {
  const names = listVapiFixtures().filter((n) => n.startsWith('end-of-call-report') || n.startsWith('status-update'));
  const requests: unknown[] = [];
  for (let i = 0; i < copies; i++) {
    for (const name of names) {
      const m = loadVapiFixture(name).message;
      const callId = `${m.call.id}-${i}`;
      const ctx = { orgId: i % 2 ? 'org-a' : 'org-b', correlationId: `seed-${i}`, now: FIXED };
      const d =
        m.type === 'end-of-call-report'
          ? decideCallEnded(normaliseReport(EndOfCallReport.parse(m), callId), ctx)
          : decideStatusChanged(normaliseStatus(StatusUpdate.parse(m), callId), ctx);
      const prepared = prepareEvents([d.event]);
      if (!prepared.ok) throw new Error('fixture event refused');
      requests.push({ streamId: d.streamId, expected: 'any', events: prepared.events });
    }
  }
  return requests;
}

interface Legacy {
  /** A plain kysely handle: unqualified names resolve through the default search_path, as before. */
  db: Kysely<DB>;
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** Lays out the old deployment: migrations into public, calls appended, read models projected, checkpoints set. */
async function buildLegacy(legacy: Legacy): Promise<void> {
  await legacy.exec('create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())');
  for (const file of (await readdir(LEGACY_DIR)).filter(isLegacy).sort()) {
    await legacy.exec(await readFile(path.join(LEGACY_DIR, file), 'utf8'));
    await sql`insert into schema_migrations (name) values (${file})`.execute(legacy.db);
  }
  // Today's call_logs projector writes the columns 009 adds (erasure, hold, expiry; all null for these calls):
  // the old table gets them from the shipped 009 itself (`add column if not exists`, so 009 adds nothing later).
  const addedByPrivacy = (await readFile(path.join(LEGACY_DIR, '009_privacy.sql'), 'utf8')).split('\n').filter((l) => l.startsWith('alter table call_logs add column'));
  assert.ok(addedByPrivacy.length > 0);
  await legacy.exec(addedByPrivacy.join('\n'));
  // The host application's own table, which must come through untouched.
  await legacy.exec(`create table app_settings (key text primary key, value text); insert into app_settings values ('theme', 'dark'), ('lang', 'fr');`);
  for (const request of legacyRequests(3)) {
    await sql`select callrec_append(${JSON.stringify([request])}::jsonb)`.execute(legacy.db);
  }
  const events = await readAllPage(legacy.db, 0, 100_000);
  const head = events[events.length - 1]!.position;
  // The old service wrote personal columns in plaintext (projectors without a keyring).
  for (const p of [createCallLogsProjector(undefined), createRecordingDownloadsProjector(undefined), recordingMetricsProjector]) {
    const handled = events.filter((e) => p.handles.has(e.type));
    // Today's projector code writes the read models as they are after the newer migrations; where those
    // changed a table's columns, the old layout is left unprojected (checkpoint 0) and caught up after the upgrade.
    const projected = !CHANGED_SINCE_LEGACY.has(p.name);
    await legacy.db.transaction().execute(async (trx) => {
      if (projected && handled.length > 0) await p.apply(trx, handled);
      await trx.insertInto('checkpoints').values({ name: p.name, position: projected ? head : 0 }).execute();
    });
  }
}

/** Projections whose tables gained columns in a migration after 005 (007 adds recording_metrics_daily.recovered_calls). */
const CHANGED_SINCE_LEGACY = new Set(['recording_metrics']);
/** Read models 011 empties (their plaintext personal columns and word index) and resets to checkpoint 0, to be re-projected sealed. */
const EMPTIED_BY_011 = ['call_logs', 'recording_downloads'];

async function checksums(db: Kysely<DB>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of ['events', 'streams', 'checkpoints', 'call_logs', 'recording_downloads', 'recording_metrics_daily']) {
    const c = await tableChecksum(db, t);
    out[t] = `${c.md5} (${c.rows} rows)`;
  }
  return out;
}

async function publicObjects(db: Kysely<DB>): Promise<string[]> {
  const r = await sql<{ o: string }>`
    select c.relname || ':' || c.relkind::text as o from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
    union all select p.proname::text || '()' from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
    order by 1`.execute(db);
  return r.rows.map((x) => x.o);
}

for (const backend of await backends()) {
  const test = suite(`upgrade in place from the public layout [${backend.name}]`);

  test('tables and callrec_append move into the schema; replay checksums unchanged; public keeps only the app', async () => {
    const dir = backend.name === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'callrec-legacy-')) : undefined;
    const url = dir ? undefined : await createTestDatabase();
    let database: Database | undefined;
    try {
      // 1. Today's layout.
      let legacy: Legacy;
      if (dir) {
        const pglite = new PGlite(path.join(dir, 'pg'));
        await pglite.waitReady;
        const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
        legacy = { db, exec: async (s) => void (await pglite.exec(s)), close: () => db.destroy() };
      } else {
        const pool = new pg.Pool({ connectionString: url, max: 2 });
        const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
        legacy = { db, exec: async (s) => void (await pool.query(s)), close: () => db.destroy() };
      }
      let before: Record<string, string>;
      try {
        await buildLegacy(legacy);
        before = await checksums(legacy.db);
        assert.ok(before.events!.endsWith('(36 rows)'), before.events);
      } finally {
        await legacy.close();
      }

      // 2. The new version starts: migrate moves the layout into `callrec`.
      database = await connectDatabase(dir ? { pgliteDir: path.join(dir, 'pg') } : { databaseUrl: url, poolSize: 4 });
      const applied = await migrate(database);
      const newer = (await readdir(path.resolve('db/migrations'))).filter((f) => f.endsWith('.sql') && f > '006').sort();
      assert.ok(newer.length > 0);
      assert.equal(applied, newer, 'the old migrations count as applied; only the newer ones run');
      assert.equal(await publicObjects(database.db), ['app_settings:r', 'app_settings_pkey:i'], 'public keeps only the host app');
      const settings = await sql<{ key: string; value: string }>`select * from public.app_settings order by key`.execute(database.db);
      assert.equal(settings.rows, [{ key: 'lang', value: 'fr' }, { key: 'theme', value: 'dark' }]);
      const moved = await checksums(database.db);
      const kept = (c: Record<string, string>) => Object.fromEntries(Object.entries(c).filter(([t]) => !EMPTIED_BY_011.includes(t) && t !== 'checkpoints'));
      assert.equal(kept(moved), kept(before), 'moved with every row');
      for (const t of EMPTIED_BY_011) assert.ok(moved[t]!.endsWith('(0 rows)'), `${t} emptied by 011: ${moved[t]}`);
      const reset = await database.db.selectFrom('checkpoints').select(['name', 'position']).where('name', 'in', EMPTIED_BY_011).execute();
      assert.equal(reset.map((c) => Number(c.position)), [0, 0]);

      // 3. Replay (rebuild every read model from the moved log): the same checksums.
      const store = createPostgresEventStore(database);
      try {
        const keyring = testKeyring(database);
        for (const p of allProjectors(keyring)) await rebuildProjection(database.db, store, p);
        // (checkpoints keep their positions; their updated_at moves with the rebuild's swap)
        const { checkpoints: _after, ...replayed } = await checksums(database.db);
        const { checkpoints: _before, ...expected } = before;
        const changed = new Set([...allProjectors(keyring).filter((p) => CHANGED_SINCE_LEGACY.has(p.name)).flatMap((p) => p.tables), ...EMPTIED_BY_011]);
        const without = (c: Record<string, string>) => Object.fromEntries(Object.entries(c).filter(([t]) => !changed.has(t)));
        assert.equal(without(replayed), without(expected), 'replay after the upgrade gives the same read models');
        // The emptied read models come back from the log with every row, their personal columns sealed.
        for (const t of EMPTIED_BY_011) assert.is(replayed[t]!.replace(/^.* \(/, '('), expected[t]!.replace(/^.* \(/, '('), t);
        const plain = await sql<{ n: string }>`select count(*) as n from ${sql.table('call_logs')} where transcript not like 'pii1:%' or customer_number not like 'pii1:%'`.execute(database.db);
        assert.is(Number(plain.rows[0]!.n), 0, 'no plaintext personal column after the upgrade');
        assert.not.match(replayed.recording_metrics_daily!, /\(0 rows\)$/, 'recording_metrics_daily is caught up from the moved log');
        assert.match(replayed.call_logs!, /\(27 rows\)$/, 'call_logs is caught up from the moved log');
        const cps = await database.db.selectFrom('checkpoints').select(['name', 'position']).orderBy('name').execute();
        assert.ok(cps.every((c) => Number(c.position) === Number(cps[0]!.position)) && cps.length === PROJECTOR_NAMES.length);
        // 4. The log goes on where it stopped, through the new schema-scoped callrec_append.
        const head = await store.headPosition();
        const r = await store.append('call-after-upgrade', [
          { eventId: '00000000-0000-4000-8000-000000000001', type: 'CallStatusChanged', data: { callId: 'after-upgrade', orgId: 'org-a', status: 'queued', at: null, endedReason: null }, metadata: { correlationId: 'c', causationId: null, orgId: 'org-a', recordedAt: FIXED.toISOString(), actor: 'test' } },
        ]);
        assert.ok(r.ok, JSON.stringify(r));
        if (r.ok) assert.equal(r.positions, [head + 1]);
        const fn = await sql<{ src: string; config: string[] }>`
          select p.prosrc as src, p.proconfig as config from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'callrec' and p.proname = 'callrec_append'`.execute(database.db);
        assert.is(fn.rows.length, 1);
        assert.match(fn.rows[0]!.src, /hashtext\(current_schema\(\)\)/);
        assert.equal(fn.rows[0]!.config, ['plan_cache_mode=force_custom_plan', 'jit=off', 'search_path=callrec, pg_catalog']);
      } finally {
        await store.close();
      }

      // 5. A second start changes nothing.
      assert.equal(await migrate(database), []);
    } finally {
      await database?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
      if (url) await dropTestDatabase(url);
    }
  });

  test('a public schema_migrations that is not callrec\'s (another shape) moves nothing', async () => {
    const url = backend.name === 'postgres' ? await createTestDatabase() : undefined;
    const database = await connectDatabase(url ? { databaseUrl: url, poolSize: 2 } : { pgliteDir: 'memory://' });
    try {
      await sql`create table public.schema_migrations (version varchar primary key)`.execute(database.db);
      await sql`insert into public.schema_migrations values ('20240101000000')`.execute(database.db);
      await sql`create table public.events (id serial primary key, title text)`.execute(database.db);
      await migrate(database);
      assert.equal(await publicObjects(database.db), ['events:r', 'events_id_seq:S', 'events_pkey:i', 'schema_migrations:r', 'schema_migrations_pkey:i']);
      const v = await sql<{ version: string }>`select version from public.schema_migrations`.execute(database.db);
      assert.equal(v.rows, [{ version: '20240101000000' }]);
    } finally {
      await database.close();
      if (url) await dropTestDatabase(url);
    }
  });

  test.run();
}
