import type { Config } from '../config.ts';
import type { EventStore } from '../events/port.ts';
import { createPostgresEventStore } from '../events/postgres/store.ts';
import type { Logger } from '../log.ts';
import { createEncryptingEventStore, type EncryptingEventStore } from '../privacy/encryptingStore.ts';
import { createKeyring } from '../privacy/keyring.ts';
import { loadMasterKey } from '../privacy/masterKey.ts';
import { connectDatabase, type Database } from './connect.ts';

/**
 * The configured event store as callrec reads and writes it: EventStoreDB when EVENTSTORE_URL is set, else the
 * PostgreSQL/PGlite store in `database`, wrapped so that personal fields are sealed in the log and opened on
 * read (src/privacy/encryptingStore.ts). The per-call keys live in `database`'s call_keys whichever store holds
 * the log, wrapped under PII_MASTER_KEY (`master`, or loaded from the config: a ConfigError naming
 * PII_MASTER_KEY when DATABASE_URL is set without it).
 */
export async function openEventStore(
  config: Config,
  database: Database,
  logger: Logger,
  opts: { master?: Buffer } = {},
): Promise<EncryptingEventStore & { queueFull?: () => boolean }> {
  const master = opts.master ?? (await loadMasterKey(config));
  const keyring = createKeyring(database, master);
  return createEncryptingEventStore(await openSealedEventStore(config, database, logger), keyring, { maxQueued: config.APPEND_QUEUE_MAX });
}

/**
 * The configured store without the privacy wrapper: it holds and returns personal fields sealed. Only for
 * copies of the log as stored (migrate-events) and checks that read no event data (doctor).
 */
export async function openSealedEventStore(config: Config, database: Database, logger: Logger): Promise<EventStore & { queueFull?: () => boolean }> {
  if (config.EVENTSTORE_URL) {
    const { createEventStoreDbStore } = await import('../events/eventstoredb/store.ts');
    return createEventStoreDbStore({ connectionString: config.EVENTSTORE_URL, logger });
  }
  // Appends wait in a bounded queue (APPEND_QUEUE_MAX). On PostgreSQL, one not yet sent after
  // DATABASE_STATEMENT_TIMEOUT_MS gives up (the server may be unreachable). Embedded PGlite cannot be
  // unreachable, only busy: its appends wait (webhooks still answer 503 within the timeout, see vapiWebhook.ts).
  return createPostgresEventStore(database, {
    logger,
    maxQueued: config.APPEND_QUEUE_MAX,
    queueTimeoutMs: database.kind === 'postgres' ? config.DATABASE_STATEMENT_TIMEOUT_MS : undefined,
  });
}

/** `limits: false` for the CLI, whose rebuilds and copies may run statements longer than DATABASE_STATEMENT_TIMEOUT_MS. */
export async function openDatabase(config: Config, opts: { limits?: boolean } = {}): Promise<Database> {
  return connectDatabase({
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.pgliteDir,
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: opts.limits === false ? undefined : config.DATABASE_STATEMENT_TIMEOUT_MS,
    schema: config.DATABASE_SCHEMA,
    listenUrl: config.DATABASE_LISTEN_URL,
    pooler: config.DATABASE_POOLER,
    caCert: config.DATABASE_CA_CERT,
  });
}
