import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { sql } from 'kysely';
import type { Database } from './connect.ts';

export const migrationsDir = fileURLToPath(new URL('../../db/migrations/', import.meta.url));

/**
 * Applies every db/migrations/*.sql file not yet applied, in name order, each in its own transaction.
 * The same files serve PGlite and PostgreSQL.
 */
export async function migrate(database: Database, dir = migrationsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return database.withMigrationLock(async () => {
    await sql`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`.execute(database.db);
    const done = new Set((await database.db.selectFrom('schema_migrations').select('name').execute()).map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await database.applyMigration(file, await readFile(path.join(dir, file), 'utf8'));
      applied.push(file);
    }
    return applied;
  });
}
