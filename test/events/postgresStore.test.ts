import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { backends } from '../support/databases.ts';
import { eventStoreContract, type StoreHarness } from './contract.ts';

for (const backend of await backends()) {
  eventStoreContract(backend.name, async (): Promise<StoreHarness> => {
    if (backend.name === 'pglite') {
      // A data directory rather than memory://, so a restart reopens the same data.
      const dir = await mkdtemp(path.join(tmpdir(), 'callrec-pglite-'));
      let database: Database = await connectDatabase({ pgliteDir: dir });
      await migrate(database);
      let store = createPostgresEventStore(database);
      return {
        get store() {
          return store;
        },
        async restart() {
          await store.close();
          await database.close();
          database = await connectDatabase({ pgliteDir: dir });
          await migrate(database);
          store = createPostgresEventStore(database);
          return store;
        },
        async close() {
          await store.close();
          await database.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    const t = await backend.open();
    let database = t.database;
    let store = createPostgresEventStore(database);
    return {
      get store() {
        return store;
      },
      async restart() {
        await store.close();
        await database.close();
        database = await connectDatabase({ databaseUrl: t.url! });
        store = createPostgresEventStore(database);
        return store;
      },
      async close() {
        await store.close();
        await database.close().catch(() => {});
        await t.close().catch(() => {});
      },
    };
  }).run();
}
