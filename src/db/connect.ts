import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { DB } from './schema.ts';

// int8 as string is pg's safe default; positions stay far below 2^53 so callers convert with Number().
const MIGRATION_LOCK = 7_310_001;
/** pg treats a query_timeout of 0 as "use the pool's": this is "no limit" for the few statements that may wait. */
const UNLIMITED_MS = 2_147_483_647;

export type DatabaseKind = 'postgres' | 'pglite';

export interface Database {
  kind: DatabaseKind;
  db: Kysely<DB>;
  /** Runs a multi-statement SQL script and records `name` in schema_migrations, in one transaction. */
  applyMigration(name: string, script: string): Promise<void>;
  /** Runs `fn` while holding the migration lock (several instances may start at once). */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` whenever NOTIFY is sent on `channel` by any connection (Postgres: a dedicated LISTEN
   * client). PGlite lives in one process, where appends wake readers directly, so this is a no-op there.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** PGlite data directory; `memory://` for an in-memory database. */
  pgliteDir?: string;
  poolSize?: number;
  /** Names the connections in pg_stat_activity. */
  applicationName?: string;
  /**
   * PostgreSQL only: the longest a connection attempt, a wait for a free pooled connection, or a statement
   * may take (DATABASE_STATEMENT_TIMEOUT_MS). An unreachable database then fails fast instead of hanging.
   * Unset: no limit (the CLI's long commands).
   */
  statementTimeoutMs?: number;
}

export async function connectDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.databaseUrl) return connectPostgres(opts.databaseUrl, opts.poolSize ?? 20, opts.applicationName ?? 'callrec', opts.statementTimeoutMs);
  return connectPglite(opts.pgliteDir ?? 'memory://');
}

async function connectPostgres(url: string, poolSize: number, applicationName: string, timeoutMs?: number): Promise<Database> {
  // Server side, statement_timeout ends a statement that waits (locks) or runs too long; client side,
  // query_timeout gives up on a connection that stopped answering (a cut network never sends an error),
  // and connectionTimeoutMillis bounds both connecting and waiting for a free pooled connection.
  const limits = timeoutMs ? { connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, query_timeout: timeoutMs + 500 } : {};
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: applicationName, keepAlive: true, idleTimeoutMillis: 0, ...limits });
  // A dropped connection must not crash the process. Idle clients report to the pool; a client that is
  // checked out reports on itself, and its query fails: the pool discards it and the next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const listeners: pg.Client[] = [];
  return {
    kind: 'postgres',
    db,
    async applyMigration(name, script) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        // A migration (an index on a long log) may take long: no statement limit inside its transaction.
        await client.query('set local statement_timeout = 0');
        await client.query({ text: script, query_timeout: UNLIMITED_MS } as pg.QueryConfig);
        await client.query('insert into schema_migrations (name) values ($1)', [name]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async withMigrationLock(fn) {
      const client = await pool.connect();
      try {
        // Another instance may be migrating: wait for it as long as it takes.
        await client.query('set statement_timeout = 0');
        await client.query({ text: 'select pg_advisory_lock($1)', values: [MIGRATION_LOCK], query_timeout: UNLIMITED_MS } as pg.QueryConfig);
        await client.query('reset statement_timeout');
        try {
          return await fn();
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
        }
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
      let client: pg.Client | undefined;
      let closed = false;
      const start = async () => {
        if (closed) return;
        const c = new pg.Client({ connectionString: url, application_name: `${applicationName}-listen` });
        c.on('notification', () => onNotify());
        c.on('error', () => {
          // Reconnect after a dropped connection; polling covers the gap meanwhile.
          c.end().catch(() => {});
          if (!closed) setTimeout(() => start().catch(() => {}), 1000).unref();
        });
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        client = c;
        listeners.push(c);
        onNotify();
      };
      await start();
      return async () => {
        closed = true;
        await client?.end().catch(() => {});
      };
    },
    async close() {
      await Promise.all(listeners.map((c) => c.end().catch(() => {})));
      await db.destroy();
    },
  };
}

async function connectPglite(dir: string): Promise<Database> {
  let unlock = () => {};
  if (!dir.startsWith('memory://')) {
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDir(dir);
  }
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    db,
    async applyMigration(name, script) {
      // Hold kysely's single connection so nothing interleaves with the migration's transaction.
      await db.connection().execute(async () => {
        await pglite.transaction(async (tx) => {
          await tx.exec(script);
          await tx.query('insert into schema_migrations (name) values ($1)', [name]);
        });
      });
    },
    async withMigrationLock(fn) {
      return fn(); // one process owns an embedded database
    },
    async listen() {
      return async () => {};
    },
    async close() {
      await db.destroy();
      unlock();
    },
  };
}

/**
 * An embedded database belongs to one process. A second process (say, the CLI while the service runs)
 * would corrupt it, so it is refused with a message that says what to do.
 */
function lockDataDir(dir: string): () => void {
  const file = path.join(dir, '..', `${path.basename(dir)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8'));
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `the embedded database at ${dir} is in use by process ${pid} (a running callrec). Stop it first, or run callrec on PostgreSQL (DATABASE_URL) to share the database.`,
        );
      }
      rmSync(file, { force: true }); // stale lock of a process that is gone
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
