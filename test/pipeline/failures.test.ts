import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventData } from '../../src/events/catalog.ts';
import { startRecordingServer, type RecordingServer } from '../fakes/recordingServer.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { pgliteBackend, type TestDb } from '../support/databases.ts';
import { callLog, fakeClock, freshDataDir, history, report, settle, startOn, types } from './support.ts';

/** Failure handling with a fake clock: nothing waits for real minutes. */
const test = suite<{ db: TestDb; rec: RecordingServer }>('recording pipeline, failures and retries');
test.before(async (ctx) => {
  ctx.db = await pgliteBackend.open();
  ctx.rec = await startRecordingServer();
});
test.after(async (ctx) => {
  await ctx.rec.close();
  await ctx.db.close();
});

const dataDir = freshDataDir();

test('500 twice, then success: retries 5 then 10 minutes later, dueAt exact', async ({ db, rec }) => {
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir }, { clock: clock.now, background: false });
  try {
    const { body, callId } = report(`${rec.url}/rec/${'flaky'}.wav?seconds=2&c=1`);
    rec.failNext('/rec/flaky.wav', 2, 500);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    const t0 = clock.now().getTime();
    await settle(s);

    let row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'retry_scheduled');
    assert.is(row.recording_attempts, 1);
    assert.is(row.recording_error_code, 'recording_http_error');
    assert.is(new Date(row.recording_next_retry_at!).getTime(), t0 + 5 * 60_000);

    // not due yet: nothing happens
    clock.advanceMinutes(4);
    await settle(s);
    assert.is((await callLog(s, callId))!.recording_status, 'retry_scheduled');

    clock.advanceMinutes(1);
    const t1 = clock.now().getTime();
    await settle(s);
    row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'retry_scheduled');
    assert.is(row.recording_attempts, 2);
    assert.is(new Date(row.recording_next_retry_at!).getTime(), t1 + 10 * 60_000);

    clock.advanceMinutes(10);
    await settle(s);
    row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'uploaded');
    assert.is(row.recording_attempts, 3);
    assert.is(row.recording_next_retry_at, null);
    assert.is(row.recording_error_code, null);

    const events = await history(s, callId);
    assert.equal(types(events), [
      'CallEnded',
      'UploadFailed', 'UploadRetryScheduled',
      'UploadFailed', 'UploadRetryScheduled',
      'RecordingUploaded', 'UrlSigned',
    ]);
    const failed = events[1]!.data as EventData<'UploadFailed'>;
    assert.equal({ attempt: failed.attempt, step: failed.step, code: failed.code, status: failed.status, retryable: failed.retryable }, {
      attempt: 1, step: 'fetch', code: 'recording_http_error', status: 500, retryable: true,
    });
    assert.equal(events[2]!.data, { callId, attempt: 2, dueAt: new Date(t0 + 5 * 60_000).toISOString(), delayMinutes: 5 });
    assert.equal(events[4]!.data, { callId, attempt: 3, dueAt: new Date(t1 + 10 * 60_000).toISOString(), delayMinutes: 10 });
    assert.is(events[2]!.metadata.causationId, events[1]!.eventId);
    assert.is(events[3]!.metadata.causationId, events[2]!.eventId); // the retry was caused by its schedule
    assert.is((events[5]!.data as EventData<'RecordingUploaded'>).attempt, 3);
    for (const e of events) assert.is(e.metadata.correlationId, events[0]!.metadata.correlationId);
  } finally {
    await s.stop();
  }
});

test('always 500: 3 retries (5, 10, 20 min), then abandoned with a transcript-only fallback', async ({ db, rec }) => {
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir }, { clock: clock.now, background: false });
  try {
    const { body, callId } = report(`${rec.url}/rec/down.wav?fail=503`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s);
    for (const minutes of [5, 10, 20]) {
      const row = (await callLog(s, callId))!;
      assert.is(row.recording_status, 'retry_scheduled');
      assert.is(new Date(row.recording_next_retry_at!).getTime(), clock.now().getTime() + minutes * 60_000);
      clock.advanceMinutes(minutes);
      await settle(s);
    }
    const row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'abandoned');
    assert.is(row.recording_attempts, 4);
    assert.is(row.transcript_only_fallback, true);
    assert.is(row.recording_error_code, 'recording_http_error');
    assert.match(row.recording_error!, /gave up after 4 attempts/);
    assert.is(row.recording_next_retry_at, null);
    const events = await history(s, callId);
    assert.equal(types(events), [
      'CallEnded',
      'UploadFailed', 'UploadRetryScheduled',
      'UploadFailed', 'UploadRetryScheduled',
      'UploadFailed', 'UploadRetryScheduled',
      'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
    ]);
    assert.is((events[8]!.data as EventData<'UploadAbandoned'>).attempts, 4);
    assert.equal(events[9]!.data, { callId, reason: 'recording_abandoned', endedReason: 'customer-ended-call' });
    assert.is(rec.requests.filter((r) => r.path.startsWith('/rec/down.wav')).length, 4);
    // much later: nothing more happens
    clock.advanceMinutes(24 * 60);
    await settle(s);
    assert.is((await history(s, callId)).length, 10);
  } finally {
    await s.stop();
  }
});

test('an HTML page instead of audio is abandoned at once (not retryable)', async ({ db, rec }) => {
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir }, { clock: clock.now, background: false });
  try {
    const { body, callId } = report(`${rec.url}/rec/login.wav?fail=html`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s);
    const events = await history(s, callId);
    assert.equal(types(events), ['CallEnded', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']);
    const failed = events[1]!.data as EventData<'UploadFailed'>;
    assert.is(failed.step, 'validate');
    assert.is(failed.code, 'invalid_audio');
    assert.is(failed.retryable, false);
    assert.match(failed.message, /html/i);
    const row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'abandoned');
    assert.is(row.transcript_only_fallback, true);
    assert.is(row.recording_error_code, 'invalid_audio');
  } finally {
    await s.stop();
  }
});

test('a redirect to 169.254.169.254 is refused (address_not_allowed, not retryable), nothing is fetched there', async ({ db, rec }) => {
  const clock = fakeClock();
  // the host is even allowed by name: the address policy is what refuses it
  const s = await startOn(db, { DATA_DIR: dataDir, RECORDING_ALLOWED_HOSTS: '127.0.0.1,169.254.169.254' }, { clock: clock.now, background: false });
  try {
    const { body, callId } = report(`${rec.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s);
    const events = await history(s, callId);
    assert.equal(types(events), ['CallEnded', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']);
    const failed = events[1]!.data as EventData<'UploadFailed'>;
    assert.is(failed.code, 'address_not_allowed');
    assert.is(failed.retryable, false);
    assert.match(failed.message, /169\.254\.169\.254/);
    assert.is((await callLog(s, callId))!.recording_error_code, 'address_not_allowed');
  } finally {
    await s.stop();
  }
});

test('a host not in RECORDING_ALLOWED_HOSTS is refused without a request', async ({ db, rec }) => {
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir, RECORDING_ALLOWED_HOSTS: 'storage.vapi.ai' }, { clock: clock.now, background: false });
  try {
    const before = rec.requests.length;
    const { body, callId } = report(`${rec.url}/rec/elsewhere.wav?seconds=1`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s);
    assert.is((await callLog(s, callId))!.recording_error_code, 'host_not_allowed');
    assert.is((await callLog(s, callId))!.recording_status, 'abandoned');
    assert.is(rec.requests.length, before);
  } finally {
    await s.stop();
  }
});

test('too large is not retryable; a truncated download and a timeout are', async ({ db, rec }) => {
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir, RECORDING_MAX_BYTES: '10000', RECORDING_DOWNLOAD_TIMEOUT_MS: '300' }, { clock: clock.now, background: false });
  try {
    const big = report(`${rec.url}/rec/big.wav?seconds=5`);
    const cut = report(`${rec.url}/rec/cut.wav?seconds=0.1&fail=truncate`);
    const slow = report(`${rec.url}/rec/slow.wav?seconds=0.1&fail=hang`);
    for (const r of [big, cut, slow]) assert.is((await s.post('/webhooks/vapi', r.body)).status, 200);
    await settle(s);
    const big1 = (await callLog(s, big.callId))!;
    assert.is(big1.recording_status, 'abandoned');
    assert.is(big1.recording_error_code, 'recording_too_large');
    const cut1 = (await callLog(s, cut.callId))!;
    assert.is(cut1.recording_status, 'retry_scheduled');
    assert.is(cut1.recording_error_code, 'download_truncated');
    const slow1 = (await callLog(s, slow.callId))!;
    assert.is(slow1.recording_status, 'retry_scheduled');
    assert.is(slow1.recording_error_code, 'download_timeout');
  } finally {
    await s.stop();
  }
});

test('404 from the Vapi API is retried until retries run out', async ({ db, rec }) => {
  const vapi = await startFakeVapiApi({ apiKey: 'k-404' });
  const clock = fakeClock();
  const s = await startOn(db, { DATA_DIR: dataDir, VAPI_API_URL: vapi.url, VAPI_API_KEY: 'k-404' }, { clock: clock.now, background: false });
  try {
    const { body, callId } = report(`${rec.url}/rec/x.wav?seconds=1`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s); // Vapi does not know the recording yet: 404
    let row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'retry_scheduled');
    assert.is(row.recording_error_code, 'recording_http_error');
    // now it does
    vapi.recordings.set(callId, `${rec.url}/rec/late.wav?seconds=1`);
    clock.advanceMinutes(5);
    await settle(s);
    row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'uploaded');
    assert.is(row.recording_attempts, 2);

    // a call Vapi never has: 4 attempts, then abandoned
    const never = report(`${rec.url}/rec/x.wav?seconds=1`);
    assert.is((await s.post('/webhooks/vapi', never.body)).status, 200);
    await settle(s);
    for (const m of [5, 10, 20]) {
      clock.advanceMinutes(m);
      await settle(s);
    }
    row = (await callLog(s, never.callId))!;
    assert.is(row.recording_status, 'abandoned');
    assert.is(row.recording_attempts, 4);
    assert.is(vapi.requests.filter((r) => r.path === `/call/${never.callId}/mono-recording`).length, 4);
  } finally {
    await s.stop();
    await vapi.close();
  }
});

test('storage unavailable is retried', async ({ db, rec }) => {
  const { startFakeSupabaseStorage } = await import('../fakes/supabaseStorage.ts');
  const supa = await startFakeSupabaseStorage({ serviceRoleKey: 'srk-for-tests-0123', bucket: 'call-recordings' });
  const clock = fakeClock();
  const s = await startOn(
    db,
    { DATA_DIR: dataDir, STORAGE: 'supabase', SUPABASE_URL: supa.url, SUPABASE_SERVICE_ROLE_KEY: 'srk-for-tests-0123' },
    { clock: clock.now, background: false },
  );
  try {
    supa.setDown('503');
    const { body, callId } = report(`${rec.url}/rec/s.wav?seconds=1`);
    assert.is((await s.post('/webhooks/vapi', body)).status, 200);
    await settle(s);
    let row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'retry_scheduled');
    assert.is(row.recording_error_code, 'storage_unavailable');
    assert.match(row.recording_error!, /^upload:/);
    supa.setDown(false);
    clock.advanceMinutes(5);
    await settle(s);
    row = (await callLog(s, callId))!;
    assert.is(row.recording_status, 'uploaded');
    assert.is(supa.objects.size, 1);
  } finally {
    await s.stop();
    await supa.close();
  }
});

test.run();
