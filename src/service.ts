import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Config } from './config.ts';
import { connectDatabase, type Database } from './db/connect.ts';
import { migrate } from './db/migrate.ts';
import { loadOrgMapFile } from './commands/orgs.ts';
import type { EventStore } from './events/port.ts';
import { createPostgresEventStore } from './events/postgres/store.ts';
import { createHttpApp } from './http/app.ts';
import type { HttpDeps } from './http/context.ts';
import { createLogger, type Logger } from './log.ts';
import { createProjectionRunner, type ProjectionRunner } from './projections/runner.ts';
import { allProjectors } from './projections/all.ts';

export interface ServiceOptions {
  logger?: Logger;
  clock?: () => Date;
  /** Use this database instead of connecting one from the config (tests). */
  database?: Database;
  /** Start HTTP (default true). */
  http?: boolean;
  /** Run projectors and processes in this instance (default true). */
  background?: boolean;
  leaseMs?: number;
}

export interface Service {
  config: Config;
  database: Database;
  store: EventStore;
  runner: ProjectionRunner;
  logger: Logger;
  server?: Server;
  url: string;
  stop(): Promise<void>;
}

export async function openEventStore(config: Config, database: Database, logger: Logger): Promise<EventStore> {
  if (config.EVENTSTORE_URL) {
    const { createEventStoreDbStore } = await import('./events/eventstoredb/store.ts');
    return createEventStoreDbStore({ connectionString: config.EVENTSTORE_URL, logger });
  }
  return createPostgresEventStore(database, { logger });
}

export async function openDatabase(config: Config): Promise<Database> {
  return connectDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.pgliteDir, poolSize: config.DATABASE_POOL_SIZE });
}

/** The composition root: database, migrations, event store, projections, processes and HTTP. */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
  const clock = opts.clock ?? (() => new Date());
  const database = opts.database ?? (await openDatabase(config));
  await migrate(database);
  if (config.ORG_MAP_FILE) await loadOrgMapFile(database.db, config.ORG_MAP_FILE);
  const store = await openEventStore(config, database, logger);
  const projectors = allProjectors();
  const runner = createProjectionRunner({ database, store, projectors, instanceId: config.instanceId, logger, leaseMs: opts.leaseMs });

  if (!config.VAPI_WEBHOOK_SECRET && !config.VAPI_WEBHOOK_HMAC_SECRET) {
    logger.warn({ errorCode: 'unauthorized' }, 'no VAPI_WEBHOOK_SECRET or VAPI_WEBHOOK_HMAC_SECRET: webhooks are accepted without authentication (local use only)');
  }

  const deps: HttpDeps = {
    config,
    database,
    store,
    logger,
    clock,
    async readiness() {
      await sql`select 1`.execute(database.db);
      const head = await store.headPosition();
      const positions = await runner.positions();
      const lag = Object.fromEntries(Object.entries(positions).map(([k, v]) => [k, head - v]));
      const ready = Object.values(lag).every((l) => l <= config.READY_MAX_LAG_EVENTS);
      return { ready, checks: { database: 'ok', head, lag } };
    },
  };

  if (opts.background !== false) runner.start();

  let server: Server | undefined;
  let url = '';
  if (opts.http !== false) {
    const app = createHttpApp(deps);
    server = createServer(app.callback());
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.PORT, config.HOST, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${addr.port}`;
    logger.info({ url, database: database.kind, store: store.kind }, 'callrec listening');
  }

  return {
    config,
    database,
    store,
    runner,
    logger,
    server,
    url,
    async stop() {
      if (server) {
        server.closeAllConnections?.();
        await new Promise<void>((r) => server!.close(() => r()));
      }
      await runner.stop();
      await store.close();
      if (!opts.database) await database.close();
    },
  };
}
