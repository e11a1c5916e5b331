import { createEventStoreDbStore } from '../../events/eventstoredb/store.ts';
import { migrateEvents } from '../../events/migrateEvents.ts';
import type { EventStore } from '../../events/port.ts';
import { createPostgresEventStore } from '../../events/postgres/store.ts';
import { stringOption, UsageError, type CliCommand, type ParsedCommandArgs } from '../command.ts';
import { withRuntime } from '../runtime.ts';

const KINDS = ['postgres', 'eventstore'] as const;
type Kind = (typeof KINDS)[number];

function kind(args: ParsedCommandArgs, option: 'from' | 'to'): Kind {
  const v = stringOption(args, option, true);
  if (!(KINDS as readonly string[]).includes(v)) throw new UsageError(`--${option} must be postgres or eventstore (got ${JSON.stringify(v)})`);
  return v as Kind;
}

/**
 * `callrec migrate-events --from postgres --to eventstore` (and back): copies the log in global order with
 * its ids. "postgres" is the log in DATABASE_URL (or the embedded database); "eventstore" is EVENTSTORE_URL.
 * Idempotent: a re-run copies only what is missing.
 */
export const migrateEventsCommand: CliCommand = {
  name: 'migrate-events',
  summary: 'copy the event log between stores, preserving order and ids (a re-run copies only what is missing)',
  usage: '--from postgres|eventstore --to eventstore|postgres',
  options: {
    from: { type: 'string', value: 'STORE', description: 'postgres (DATABASE_URL or the embedded database) or eventstore (EVENTSTORE_URL)' },
    to: { type: 'string', value: 'STORE', description: 'the other one' },
  },
  async run(args, ctx) {
    const from = kind(args, 'from');
    const to = kind(args, 'to');
    if (from === to) throw new UsageError('--from and --to must differ');
    const url = ctx.env.EVENTSTORE_URL;
    if (!url) throw new UsageError('EVENTSTORE_URL must be set (esdb://host:2113?tls=false) to migrate to or from EventStoreDB');
    // The runtime's own store would be EventStoreDB (EVENTSTORE_URL is set): open both sides explicitly, without
    // the privacy wrapper, so personal fields travel sealed as stored (their keys stay in call_keys).
    return withRuntime(
      async ({ database, logger }) => {
        const stores: Record<Kind, EventStore> = {
          postgres: createPostgresEventStore(database, { logger }),
          eventstore: createEventStoreDbStore({ connectionString: url, logger }),
        };
        try {
          // Postgres positions count events (the total is known); EventStoreDB's are byte offsets.
          const progress = ctx.progress({ label: `migrate-events ${from} → ${to}`, unit: 'events', total: from === 'postgres' ? Number(await stores.postgres.headPosition()) : undefined });
          const r = await migrateEvents({ from: stores[from], to: stores[to], onProgress: (p) => progress.update(p.copied + p.skipped) });
          progress.done();
          ctx.out(`migrated ${from} → ${to}: ${r.copied} events copied, ${r.skipped} already there`);
          return 0;
        } finally {
          await Promise.all(Object.values(stores).map((s) => s.close()));
        }
      },
      {},
      ctx.env,
    );
  },
};
