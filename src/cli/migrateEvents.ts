import { createEventStoreDbStore } from '../events/eventstoredb/store.ts';
import { migrateEvents } from '../events/migrateEvents.ts';
import type { EventStore } from '../events/port.ts';
import { createPostgresEventStore } from '../events/postgres/store.ts';
import { stringFlag, UsageError, type ParsedArgs } from './args.ts';
import type { ExtraCommand } from './extraCommands.ts';
import { withRuntime } from './runtime.ts';

const KINDS = ['postgres', 'eventstore'] as const;
type Kind = (typeof KINDS)[number];

function kind(args: ParsedArgs, flag: 'from' | 'to'): Kind {
  const v = stringFlag(args, flag, true)!;
  if (!(KINDS as readonly string[]).includes(v)) throw new UsageError(`--${flag} must be postgres or eventstore (got ${JSON.stringify(v)})`);
  return v as Kind;
}

/**
 * `callrec migrate-events --from postgres --to eventstore` (and back): copies the log in global order with
 * its ids. "postgres" is the log in DATABASE_URL (or the embedded database); "eventstore" is EVENTSTORE_URL.
 * Idempotent: a re-run copies only what is missing.
 */
export const migrateEventsCommand: ExtraCommand = {
  name: 'migrate-events',
  usage: 'migrate-events --from postgres|eventstore --to eventstore|postgres   copy the event log between stores',
  async run(args) {
    const from = kind(args, 'from');
    const to = kind(args, 'to');
    if (from === to) throw new UsageError('--from and --to must differ');
    const url = process.env.EVENTSTORE_URL;
    if (!url) throw new UsageError('EVENTSTORE_URL must be set (esdb://host:2113?tls=false) to migrate to or from EventStoreDB');
    // The runtime's own store would be EventStoreDB (EVENTSTORE_URL is set): open both sides explicitly.
    return withRuntime(async ({ database, logger }) => {
      const stores: Record<Kind, EventStore> = {
        postgres: createPostgresEventStore(database, { logger }),
        eventstore: createEventStoreDbStore({ connectionString: url, logger }),
      };
      try {
        const r = await migrateEvents({
          from: stores[from],
          to: stores[to],
          onProgress: (p) => process.stderr.write(`\r${p.copied} copied, ${p.skipped} already there (source position ${p.position})`),
        });
        process.stderr.write('\n');
        process.stdout.write(`migrated ${from} → ${to}: ${r.copied} events copied, ${r.skipped} already there\n`);
        return 0;
      } finally {
        await Promise.all(Object.values(stores).map((s) => s.close()));
      }
    });
  },
};
