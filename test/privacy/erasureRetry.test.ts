import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { startFakeSupabaseStorage } from '../fakes/supabaseStorage.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { callLog, fakeClock, freshDataDir, history, report, settle, startOn, withDb } from '../pipeline/support.ts';
import { backends } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

/**
 * Erasure when things go wrong: storage is down when a call is erased (the step is recorded as failed, retried
 * on schedule by the erasure process, and completes after recovery), and a call erased while the pipeline is
 * uploading its recording (the late upload is removed, never recorded).
 */
const KEY = 'srk-erasure-0123456789';
const JWT_SECRET = 'erasure-retry-jwt-secret-0123456789abcdef';

async function erase(url: string, callId: string, reason: string, now: Date) {
  const token = await signToken({ secret: JWT_SECRET, orgId: 'default', userId: 'admin-1', role: 'admin', now });
  const res = await fetch(`${url}/api/calls/${callId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason }) });
  return { status: res.status, body: (await res.json()) as any };
}

for (const backend of await backends()) {
  const test = suite(`erasure retries [${backend.name}]`);

  test('storage down during an erasure: recorded, retried on schedule, completed after recovery', async () => {
    const rec = await startRecordingServer();
    const supa = await startFakeSupabaseStorage({ serviceRoleKey: KEY, bucket: 'call-recordings' });
    const clock = fakeClock('2026-11-25T09:00:00.000Z');
    try {
      await withDb(backend, async (db) => {
        const s = await startOn(
          db,
          { DATA_DIR: freshDataDir(), STORAGE: 'supabase', SUPABASE_URL: supa.url, SUPABASE_SERVICE_ROLE_KEY: KEY, AUTH_JWT_SECRET: JWT_SECRET },
          { clock: clock.now, background: false },
        );
        try {
          const { body, callId } = report(`${rec.url}/rec/erase-outage.wav?seconds=2`);
          assert.is((await s.post('/webhooks/vapi', body)).status, 200);
          await settle(s);
          const path = (await callLog(s, callId))!.recording_storage_path!;
          assert.ok(supa.objects.has(path));

          supa.setDown(true);
          const first = await erase(s.url, callId, 'caller asked', clock.now());
          assert.is(first.status, 202, JSON.stringify(first.body));
          assert.equal([first.body.erased, first.body.completed, first.body.retryAt, first.body.vapi], [true, false, '2026-11-25T09:05:00.000Z', 'not_configured']);
          const failed = (await history(s, callId)).filter((e) => e.type === 'ErasureStepFailed');
          assert.is(failed.length, 1);
          assert.equal([(failed[0]!.data as any).step, (failed[0]!.data as any).code, (failed[0]!.data as any).attempt], ['storage', 'storage_unavailable', 1]);
          assert.ok(supa.objects.has(path), 'the object is still there while storage is down');
          // The read model already shows the call erased: nothing personal is served meanwhile.
          const row = (await callLog(s, callId))!;
          assert.equal([row.recording_status, row.transcript, row.customer_number], ['erased', null, null]);

          // Not before its time; then again while still down (the next delay is 10 minutes), then after recovery.
          await s.runner.catchUp();
          clock.advanceMinutes(4);
          assert.is(await s.erasure.tick(), 0);
          clock.advanceMinutes(1);
          assert.is(await s.erasure.tick(), 1);
          assert.is((await history(s, callId)).filter((e) => e.type === 'ErasureStepFailed').length, 2);
          await s.runner.catchUp();
          supa.setDown(false);
          clock.advanceMinutes(10);
          assert.is(await s.erasure.tick(), 1);
          assert.not.ok(supa.objects.has(path), 'the object is deleted after recovery');
          const events = await history(s, callId);
          const completed = events.filter((e) => e.type === 'ErasureCompleted');
          assert.is(completed.length, 1);
          assert.is((completed[0]!.data as any).objectsDeleted, 1);
          assert.ok((completed[0]!.data as any).eventsRewritten + (completed[0]!.data as any).keysDestroyed >= 1, 'what the failed attempts did is counted');
          await s.runner.catchUp();
          assert.is(await s.erasure.tick(), 0, 'nothing left to do');
          const again = await erase(s.url, callId, 'again', clock.now());
          assert.equal([again.status, again.body.completed, again.body.alreadyErased, again.body.reason], [200, true, true, 'caller asked']);
        } finally {
          await s.stop();
        }
      });
    } finally {
      await supa.close();
      await rec.close();
    }
  });

  test('a call erased while its recording is being uploaded: the late upload is removed and never recorded', async () => {
    const rec = await startRecordingServer();
    try {
      await withDb(backend, async (db) => {
        const dataDir = freshDataDir();
        const s = await startOn(db, { DATA_DIR: dataDir, AUTH_JWT_SECRET: JWT_SECRET }, { background: false });
        try {
          const { body, callId } = report(`${rec.url}/rec/erase-race.wav?seconds=10&paceMs=40`);
          assert.is((await s.post('/webhooks/vapi', body)).status, 200);
          await s.runner.catchUp();
          const running = s.pipeline.runDue();
          await eventually('download started', async () => (rec.requests.some((r) => r.path.startsWith('/rec/erase-race.wav')) ? true : undefined));
          const erased = await erase(s.url, callId, 'caller asked', new Date());
          assert.is(erased.status, 200);
          await running;
          await s.runner.catchUp();
          const types = (await history(s, callId)).map((e) => e.type);
          assert.not.ok(types.includes('RecordingUploaded'), types.join(', '));
          const files = await readdir(join(dataDir, 'recordings'), { recursive: true }).catch(() => [] as string[]);
          assert.not.ok(files.some((f) => String(f).includes(callId)), `no object of the call: ${files.join(', ')}`);
          assert.is((await callLog(s, callId))!.recording_status, 'erased');
          assert.is(await s.pipeline.runDue(), 0, 'the pipeline leaves an erased call alone');
        } finally {
          await s.stop();
        }
      });
    } finally {
      await rec.close();
    }
  });

  test("the background erasure process asks Vapi to delete its copy by itself after the request", async () => {
    const vapi = await startFakeVapiApi({ apiKey: 'vapi-bg-key' });
    try {
      await withDb(backend, async (db) => {
        const s = await startOn(db, { DATA_DIR: freshDataDir(), AUTH_JWT_SECRET: JWT_SECRET, VAPI_API_URL: vapi.url, VAPI_API_KEY: 'vapi-bg-key' });
        try {
          const { body, callId } = report(null, 'end-of-call-report.no-recording');
          vapi.recordings.set(callId, 'http://127.0.0.1:9/never-fetched.wav');
          assert.is((await s.post('/webhooks/vapi', body)).status, 200);
          await eventually('call projected', async () => ((await callLog(s, callId)) ? true : undefined));
          const erased = await erase(s.url, callId, 'caller asked', new Date());
          assert.equal([erased.status, erased.body.completed, erased.body.vapi], [200, true, 'pending']);
          await eventually('Vapi asked by the background process', async () => (vapi.deletedCallData.includes(callId) ? true : undefined), { timeoutMs: 20_000 });
          await eventually('VapiCallDataDeleted recorded', async () => ((await history(s, callId)).some((e) => e.type === 'VapiCallDataDeleted') ? true : undefined));
        } finally {
          await s.stop();
        }
      });
    } finally {
      await vapi.close();
    }
  });

  test.run();
}
