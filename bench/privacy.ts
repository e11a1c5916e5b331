import { randomBytes, randomUUID } from 'node:crypto';
import { decideCallEnded } from '../src/commands/callIngest.ts';
import type { EventStore, NewEvent } from '../src/events/port.ts';
import { createPostgresEventStore } from '../src/events/postgres/store.ts';
import { createEncryptingEventStore } from '../src/privacy/encryptingStore.ts';
import { createKeyring, type Keyring } from '../src/privacy/keyring.ts';
import { createCallLogsProjector } from '../src/projections/callLogs/projector.ts';
import { rebuildProjection } from '../src/projections/rebuild.ts';
import { fmt, openBenchDb, postgresAvailable, row, runConcurrent } from './support.ts';

// About 1 KB of transcript, as a short receptionist call produces.
const transcript = 'AI: Thank you for calling Harbor Dental, this is Riley. How can I help?\nUser: I would like to move my cleaning to next week, Thursday if possible.\n'.repeat(7);
const now = new Date('2026-12-01T10:00:00Z');

/** A CallEnded of a new call, with every personal field filled (transcript, summary, number, two URLs). */
function callEnded(tag: string, i: number): { streamId: string; event: NewEvent } {
  const callId = `bench-${tag}-${i}-${randomUUID().slice(0, 8)}`;
  const d = decideCallEnded(
    {
      callId, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: 'asst-1', phoneNumberId: 'pn-1', customerNumber: `+1415555${String(i % 10_000).padStart(4, '0')}`,
      startedAt: now.toISOString(), endedAt: now.toISOString(), durationSeconds: 61, endedReason: 'customer-ended-call', transcript,
      summary: 'The caller moved a cleaning appointment to next Thursday.', cost: 0.12,
      recordingUrl: `https://storage.vapi.ai/${callId}-mono.wav`, stereoRecordingUrl: `https://storage.vapi.ai/${callId}-stereo.wav`, messageAt: now.toISOString(),
    },
    { orgId: `org-${i % 5}`, correlationId: randomUUID(), now },
  );
  return { streamId: d.streamId, event: d.event };
}

async function appendRate(store: EventStore, tag: string, n: number, writers: number): Promise<number> {
  const ms = await runConcurrent(n, writers, async (i) => {
    const { streamId, event } = callEnded(tag, i);
    const r = await store.append(streamId, [event], 'no_stream');
    if (!r.ok) throw new Error(r.error.message);
  });
  return (n / ms) * 1000;
}

async function readAllRate(store: EventStore): Promise<{ rate: number; events: number }> {
  const t0 = performance.now();
  let events = 0;
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, limit: 1000 });
    events += page.length;
    if (page.length < 1000) break;
    after = page[page.length - 1]!.position;
  }
  return { rate: (events / (performance.now() - t0)) * 1000, events };
}

/**
 * The cost of encrypting personal data in the log: appends of realistic CallEnded events (each a new call, so
 * each creates its two data keys) through the store without and with the encrypting wrapper, in the same run
 * on the same database with 20 concurrent writers, alternated in two rounds; then reading the log back and
 * rebuilding call_logs of the same calls written plaintext and sealed (a cold key cache: one lookup per page).
 */
export async function benchPrivacy(n = Number(process.env.BENCH_PRIVACY_EVENTS || 1500)) {
  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  const writers = 20;
  for (const kind of kinds) {
    const count = kind === 'pglite' ? Math.min(n, 800) : n;
    console.log(`\nencryption of personal data on ${kind} (${fmt(count)} CallEnded per variant and round, ~1 KB transcript, ${writers} writers)`);
    const b = await openBenchDb(kind);
    try {
      const master = randomBytes(32);
      const plain = createPostgresEventStore(b.database);
      const sealed = createEncryptingEventStore(plain, createKeyring(b.database, master));
      await appendRate(plain, 'warm-plain', 200, writers);
      await appendRate(sealed, 'warm-sealed', 200, writers);
      const rates = { plain: [] as number[], sealed: [] as number[] };
      for (let round = 0; round < 2; round++) {
        rates.plain.push(await appendRate(plain, `plain${round}`, count, writers));
        rates.sealed.push(await appendRate(sealed, `sealed${round}`, count, writers));
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const p = mean(rates.plain);
      const s = mean(rates.sealed);
      row('append CallEnded, plaintext (store without the wrapper)', `${fmt(p)} ev/s`, `rounds ${rates.plain.map((r) => fmt(r)).join(', ')}`);
      row('append CallEnded, sealed (encrypting store, new keys)', `${fmt(s)} ev/s`, `rounds ${rates.sealed.map((r) => fmt(r)).join(', ')}`);
      row('  ratio sealed / plaintext', `${(s / p).toFixed(2)}x`);

      await plain.close();
    } finally {
      await b.close();
    }

    // Reading and rebuilding: the same calls written plaintext into one fresh database and sealed into another,
    // read back through the plain store and through the wrapper (cold key cache: one lookup per page).
    const m = kind === 'pglite' ? 1000 : 2000;
    const plainDb = await openBenchDb(kind);
    const sealedDb = await openBenchDb(kind);
    try {
      const master = randomBytes(32);
      const plainStore = createPostgresEventStore(plainDb.database);
      const sealedStore = createEncryptingEventStore(createPostgresEventStore(sealedDb.database), createKeyring(sealedDb.database, master));
      await runConcurrent(m, writers, async (i) => {
        const { streamId, event } = callEnded('read', i);
        for (const s of [plainStore, sealedStore]) {
          const r = await s.append(streamId, [event], 'no_stream');
          if (!r.ok) throw new Error(r.error.message);
        }
      });
      const reader = () => createEncryptingEventStore(createPostgresEventStore(sealedDb.database), createKeyring(sealedDb.database, master));
      // Plaintext: the log as before and a projector without keys. Sealed: the log opened on read, and the
      // projector sealing personal columns and blinding the search index, as the service runs it.
      const rebuild = async (database: typeof plainDb.database, store: EventStore & { keyring?: Keyring }) => {
        const r = await rebuildProjection(database.db, store, createCallLogsProjector(store.keyring), { batchSize: 1000 });
        return (r.events / r.ms) * 1000;
      };
      // Twice each, alternating; the second round is reported (the first warms caches and plans).
      let res = { read: 0, readOpened: 0, rebuild: 0, rebuildOpened: 0 };
      for (let round = 0; round < 2; round++) {
        res = {
          read: (await readAllRate(plainStore)).rate,
          readOpened: (await readAllRate(reader())).rate,
          rebuild: await rebuild(plainDb.database, plainStore),
          rebuildOpened: await rebuild(sealedDb.database, reader()),
        };
      }
      console.log(`  (${fmt(m)} calls, one CallEnded each, in each database)`);
      row('readAll pages of 1000, plaintext log', `${fmt(res.read)} ev/s`);
      row('readAll pages of 1000, sealed log opened (cold keys)', `${fmt(res.readOpened)} ev/s`, `${(res.readOpened / res.read).toFixed(2)}x`);
      row('rebuild call_logs, plaintext log', `${fmt(res.rebuild)} ev/s`);
      row('rebuild call_logs, sealed log opened (cold keys)', `${fmt(res.rebuildOpened)} ev/s`, `${(res.rebuildOpened / res.rebuild).toFixed(2)}x`);
      await plainStore.close();
      await sealedStore.close();
    } finally {
      await plainDb.close();
      await sealedDb.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchPrivacy();
