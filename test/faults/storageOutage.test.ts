import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startFakeSupabaseStorage } from '../fakes/supabaseStorage.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { callLog, fakeClock, freshDataDir, history, report, settle, startOn, withDb } from '../pipeline/support.ts';
import { backends } from '../support/databases.ts';

// Storage is down for a stretch that spans two retries. Time comes from a fake clock: every retry is due
// exactly on the schedule (5, then 10 minutes), nothing is attempted early, and every recording is stored
// once, after recovery.
const KEY = 'srk-outage-0123456789';
const CALLS = 8;

for (const backend of await backends()) {
  const test = suite(`storage unavailable for a stretch [${backend.name}]`);

  test('retries follow the schedule and every recording is stored after recovery', async () => {
    const rec = await startRecordingServer();
    const supa = await startFakeSupabaseStorage({ serviceRoleKey: KEY, bucket: 'call-recordings' });
    const clock = fakeClock('2026-11-25T09:00:00.000Z');
    try {
      await withDb(backend, async (db) => {
        const s = await startOn(db, { DATA_DIR: freshDataDir(), STORAGE: 'supabase', SUPABASE_URL: supa.url, SUPABASE_SERVICE_ROLE_KEY: KEY }, { clock: clock.now, background: false });
        try {
          supa.setDown(true); // connections dropped: the worst kind of outage
          const ids: string[] = [];
          for (let i = 0; i < CALLS; i++) {
            const { body, callId } = report(`${rec.url}/rec/outage-${i}.wav?seconds=2`);
            assert.is((await s.post('/webhooks/vapi', body)).status, 200);
            ids.push(callId);
          }
          await settle(s);
          for (const id of ids) {
            const row = (await callLog(s, id))!;
            assert.is(row.recording_status, 'retry_scheduled');
            assert.is(new Date(row.recording_next_retry_at!).toISOString(), '2026-11-25T09:05:00.000Z');
          }
          // Four minutes later nothing is due: nothing is tried.
          clock.advanceMinutes(4);
          const before = rec.requests.length;
          await settle(s);
          assert.is(rec.requests.length, before, 'no attempt before the retry is due');
          // Due at 09:05, storage still down: the second retry is scheduled 10 minutes later.
          clock.advanceMinutes(1);
          await settle(s);
          for (const id of ids) {
            const row = (await callLog(s, id))!;
            assert.is(row.recording_status, 'retry_scheduled');
            assert.is(row.recording_attempts, 2);
            assert.is(new Date(row.recording_next_retry_at!).toISOString(), '2026-11-25T09:15:00.000Z');
          }
          supa.setDown(false);
          clock.advanceMinutes(10);
          await settle(s);
          for (const id of ids) {
            const row = (await callLog(s, id))!;
            assert.is(row.recording_status, 'uploaded', `${id}: ${row.recording_error}`);
            assert.is(row.recording_attempts, 3);
            const types = (await history(s, id)).map((e) => e.type);
            assert.equal(types, ['CallEnded', 'UploadFailed', 'UploadRetryScheduled', 'UploadFailed', 'UploadRetryScheduled', 'RecordingUploaded', 'UrlSigned']);
          }
          assert.is(supa.objects.size, CALLS);
        } finally {
          await s.stop();
        }
      });
    } finally {
      await supa.close();
      await rec.close();
    }
  });

  test.run();
}
