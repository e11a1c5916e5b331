import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import type { DB } from '../../src/db/schema.ts';
import { silentLogger } from '../../src/log.ts';
import { allProjectors } from '../../src/projections/all.ts';
import { rebuildProjection } from '../../src/projections/rebuild.ts';
import { startService, type Service } from '../../src/service.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { statusEvent } from '../support/events.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';

// callrec lives in its own schema inside a team's database: the host application's public.call_logs and
// public.events (other shapes, with rows) stay byte-identical, in data and in catalog definition, while callrec
// migrates, ingests webhooks and replays; two deployments with different schemas share the database without
// touching each other (tables, NOTIFY channel, append lock).

const HOST_APP = `
create table public.call_logs (id serial primary key, caller text not null, notes text, created_at timestamptz not null default '2026-01-01T00:00:00Z');
create index call_logs_caller_idx on public.call_logs (caller);
insert into public.call_logs (caller, notes) select 'caller-' || g, 'note ' || g from generate_series(1, 50) g;
create table public.events (id uuid primary key, kind text not null, payload jsonb, at date);
insert into public.events select md5(g::text)::uuid, 'app-event', jsonb_build_object('n', g), date '2026-01-01' + g from generate_series(1, 30) g;
create function public.app_touch() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger app_events_touch before update on public.events for each row execute function public.app_touch();
`;

/** Everything about public that a change would show: its objects, their definitions, and the rows of the app's tables. */
async function publicSnapshot(db: Kysely<DB>): Promise<Record<string, unknown>> {
  const one = async (q: ReturnType<typeof sql<{ v: string | null }>>) => (await q.execute(db)).rows[0]?.v ?? null;
  return {
    objects: await one(sql<{ v: string }>`
      select string_agg(c.relname || ':' || c.relkind::text, ',' order by c.relname) as v
        from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'`),
    columns: await one(sql<{ v: string }>`
      select string_agg(format('%s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), ',' order by c.relname, a.attnum) as v
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
       where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`),
    indexes: await one(sql<{ v: string }>`select string_agg(indexdef, ',' order by indexname) as v from pg_indexes where schemaname = 'public'`),
    constraints: await one(sql<{ v: string }>`
      select string_agg(conname || ' ' || pg_get_constraintdef(c.oid), ',' order by conname) as v
        from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'`),
    functions: await one(sql<{ v: string }>`
      select string_agg(p.proname::text || ' ' || md5(p.prosrc), ',' order by p.proname) as v
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'`),
    triggers: await one(sql<{ v: string }>`select string_agg(tgname::text, ',' order by tgname) as v from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'`),
    callLogsRows: await one(sql<{ v: string }>`select md5(string_agg(t::text, E'\\n' order by t.id)) || ' ' || count(*) as v from public.call_logs t`),
    eventsRows: await one(sql<{ v: string }>`select md5(string_agg(t::text, E'\\n' order by t.id)) || ' ' || count(*) as v from public.events t`),
  };
}

interface Deployment {
  database: Database;
  service: Service;
  calls: string[];
}

async function deploy(database: Database): Promise<Deployment> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: `/tmp/callrec-own-schema-${process.pid}`, LOG_LEVEL: 'silent', DATABASE_SCHEMA: database.schema });
  const service = await startService(config, { logger: silentLogger, database, recordingPipeline: false, leaseMs: 2000 });
  return { database, service, calls: [] };
}

async function ingest(d: Deployment, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const body = loadVapiFixture('end-of-call-report.current') as { message: { call: { id: string } } };
    const id = `${d.database.schema}-call-${i}-${randomUUID().slice(0, 8)}`;
    body.message.call.id = id;
    const res = await fetch(`${d.service.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.is(res.status, 200);
    d.calls.push(id);
  }
  await d.service.runner.catchUp();
}

async function replay(d: Deployment): Promise<void> {
  for (const p of allProjectors(d.service.keyring)) await rebuildProjection(d.database.db, d.service.store, p);
}

async function stop(d: Deployment | undefined): Promise<void> {
  if (!d) return;
  await d.service.stop();
  await d.database.close();
}

for (const backend of await backends()) {
  const test = suite(`callrec in its own schema [${backend.name}]`);

  test('nothing in public: the host app\'s call_logs and events stay byte-identical through migrate, ingest and replay', async () => {
    const url = backend.name === 'postgres' ? await createTestDatabase() : undefined;
    const database = await connectDatabase(url ? { databaseUrl: url, poolSize: 6 } : { pgliteDir: 'memory://' });
    let d: Deployment | undefined;
    try {
      await sql.raw(HOST_APP).execute(database.db).catch(async () => {
        for (const stmt of HOST_APP.split(/;\n/).filter((s) => s.trim())) await sql.raw(stmt).execute(database.db);
      });
      const before = await publicSnapshot(database.db);
      d = await deploy(database); // migrates
      await ingest(d, 3);
      await replay(d);
      assert.equal(await publicSnapshot(database.db), before);
      const placed = await sql<{ nspname: string; relname: string }>`
        select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relname in ('events', 'streams', 'checkpoints', 'leases', 'call_logs', 'org_mappings', 'schema_migrations', 'recording_downloads', 'recording_metrics_daily')
           and n.nspname not in ('public') order by 2`.execute(database.db);
      assert.ok(placed.rows.length >= 9 && placed.rows.every((r) => r.nspname === 'callrec'), JSON.stringify(placed.rows));
      const fns = await sql<{ nspname: string }>`select n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = 'callrec_append'`.execute(database.db);
      assert.equal(fns.rows, [{ nspname: 'callrec' }]);
      const rows = await database.db.selectFrom('call_logs').select('id').orderBy('id').execute();
      assert.equal(rows.map((r) => r.id), [...d.calls].sort());
      const scratch = await sql<{ n: string }>`select count(*)::text as n from pg_namespace where nspname like '%rebuild%'`.execute(database.db);
      assert.is(scratch.rows[0]!.n, '0', 'rebuild scratch schemas are dropped');
    } finally {
      await stop(d).catch(() => database.close());
      if (url) await dropTestDatabase(url);
    }
  });

  if (backend.name === 'postgres') {
    test('two deployments (schemas callrec and tenant_b) share one database without touching each other', async () => {
      const url = await createTestDatabase();
      let a: Deployment | undefined;
      let b: Deployment | undefined;
      const listener = new pg.Client({ connectionString: url });
      const locker = new pg.Client({ connectionString: url });
      try {
        a = await deploy(await connectDatabase({ databaseUrl: url, poolSize: 6 }));
        await sql.raw(HOST_APP).execute(a.database.db);
        const before = await publicSnapshot(a.database.db);
        b = await deploy(await connectDatabase({ databaseUrl: url, poolSize: 6, schema: 'tenant_b' }));
        await ingest(a, 3);
        await ingest(b, 2);
        await replay(a);
        await replay(b);
        assert.equal((await a.database.db.selectFrom('call_logs').select('id').orderBy('id').execute()).map((r) => r.id), [...a.calls].sort());
        assert.equal((await b.database.db.selectFrom('call_logs').select('id').orderBy('id').execute()).map((r) => r.id), [...b.calls].sort());
        assert.is(await a.service.store.headPosition(), 3);
        assert.is(await b.service.store.headPosition(), 2);
        assert.equal(await publicSnapshot(a.database.db), before);

        // NOTIFY: an append to tenant_b does not wake callrec's readers; an append to callrec does.
        await listener.connect();
        const heard: string[] = [];
        listener.on('notification', (m) => heard.push(`${m.channel}:${m.payload}`));
        await listener.query('LISTEN callrec_events');
        assert.ok((await b.service.store.append('call-b-x', [statusEvent('b-x', 'queued')])).ok);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(heard, []);
        assert.ok((await a.service.store.append('call-a-x', [statusEvent('a-x', 'queued')])).ok);
        for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(heard, ['callrec_events:4']);

        // Append lock: while a transaction holds callrec's, tenant_b appends; callrec's own append waits.
        await locker.connect();
        await locker.query('begin');
        await locker.query(`select callrec.callrec_append('[]'::jsonb)`);
        const bAppend = await Promise.race([b.service.store.append('call-b-y', [statusEvent('b-y', 'queued')]), new Promise((r) => setTimeout(() => r('blocked'), 3000))]);
        assert.ok(typeof bAppend === 'object' && (bAppend as { ok: boolean }).ok, 'tenant_b is not serialised behind callrec');
        let aDone = false;
        const aAppend = a.service.store.append('call-a-y', [statusEvent('a-y', 'queued')]).then((r) => ((aDone = true), r));
        await new Promise((r) => setTimeout(r, 300));
        assert.is(aDone, false, "callrec's appends wait for callrec's lock");
        await locker.query('rollback');
        assert.ok((await aAppend).ok);
      } finally {
        await listener.end().catch(() => {});
        await locker.end().catch(() => {});
        await stop(a);
        await stop(b);
        await dropTestDatabase(url);
      }
    });
  }

  test.run();
}
