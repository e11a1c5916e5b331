import { loadConfig, type Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import type { EventStore } from '../events/port.ts';
import { createLogger, type Logger } from '../log.ts';
import { openDatabase, openEventStore } from '../db/open.ts';
import type { Keyring } from '../privacy/keyring.ts';
import { loadMasterKey } from '../privacy/masterKey.ts';

export interface CliRuntime {
  config: Config;
  database: Database;
  /** The log with personal fields opened on read and sealed on append (as the service sees it). */
  store: EventStore;
  /** The per-call data keys: the store seals the log with them, the read models their personal columns. */
  keyring: Keyring;
  logger: Logger;
}

/**
 * Opens the configured database (migrated) and event store for one CLI command, and closes them after.
 * PII_MASTER_KEY is loaded first: with DATABASE_URL and without it, the command stops before touching anything.
 */
export async function withRuntime<T>(fn: (rt: CliRuntime) => Promise<T>, opts: { migrate?: boolean } = {}, env = process.env): Promise<T> {
  const config = loadConfig(env);
  const master = await loadMasterKey(config);
  const logger = createLogger(env.LOG_LEVEL ?? 'warn');
  const database = await openDatabase(config, { limits: false });
  try {
    if (opts.migrate !== false) await migrate(database);
    const store = await openEventStore(config, database, logger, { master });
    try {
      return await fn({ config, database, store, keyring: store.keyring, logger });
    } finally {
      await store.close();
    }
  } finally {
    await database.close();
  }
}
