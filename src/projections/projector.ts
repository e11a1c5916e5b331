import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { RecordedEvent } from '../events/port.ts';

/**
 * A projector turns events into rows of its read-model tables. `apply` receives the handled events of one
 * batch, in log order, inside the transaction that also moves the projector's checkpoint. It must write
 * only through `trx`: with the query builder, or in raw SQL as `sql.table('name')`, never a bare name in the
 * SQL text. `trx` qualifies each table with callrec's schema, and a rebuild hands a `trx` that sends the
 * projector's tables to its scratch copies.
 */
export interface Projector {
  name: string;
  /** Read-model tables it owns (rebuild swaps them; replay prints a checksum of each). */
  tables: string[];
  handles: ReadonlySet<string>;
  /**
   * Optional: the projector reads the log as stored, personal fields sealed (PERSONAL_EVENT_FIELDS), and writes
   * them to its personal columns as they are (a column is sealed under its field's name). It opens only what it
   * must read itself. Otherwise its events arrive opened.
   */
  sealed?: boolean;
  apply(trx: Transaction<DB>, events: RecordedEvent[], prepared?: unknown): Promise<void>;
  /**
   * Optional: work for a batch done before its transaction opens and outside it (fetching the calls' data keys:
   * an embedded database has one connection, which the transaction holds). What it returns is `apply`'s
   * `prepared`. The runner and the rebuild call it for every batch they apply.
   */
  prepare?(events: RecordedEvent[]): Promise<unknown>;
  /**
   * Optional: the key whose events must be applied in order (e.g. the call id). Events with different keys
   * touch different rows, so a rebuild may apply them on several connections at once.
   */
  partitionKey?(event: RecordedEvent): string;
}
