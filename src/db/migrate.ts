import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Database, RawExec } from './connect.ts';
import { adoptLegacyLayout } from './legacyLayout.ts';

export const migrationsDir = fileURLToPath(new URL('../../db/migrations/', import.meta.url));

// Advisory lock keys are (class, hashtext(schema)): two deployments in one database never wait on each other.
const MIGRATION_LOCK_CLASS = 7_310_001;

/**
 * Applies every db/migrations/*.sql file not yet applied, in name order, each in its own transaction, into
 * the database's schema (DATABASE_SCHEMA). Nothing depends on session state, so migrations run through a
 * transaction-mode pooler too. Each transaction:
 * 1. takes the schema's migration lock (transaction-scoped: released at commit; several instances may start at once);
 * 2. creates the schema if missing and `SET LOCAL search_path = <schema>, pg_catalog`, so that a migration
 *    written the plain way (`create table foo`, `create or replace function bar`) lands in the schema;
 * 3. moves an existing deployment's tables out of `public` (once, see legacyLayout.ts);
 * 4. runs the script unless another instance applied it meanwhile, and pins every function of the schema to
 *    `search_path = <schema>, pg_catalog` so that PL/pgSQL resolves its tables in the schema at run time.
 * The same files serve PGlite and PostgreSQL.
 */
export async function migrate(database: Database, dir = migrationsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const { schema } = database;
  const done = await database.rawTransaction(async (exec) => {
    await prepareSchema(exec, schema);
    return new Set((await exec('select name from schema_migrations')).rows.map((r) => String(r.name)));
  });
  const applied: string[] = [];
  for (const file of files) {
    if (done.has(file)) continue;
    const script = await readFile(path.join(dir, file), 'utf8');
    const ran = await database.rawTransaction(async (exec) => {
      await prepareSchema(exec, schema);
      if ((await exec('select 1 from schema_migrations where name = $1', [file])).rows.length > 0) return false;
      await exec(script);
      await pinFunctions(exec, schema);
      await exec('insert into schema_migrations (name) values ($1)', [file]);
      return true;
    });
    if (ran) applied.push(file);
  }
  return applied;
}

async function prepareSchema(exec: RawExec, schema: string): Promise<void> {
  await exec('select pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
  // Only when missing: CREATE SCHEMA IF NOT EXISTS would still need the CREATE privilege on the database.
  const present = await exec('select 1 from pg_namespace where nspname = $1', [schema]);
  if (present.rows.length === 0) await exec(`create schema ${quoteIdent(schema)}`);
  await exec(`select set_config('search_path', $1, true)`, [`${quoteIdent(schema)}, pg_catalog`]);
  await adoptLegacyLayout(exec, schema);
  await exec('create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())');
}

/** Every function and procedure of the schema runs with the schema's search_path (set once, kept by the catalog). */
async function pinFunctions(exec: RawExec, schema: string): Promise<void> {
  const wanted = `search_path=${schema}, pg_catalog`; // as the catalog prints it (schema names need no quotes)
  const r = await exec(
    `select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as sig
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = $1 and not ($2 = any(coalesce(p.proconfig, '{}')))`,
    [schema, wanted],
  );
  for (const row of r.rows) await exec(`alter routine ${String(row.sig)} set search_path = ${quoteIdent(schema)}, pg_catalog`);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
