import { loadConfig, type Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import type { EventStore } from '../events/port.ts';
import { createLogger, type Logger } from '../log.ts';
import { openDatabase, openEventStore } from '../db/open.ts';
import { createKeyring, type Keyring } from '../privacy/keyring.ts';
import { loadMasterKey } from '../privacy/masterKey.ts';

export interface CliRuntime {
  config: Config;
  database: Database;
  store: EventStore;
  /** The per-call data keys (read models seal and open personal columns with them). */
  keyring: Keyring;
  logger: Logger;
}

/** Opens the configured database (migrated) and event store for one CLI command, and closes them after. */
export async function withRuntime<T>(fn: (rt: CliRuntime) => Promise<T>, opts: { migrate?: boolean } = {}, env = process.env): Promise<T> {
  const config = loadConfig(env);
  const master = await loadMasterKey(config);
  const logger = createLogger(env.LOG_LEVEL ?? 'warn');
  const database = await openDatabase(config, { limits: false });
  try {
    if (opts.migrate !== false) await migrate(database);
    const store = await openEventStore(config, database, logger);
    try {
      return await fn({ config, database, store, keyring: createKeyring(database, master), logger });
    } finally {
      await store.close();
    }
  } finally {
    await database.close();
  }
}
