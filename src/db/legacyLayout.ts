import type { RawExec } from './connect.ts';

/**
 * What the migrations of callrec before DATABASE_SCHEMA created in `public`, by migration file: the tables
 * (with columns that identify them as callrec's) and functions. Nothing else in `public` is ever touched.
 */
const LEGACY: Record<string, { tables: Record<string, string[]>; functions?: string[] }> = {
  '001_event_store.sql': {
    tables: {
      events: ['position', 'stream_id', 'stream_revision', 'event_id', 'type', 'data', 'metadata', 'recorded_at'],
      streams: ['stream_id', 'revision', 'updated_at'],
      checkpoints: ['name', 'position', 'updated_at'],
      leases: ['name', 'owner', 'expires_at'],
    },
    functions: ['callrec_append(jsonb)'],
  },
  '002_call_logs.sql': {
    tables: {
      call_logs: ['id', 'org_id', 'status', 'recording_status', 'first_position', 'last_position', 'search'],
      org_mappings: ['kind', 'value', 'org_id'],
    },
  },
  '003_recording_downloads.sql': {
    tables: { recording_downloads: ['position', 'event_id', 'org_id', 'call_id', 'user_id', 'action', 'accessed_at'] },
  },
  '005_metrics.sql': {
    tables: {
      recording_metrics_daily: ['org_id', 'day', 'calls', 'recorded_calls', 'failures_by_reason'],
      recording_metrics_sweeps: ['sweep_id', 'position', 'completed_at', 'failed_by_org'],
      recording_url_rejections: ['day', 'reason', 'count'],
    },
  },
};

async function columnsOf(exec: RawExec, table: string): Promise<Set<string> | undefined> {
  const r = await exec(
    `select a.attname as name from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`,
    [table],
  );
  return r.rows.length === 0 ? undefined : new Set(r.rows.map((row) => String(row.name)));
}

/**
 * An existing deployment upgrades in place: when `schema` has no schema_migrations yet and `public` holds
 * callrec's schema_migrations (columns name, applied_at, listing callrec's own migrations), the tables and
 * functions those migrations created move into `schema` with their data, indexes and constraints
 * (ALTER … SET SCHEMA), and the migration records follow. A public table callrec did not create is never
 * moved: if a table a migration lists lacks callrec's columns, the upgrade stops with an error naming it.
 * Runs inside the migration transaction (all or nothing), under the schema's migration lock.
 */
export async function adoptLegacyLayout(exec: RawExec, schema: string): Promise<string[]> {
  if (schema === 'public') return [];
  const own = await exec(`select to_regclass(format('%I.schema_migrations', $1::text)) is not null as present`, [schema]);
  if (own.rows[0]!.present) return [];
  const legacyCols = await columnsOf(exec, 'schema_migrations');
  if (!legacyCols?.has('name') || !legacyCols.has('applied_at')) return [];
  const listed = (await exec('select name from public.schema_migrations')).rows.map((r) => String(r.name));
  const ours = listed.filter((n) => n in LEGACY);
  if (!ours.includes('001_event_store.sql')) return [];

  const moved: string[] = [];
  const complete: string[] = [];
  const target = quoteIdent(schema);
  for (const migration of ours) {
    const { tables, functions = [] } = LEGACY[migration]!;
    let whole = true;
    for (const [table, required] of Object.entries(tables)) {
      const cols = await columnsOf(exec, table);
      if (!cols) {
        whole = false; // dropped since: the migration is not recorded, so it runs again in the schema
        continue;
      }
      const missing = required.filter((c) => !cols.has(c));
      if (missing.length > 0) {
        throw new Error(
          `public.${table} is listed as created by callrec's migration ${migration} but lacks callrec's columns (${missing.join(', ')}): refusing to move a table callrec did not create. Rename it or move callrec's data by hand.`,
        );
      }
      await exec(`alter table public.${quoteIdent(table)} set schema ${target}`);
      moved.push(table);
    }
    for (const fn of functions) {
      const exists = await exec(`select to_regprocedure($1) is not null as present`, [`public.${fn}`]);
      if (!exists.rows[0]!.present) continue;
      await exec(`alter function public.${fn} set schema ${target}`);
      moved.push(fn);
    }
    if (whole) complete.push(migration);
  }
  await exec(`create table ${target}.schema_migrations (name text primary key, applied_at timestamptz not null default now())`);
  await exec(`insert into ${target}.schema_migrations (name, applied_at) select name, applied_at from public.schema_migrations where name = any($1::text[])`, [complete]);
  // The record table itself goes only when nothing but callrec's migrations is in it.
  if (ours.length === listed.length) {
    await exec('drop table public.schema_migrations');
    moved.push('schema_migrations');
  }
  return moved;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
