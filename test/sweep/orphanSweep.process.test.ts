import { backends } from '../support/databases.ts';
import { processSuite, storageSuite } from './suites.ts';

/** One full sweep on PostgreSQL (when reachable), and the scheduled process (lease, once a day) on both databases. */
for (const backend of await backends()) {
  if (backend.name === 'postgres') storageSuite(backend, 'local').run();
  processSuite(backend).run();
}
