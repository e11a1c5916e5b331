import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { DB } from './schema.ts';

import { CallrecSchemaPlugin, assertSchemaName } from './schemaPlugin.ts';
import { describeConnectError, listenPossible, pgConnection } from './connectionOptions.ts';

// int8 as string is pg's safe default; positions stay far below 2^53 so callers convert with Number().
/** pg treats a query_timeout of 0 as "use the pool's": this is "no limit" for the few statements that may wait. */
const UNLIMITED_MS = 2_147_483_647;

export type DatabaseKind = 'postgres' | 'pglite';

/** Runs SQL text on the transaction's connection: several statements at once when there are no parameters. */
export type RawExec = (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

export interface Database {
  kind: DatabaseKind;
  /** The schema that holds every table, index and function of callrec (DATABASE_SCHEMA). */
  schema: string;
  /** Every table it names is qualified with `schema` (no query depends on the search_path). */
  db: Kysely<DB>;
  /** How this instance learns of appends by other connections: NOTIFY, or polling alone. */
  wakeups: 'listen' | 'poll';
  /** Runs `fn` in one transaction on one connection (migrations: multi-statement scripts, SET LOCAL). */
  rawTransaction<T>(fn: (exec: RawExec) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` whenever NOTIFY is sent on `channel` by any connection (Postgres: a dedicated LISTEN
   * client on DATABASE_LISTEN_URL or DATABASE_URL). A no-op on PGlite (one process: appends wake readers
   * directly) and through a transaction-mode pooler, where LISTEN would silently never fire.
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
  /** DATABASE_SCHEMA, default `callrec`. */
  schema?: string;
  /** DATABASE_LISTEN_URL: a direct connection (not through a pooler) that carries LISTEN. */
  listenUrl?: string;
  /** DATABASE_POOLER: `transaction` says DATABASE_URL goes through a transaction-mode pooler. */
  pooler?: 'transaction' | 'session' | 'none';
  /** DATABASE_CA_CERT: PEM or a path, for sslmode=verify-full / verify-ca. */
  caCert?: string;
}

export const DEFAULT_SCHEMA = 'callrec';

/** The NOTIFY channel of a schema's appends (so that two deployments do not wake each other). */
export function eventsChannel(schema: string): string {
  return `${schema}_events`;
}

export async function connectDatabase(opts: DatabaseOptions): Promise<Database> {
  const schema = assertSchemaName(opts.schema ?? DEFAULT_SCHEMA);
  if (opts.databaseUrl) return connectPostgres(opts.databaseUrl, schema, opts);
  return connectPglite(opts.pgliteDir ?? 'memory://', schema);
}

async function connectPostgres(url: string, schema: string, opts: DatabaseOptions): Promise<Database> {
  const applicationName = opts.applicationName ?? 'callrec';
  const main = pgConnection(url, opts.caCert);
  // Unnamed statements only (pg prepares a named statement only when a query is given a name): nothing
  // here survives the transaction, so a transaction-mode pooler may hand each one a different connection.
  // Client side, query_timeout gives up on a connection that stopped answering (a cut network never sends an
  // error), and connectionTimeoutMillis bounds both connecting and waiting for a free pooled connection. Server
  // side, statement_timeout ends a statement that waits (locks) or runs too long; it is a startup parameter,
  // which a transaction-mode pooler does not pass on, so there only the client-side limits apply.
  const timeoutMs = opts.statementTimeoutMs;
  const serverLimit = timeoutMs && listenPossible(url, opts.pooler) ? { statement_timeout: timeoutMs } : {};
  const limits = timeoutMs ? { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs + 500, ...serverLimit } : {};
  // Connections are kept while idle (pg closes them after 10 s by default): a service under steady load keeps
  // its connections for weeks, and the benchmarks must measure that, not fresh connections after each pause.
  const pool = new pg.Pool({
    connectionString: main.connectionString,
    ssl: main.ssl,
    max: opts.poolSize ?? 20,
    application_name: applicationName,
    keepAlive: true,
    idleTimeoutMillis: 0,
    // Idle connections do not keep a process alive by themselves (a CLI or a test that has finished exits).
    allowExitOnIdle: true,
    ...limits,
  });
  // A dropped connection must not crash the process. Idle clients report to the pool; a client that is
  // checked out reports on itself, and its query fails: the pool discards it and the next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  // Connect once now, so that a TLS or address problem stops start-up with a message that says what to set.
  try {
    (await pool.connect()).release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(`cannot connect to the database: ${describeConnectError(err)}`, { cause: err });
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins: [new CallrecSchemaPlugin(schema)] });
  const listenUrl = opts.listenUrl || (listenPossible(url, opts.pooler) ? url : undefined);
  const listenConn = listenUrl ? pgConnection(listenUrl, opts.caCert) : undefined;
  const listeners: pg.Client[] = [];
  return {
    kind: 'postgres',
    schema,
    db,
    wakeups: listenConn ? 'listen' : 'poll',
    async rawTransaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        // A migration (an index on a long log) may take long: no statement limit inside its transaction.
        await client.query('set local statement_timeout = 0');
        const result = await fn((text, params) => client.query({ text, values: params ?? [], query_timeout: UNLIMITED_MS } as pg.QueryConfig));
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify) {
      if (!listenConn) return async () => {};
      let client: pg.Client | undefined;
      let closed = false;
      const start = async () => {
        if (closed) return;
        const c = new pg.Client({ connectionString: listenConn.connectionString, ssl: listenConn.ssl, application_name: `${applicationName}-listen` });
        c.on('notification', () => onNotify());
        c.on('error', () => {
          // Reconnect after a dropped connection; polling covers the gap meanwhile.
          c.end().catch(() => {});
          if (!closed) setTimeout(() => start().catch(() => {}), 1000).unref();
        });
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
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

async function connectPglite(dir: string, schema: string): Promise<Database> {
  let unlock = () => {};
  if (!dir.startsWith('memory://')) {
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDir(dir);
  }
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite), plugins: [new CallrecSchemaPlugin(schema)] });
  return {
    kind: 'pglite',
    schema,
    db,
    wakeups: 'listen', // one process owns the database: every append wakes its readers directly
    async rawTransaction(fn) {
      // Hold kysely's single connection so nothing interleaves with the transaction.
      return db.connection().execute(() =>
        pglite.transaction((tx) =>
          fn(async (text, params) => {
            if (params && params.length > 0) return tx.query<Record<string, unknown>>(text, params);
            const results = await tx.exec(text);
            return { rows: (results[results.length - 1]?.rows ?? []) as Record<string, unknown>[] };
          }),
        ),
      );
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
