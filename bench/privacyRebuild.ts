import { randomBytes, randomUUID } from 'node:crypto';
import { decideCallEnded } from '../src/commands/callIngest.ts';
import type { EventStore } from '../src/events/port.ts';
import { createPostgresEventStore } from '../src/events/postgres/store.ts';
import { createKeyring } from '../src/privacy/keyring.ts';
import { createCallLogsProjector } from '../src/projections/callLogs/projector.ts';
import { rebuildProjection } from '../src/projections/rebuild.ts';
import { fmt, openBenchDb, postgresAvailable, row } from './support.ts';

// About 1 KB of transcript, as a short receptionist call produces.
const transcript = 'AI: Thank you for calling Harbor Dental, this is Riley. How can I help?\nUser: I would like to move my cleaning to next week, Thursday if possible.\n'.repeat(7);
const now = new Date('2026-12-01T10:00:00Z');

/** Grows the log with `calls` realistic calls of six events each (two status updates, the report, upload, signed URL, one download). */
async function grow(store: EventStore, calls: number): Promise<void> {
  for (let i = 0; i < calls; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, calls - i) }, (_, k) => {
        const n = i + k;
        const id = `rebuild-${n}-${randomUUID().slice(0, 8)}`;
        const orgId = `org-${n % 5}`;
        const meta = { correlationId: randomUUID(), causationId: null, orgId, recordedAt: now.toISOString(), actor: 'bench' };
        const d = decideCallEnded(
          {
            callId: id, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: 'asst-1', phoneNumberId: 'pn-1', customerNumber: `+1415555${String(n % 10_000).padStart(4, '0')}`,
            startedAt: now.toISOString(), endedAt: now.toISOString(), durationSeconds: 61, endedReason: 'customer-ended-call', transcript: `${transcript}Call ${n}.`,
            summary: 'The caller moved a cleaning appointment to next Thursday.', cost: 0.12,
            recordingUrl: `https://storage.vapi.ai/${id}-mono.wav`, stereoRecordingUrl: `https://storage.vapi.ai/${id}-stereo.wav`, messageAt: now.toISOString(),
          },
          { orgId, correlationId: meta.correlationId, now },
        );
        const ev = (type: string, data: object) => ({ eventId: randomUUID(), type, data, metadata: meta });
        const storagePath = `${orgId}/2026/12/01/${id}.wav`;
        return store.append(d.streamId, [
          ev('CallStatusChanged', { callId: id, orgId, status: 'ringing', at: now.toISOString(), endedReason: null }),
          ev('CallStatusChanged', { callId: id, orgId, status: 'in-progress', at: now.toISOString(), endedReason: null }),
          d.event,
          ev('RecordingUploaded', { callId: id, attempt: 1, storagePath, bytes: 480_044, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav', durationSeconds: 30, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null }),
          ev('UrlSigned', { callId: id, storagePath, url: `http://localhost:3000/recordings/${storagePath}?expires=1&sig=x`, expiresAt: now.toISOString(), by: 'system:pipeline' }),
          ev('RecordingAccessed', { callId: id, userId: 'u1', action: 'download', ip: '198.51.100.7', userAgent: 'Mozilla/5.0 (bench)' }),
        ]);
      }),
    );
  }
}

/**
 * The cost of sealed read models on a rebuild of call_logs: the same log (about 20,000 events of realistic
 * calls) replayed by the projector with sealing (personal columns sealed with the calls' keys, a fresh keyring
 * each run: cold key cache, one lookup per batch; blind search tokens), the same with every key already in the
 * keyring's cache (as when the encrypting store shares the keyring and has just opened the page), and by one
 * built without a keyring (plaintext columns, unblinded words), alternated in two rounds in the same run; the
 * second round is reported.
 */
export async function benchPrivacyRebuild(n = Number(process.env.BENCH_PRIVACY_REBUILD_EVENTS || 20_000)) {
  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  for (const kind of kinds) {
    // PGlite (one connection, slower) gets half the log, to stay within a couple of minutes in all.
    const calls = Math.ceil((kind === 'pglite' ? n / 2 : n) / 6);
    console.log(`\ncall_logs rebuild with and without sealing on ${kind} (${fmt(calls * 6)} events: ${fmt(calls)} calls of 6, ~1 KB transcript each)`);
    const b = await openBenchDb(kind);
    try {
      const store = createPostgresEventStore(b.database);
      await grow(store, calls);
      const master = randomBytes(32);
      // A first sealed rebuild creates the calls' keys (in the service the encrypting store does that on append).
      await rebuildProjection(b.database.db, store, createCallLogsProjector(createKeyring(b.database, master)), { batchSize: 2000 });
      const callIds = (await b.database.db.selectFrom('call_logs').select('id').execute()).map((r) => r.id);
      /** A keyring whose cache already holds every call's keys, as when the encrypting store has just opened the same page. */
      const warmKeyring = async () => {
        const keyring = createKeyring(b.database, master, { cacheMs: 600_000 });
        for (let i = 0; i < callIds.length; i += 1000) await keyring.lookup(callIds.slice(i, i + 1000));
        return keyring;
      };
      const rebuild = async (sealing: boolean | 'warm') => {
        const projector = createCallLogsProjector(sealing === 'warm' ? await warmKeyring() : sealing ? createKeyring(b.database, master) : undefined);
        const r = await rebuildProjection(b.database.db, store, projector, { batchSize: 2000 });
        return { rate: (r.events / r.ms) * 1000, events: r.events };
      };
      let last = { off: { rate: 0, events: 0 }, on: { rate: 0, events: 0 }, warm: { rate: 0, events: 0 } };
      const rounds: string[] = [];
      for (let round = 0; round < 2; round++) {
        last = { off: await rebuild(false), on: await rebuild(true), warm: await rebuild('warm') };
        rounds.push([last.off, last.on, last.warm].map((r) => fmt(r.rate)).join(' / '));
      }
      row('rebuild call_logs, plaintext (projector without keyring)', `${fmt(last.off.rate)} ev/s`, `${fmt(last.off.events)} handled events`);
      row('rebuild call_logs, sealed + blind index (cold keys)', `${fmt(last.on.rate)} ev/s`, `${(last.on.rate / last.off.rate).toFixed(2)}x plaintext`);
      row('rebuild call_logs, sealed + blind index (keys cached)', `${fmt(last.warm.rate)} ev/s`, `${(last.warm.rate / last.off.rate).toFixed(2)}x plaintext`);
      row('  rounds plaintext / cold / cached', rounds.join('; '));
      await store.close();
    } finally {
      await b.close();
    }
  }
}
