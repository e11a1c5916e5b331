import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { eventStoreContract, restartableStore, type StoreHarness } from './contract.ts';

for (const backend of await backends()) {
  eventStoreContract(backend.name, async (): Promise<StoreHarness> => {
    // PGlite on a data directory rather than memory://, so a restart reopens the same data; PostgreSQL on a
    // fresh database of the test server.
    const dir = backend.name === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'callrec-pglite-')) : undefined;
    const url = dir ? undefined : await createTestDatabase();
    return restartableStore(
      async () => {
        const database = await connectDatabase(dir ? { pgliteDir: dir } : { databaseUrl: url });
        await migrate(database);
        const store = createPostgresEventStore(database);
        return {
          store,
          async close() {
            await store.close();
            await database.close();
          },
        };
      },
      async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
        else await dropTestDatabase(url!);
      },
    );
  }).run();
}
