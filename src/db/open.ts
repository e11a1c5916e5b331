import type { Config } from '../config.ts';
import type { EventStore } from '../events/port.ts';
import { createPostgresEventStore } from '../events/postgres/store.ts';
import type { Logger } from '../log.ts';
import { connectDatabase, type Database } from './connect.ts';

/** The configured event store: EventStoreDB when EVENTSTORE_URL is set, else the PostgreSQL/PGlite store in `database`. */
export async function openEventStore(config: Config, database: Database, logger: Logger): Promise<EventStore> {
  if (config.EVENTSTORE_URL) {
    const { createEventStoreDbStore } = await import('../events/eventstoredb/store.ts');
    return createEventStoreDbStore({ connectionString: config.EVENTSTORE_URL, logger });
  }
  return createPostgresEventStore(database, { logger });
}

export async function openDatabase(config: Config): Promise<Database> {
  return connectDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.pgliteDir, poolSize: config.DATABASE_POOL_SIZE });
}
