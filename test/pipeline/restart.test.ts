import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decideAttemptOutcome, recordingStateOf } from '../../src/commands/recording.ts';
import { callStream, type EventData } from '../../src/events/catalog.ts';
import { createLocalStorage } from '../../src/storage/local.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { backends, pgliteBackend } from '../support/databases.ts';
import { callLog, fakeClock, freshDataDir, history, report, settle, startOn, types, withDb } from './support.ts';
import { eventually } from '../support/eventually.ts';

const test = suite('recording pipeline, restarts and concurrency');
// Opening PGlite costs seconds: the PGlite tests share one database (each uses its own calls and DATA_DIR).
const lite = await pgliteBackend.open();
const shared = { name: 'pglite' as const, open: async () => ({ ...lite, close: async () => {} }) };
test.after(() => lite.close());

async function objectsUnder(root: string): Promise<string[]> {
  const storage = createLocalStorage({ root, publicBaseUrl: 'http://localhost', signingSecret: 'x'.repeat(32) });
  const out: string[] = [];
  for await (const o of storage.list('')) out.push(o.path);
  return out;
}

test('a retry scheduled before a stop runs after a restart on the same database', async () => {
  const rec = await startRecordingServer();
  try {
    await withDb(shared, async (db) => {
      const clock = fakeClock();
      const dataDir = freshDataDir();
      const a = await startOn(db, { DATA_DIR: dataDir }, { clock: clock.now });
      const { body, callId } = report(`${rec.url}/rec/restart.wav?seconds=2`);
      try {
        rec.failNext('/rec/restart.wav', 1, 500);
        assert.is((await a.post('/webhooks/vapi', body)).status, 200);
        await settle(a);
        assert.is((await callLog(a, callId))!.recording_status, 'retry_scheduled');
      } finally {
        await a.stop();
      }
      clock.advanceMinutes(5);
      const b = await startOn(db, { DATA_DIR: dataDir }, { clock: clock.now });
      try {
        // the restarted service finds the due retry by itself
        await eventually('uploaded after restart', async () => (await callLog(b, callId))?.recording_status === 'uploaded');
        assert.equal(types(await history(b, callId)), ['CallEnded', 'UploadFailed', 'UploadRetryScheduled', 'RecordingUploaded', 'UrlSigned']);
      } finally {
        await b.stop();
      }
    });
  } finally {
    await rec.close();
  }
});

test('stopped mid-download (the source drips), restarted: the call completes exactly once', async () => {
  const rec = await startRecordingServer();
  try {
    await withDb(shared, async (db) => {
      const dataDir = freshDataDir();
      const a = await startOn(db, { DATA_DIR: dataDir });
      const { body, callId } = report(`${rec.url}/rec/drip.wav?seconds=3`);
      try {
        rec.failNext('/rec/drip.wav', 1, 'drip');
        assert.is((await a.post('/webhooks/vapi', body)).status, 200);
        await eventually('download started', async () => rec.requests.some((r) => r.path.startsWith('/rec/drip.wav')));
        await new Promise((r) => setTimeout(r, 150)); // a few bytes trickle in
        assert.is(a.pipeline.inFlight(), 1);
      } finally {
        await a.stop(); // aborts the attempt: it records nothing
      }
      const b = await startOn(db, { DATA_DIR: dataDir });
      try {
        assert.equal(types(await history(b, callId)), ['CallEnded']);
        await eventually('uploaded after restart', async () => (await callLog(b, callId))?.recording_status === 'uploaded');
        await settle(b);
        const events = await history(b, callId);
        assert.equal(types(events), ['CallEnded', 'RecordingUploaded', 'UrlSigned']);
        assert.equal(await objectsUnder(join(dataDir, 'recordings')), [(await callLog(b, callId))!.recording_storage_path]);
        // no temp files left behind
        assert.equal(await readdir(join(dataDir, 'tmp', 'pipeline')), []);
      } finally {
        await b.stop();
      }
    });
  } finally {
    await rec.close();
  }
});

test('a worker that read the stream before another finished gets a conflict, never a second upload event', async () => {
  const rec = await startRecordingServer();
  try {
    await withDb(shared, async (db) => {
      const s = await startOn(db, { DATA_DIR: freshDataDir() }, { background: false });
      try {
        const { body, callId } = report(`${rec.url}/rec/once.wav?seconds=1`);
        assert.is((await s.post('/webhooks/vapi', body)).status, 200);
        const stale = recordingStateOf(callId, await history(s, callId)); // read before the work was done
        await settle(s);
        const done = await history(s, callId);
        assert.equal(types(done), ['CallEnded', 'RecordingUploaded', 'UrlSigned']);
        const uploaded = done[1]!.data as EventData<'RecordingUploaded'>;
        const { callId: _c, attempt: _a, ...rest } = uploaded;
        const late = decideAttemptOutcome(stale, 1, stale.ended!.eventId, { ok: true, uploaded: rest, signed: { url: 'http://localhost/x', expiresAt: new Date() } }, {
          now: new Date(),
          retry: { delaysMinutes: [5], maxRetries: 3 },
        });
        const res = await s.store.append(callStream(callId), late, stale.revision);
        assert.is(res.ok, false);
        if (!res.ok) assert.ok(['wrong_expected_revision', 'event_id_conflict'].includes(res.error.code), res.error.code);
        // the same decision replayed at the right revision: same event ids, refused as conflicting content
        const replay = await s.store.append(callStream(callId), late, 'any');
        assert.is(replay.ok, false);
        assert.equal(types(await history(s, callId)), ['CallEnded', 'RecordingUploaded', 'UrlSigned']);
        assert.is(rec.requests.filter((r) => r.path.startsWith('/rec/once.wav')).length, 1);
      } finally {
        await s.stop();
      }
    });
  } finally {
    await rec.close();
  }
});

const postgres = (await backends()).find((b) => b.name === 'postgres');
if (postgres) {
  test('two service instances on one Postgres database never upload a call twice', async () => {
    const rec = await startRecordingServer();
    try {
      await withDb(postgres, async (db) => {
        const dataDir = freshDataDir();
        const env = { DATA_DIR: dataDir, RECORDING_CONCURRENCY: '4' };
        const a = await startOn(db, { ...env, INSTANCE_ID: 'instance-a' });
        const b = await startOn(db, { ...env, INSTANCE_ID: 'instance-b' });
        try {
          const calls = Array.from({ length: 30 }, (_, i) => report(`${rec.url}/rec/pair-${i}.wav?seconds=1`));
          await Promise.all(calls.map((c, i) => (i % 2 ? a : b).post('/webhooks/vapi', c.body).then((r) => assert.is(r.status, 200))));
          // both drive their pipelines as hard as they can
          await Promise.all([a.pipeline.runDue(), b.pipeline.runDue()]);
          await eventually('all uploaded', async () => {
            const rows = await a.database.db.selectFrom('call_logs').select(['id', 'recording_status']).where('id', 'in', calls.map((c) => c.callId)).execute();
            return rows.length === calls.length && rows.every((r) => r.recording_status === 'uploaded');
          }, { timeoutMs: 30_000 });
          for (const [i, c] of calls.entries()) {
            assert.equal(types(await history(a, c.callId)), ['CallEnded', 'RecordingUploaded', 'UrlSigned'], c.callId);
            assert.is(rec.requests.filter((r) => r.path.startsWith(`/rec/pair-${i}.wav`)).length, 1, `downloads of call ${i}`);
          }
          assert.is((await objectsUnder(join(dataDir, 'recordings'))).length, calls.length);
        } finally {
          await a.stop();
          await b.stop();
        }
      });
    } finally {
      await rec.close();
    }
  });
}

test.run();
