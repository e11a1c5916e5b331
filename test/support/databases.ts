import pg from 'pg';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';

/**
 * The databases every event-store and projection test runs against: embedded PGlite, and the real
 * PostgreSQL at TEST_DATABASE_URL (default: CI's server at 127.0.0.1:5432). With CI=true an unreachable
 * PostgreSQL is a failure, never a skip.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';


export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** A fresh, migrated, empty database. */
  open(): Promise<TestDb>;
}

export interface TestDb {
  database: Database;
  /** Connection string of the fresh database (postgres only), for child processes. */
  url?: string;
  close(): Promise<void>;
}

let reachable: boolean | undefined;

async function postgresReachable(): Promise<boolean> {
  if (reachable !== undefined) return reachable;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    reachable = true;
  } catch (err) {
    if (process.env.CI === 'true') {
      throw new Error(`CI=true but PostgreSQL at ${TEST_DATABASE_URL} is unreachable: ${(err as Error).message}`);
    }
    console.warn(`\n!! PostgreSQL at ${TEST_DATABASE_URL} is unreachable (${(err as Error).message}); Postgres variants are SKIPPED.\n`);
    reachable = false;
  } finally {
    await client.end().catch(() => {});
  }
  return reachable;
}

export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async open() {
    const database = await connectDatabase({ pgliteDir: 'memory://' });
    await migrate(database);
    return { database, close: () => database.close() };
  },
};

let counter = 0;
export const postgresBackend: TestBackend = {
  name: 'postgres',
  async open() {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 25 });
    await migrate(database);
    return {
      database,
      url,
      async close() {
        await database.close();
        await dropTestDatabase(url);
      },
    };
  },
};

/** Creates an empty database on the test server, named uniquely for this process. */
export async function createTestDatabase(): Promise<string> {
  const name = `callrec_t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

/** PGlite always; PostgreSQL when reachable (and always under CI, where unreachable fails). */
export async function backends(): Promise<TestBackend[]> {
  return (await postgresReachable()) ? [pgliteBackend, postgresBackend] : [pgliteBackend];
}
