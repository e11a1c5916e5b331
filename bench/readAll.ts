import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { decideCallEnded } from '../src/commands/callIngest.ts';
import { createPostgresEventStore } from '../src/events/postgres/store.ts';
import { createCallLogsProjector } from '../src/projections/callLogs/projector.ts';
import { createKeyring } from '../src/privacy/keyring.ts';
import { randomBytes } from 'node:crypto';
import { rebuildProjection } from '../src/projections/rebuild.ts';
import { fmt, openBenchDb, postgresAvailable, row } from './support.ts';

const transcript = 'AI: Thank you for calling Harbor Dental, how can I help?\nUser: I would like to move my appointment.\n'.repeat(8);

/** Read-all in pages of 1000 and the call_logs rebuild rate, beside plain paged SELECTs of the same rows. */
export async function benchReadAll(n = Number(process.env.BENCH_READ_EVENTS || 100_000)) {
  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  for (const kind of kinds) {
    const count = kind === 'pglite' ? Math.min(n, 50_000) : n;
    console.log(`\nread-all and rebuild on ${kind} (${fmt(count)} events: 6 per call, one ~1 KB report each)`);
    const b = await openBenchDb(kind);
    try {
      const store = createPostgresEventStore(b.database);
      const now = new Date('2026-11-20T10:00:00Z');
      // A realistic mix: per call two status updates, the report (with a ~800-character transcript), the
      // upload, the signed URL and one download: six events, one of them carrying text to index.
      const perCall = 6;
      const calls = Math.ceil(count / perCall);
      for (let i = 0; i < calls; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, calls - i) }, (_, k) => {
            const id = `bench-${i + k}`;
            const orgId = `org-${k % 5}`;
            const meta = { correlationId: randomUUID(), causationId: null, orgId, recordedAt: now.toISOString(), actor: 'bench' };
            const d = decideCallEnded(
              { callId: id, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: 'a1', phoneNumberId: 'p1', customerNumber: '+15550100', startedAt: now.toISOString(), endedAt: now.toISOString(), durationSeconds: 61, endedReason: 'customer-ended-call', transcript, summary: 'Moved appointment.', cost: 0.12, recordingUrl: `https://storage.vapi.ai/${id}.wav`, stereoRecordingUrl: null, messageAt: now.toISOString() },
              { orgId, correlationId: meta.correlationId, now },
            );
            const ev = (type: string, data: object) => ({ eventId: randomUUID(), type, data, metadata: meta });
            return store.append(d.streamId, [
              ev('CallStatusChanged', { callId: id, orgId, status: 'ringing', at: now.toISOString(), endedReason: null }),
              ev('CallStatusChanged', { callId: id, orgId, status: 'in-progress', at: now.toISOString(), endedReason: null }),
              d.event,
              ev('RecordingUploaded', { callId: id, attempt: 1, storagePath: `${orgId}/2026/11/20/${id}.wav`, bytes: 480_044, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav', durationSeconds: 30, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null }),
              ev('UrlSigned', { callId: id, storagePath: `${orgId}/2026/11/20/${id}.wav`, url: `http://localhost:3000/recordings/${id}.wav?expires=1&sig=x`, expiresAt: now.toISOString(), by: 'system:pipeline' }),
              ev('RecordingAccessed', { callId: id, userId: 'u1', action: 'download', ip: '127.0.0.1', userAgent: 'bench' }),
            ]);
          }),
        );
      }
      // Baseline: plain keyset-paged SELECT of the same rows.
      let t0 = performance.now();
      let seen = 0;
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: b.url });
        await client.connect();
        let after = 0;
        for (;;) {
          const r = await client.query('select position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at from callrec.events where position > $1 order by position limit 1000', [after]);
          seen += r.rows.length;
          if (r.rows.length < 1000) break;
          after = Number(r.rows[r.rows.length - 1].position);
        }
        await client.end();
      } else {
        let after = 0;
        for (;;) {
          const r = await b.database.db.selectFrom('events').selectAll().where('position', '>', after).orderBy('position').limit(1000).execute();
          seen += r.length;
          if (r.length < 1000) break;
          after = Number(r[r.length - 1]!.position);
        }
      }
      const baseRate = (seen / (performance.now() - t0)) * 1000;
      row('baseline: plain paged SELECT, pages of 1000', `${fmt(baseRate)} ev/s`);

      t0 = performance.now();
      let got = 0;
      let after = 0;
      for (;;) {
        const page = await store.readAll({ after, limit: 1000 });
        got += page.length;
        if (page.length < 1000) break;
        after = page[page.length - 1]!.position;
      }
      const readRate = (got / (performance.now() - t0)) * 1000;
      row('callrec readAll, pages of 1000', `${fmt(readRate)} ev/s`, `${(readRate / baseRate).toFixed(2)}x baseline; ${got === calls * perCall ? 'all read' : `READ ${got} OF ${calls * perCall}`}`);

      const r = await rebuildProjection(b.database.db, store, createCallLogsProjector(createKeyring(b.database, randomBytes(32))), { batchSize: 2000 });
      const rebuildRate = (r.events / r.ms) * 1000;
      row('callrec rebuild of call_logs (new table, replay, swap)', `${fmt(rebuildRate)} ev/s`, `${(rebuildRate / baseRate).toFixed(2)}x baseline`);
      await store.close();
    } finally {
      await b.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchReadAll();
