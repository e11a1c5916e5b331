import { pgliteBackend } from '../support/databases.ts';
import { storageSuite } from './suites.ts';

/** The orphan sweep on Supabase Storage (the local fake speaking its HTTP protocol) and PGlite. */
storageSuite(pgliteBackend, 'supabase').run();
