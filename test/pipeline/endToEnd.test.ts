import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectAudioFile } from '../../src/audio/inspect.ts';
import type { EventData } from '../../src/events/catalog.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { startFakeSupabaseStorage } from '../fakes/supabaseStorage.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { backends, pgliteBackend } from '../support/databases.ts';
import { callLog, freshDataDir, history, report, sha256, startOn, types, withDb } from './support.ts';
import { eventually } from '../support/eventually.ts';

const test = suite('recording pipeline, end to end');
// Opening PGlite costs seconds: the PGlite tests share one database (each uses its own call ids).
const lite = await pgliteBackend.open();
const shared = { name: 'pglite' as const, open: async () => ({ ...lite, close: async () => {} }) };
test.after(() => lite.close());

for (const backend of (await backends()).map((b) => (b.name === 'pglite' ? shared : b))) {
  test(`[${backend.name}] webhook → object in storage → signed URL serves the same bytes → call_logs complete`, async () => {
    const rec = await startRecordingServer();
    try {
      await withDb(backend, async (db) => {
        const dataDir = freshDataDir();
        const s = await startOn(db, { DATA_DIR: dataDir });
        try {
          const { body, callId } = report(`${rec.url}/rec/e2e.wav?seconds=30`);
          const res = await s.post('/webhooks/vapi', body);
          assert.is(res.status, 200);
          // the background pipeline does the work by itself
          const row = await eventually('uploaded', async () => {
            const r = await callLog(s, callId);
            return r?.recording_status === 'uploaded' && r.recording_signed_url ? r : undefined;
          });

          const source = Buffer.from(await (await fetch(`${rec.url}/rec/e2e.wav?seconds=30`)).arrayBuffer());
          assert.is(source.length, 44 + 30 * 8000 * 2);
          // the object on disk
          const stored = await readFile(join(dataDir, 'recordings', ...row.recording_storage_path!.split('/')));
          assert.is(sha256(stored), sha256(source));
          // the signed URL over HTTP
          const signed = await fetch(row.recording_signed_url!);
          assert.is(signed.status, 200);
          assert.is(signed.headers.get('content-type'), 'audio/wav');
          assert.is(sha256(Buffer.from(await signed.arrayBuffer())), sha256(source));
          // a tampered signature is refused
          const tampered = new URL(row.recording_signed_url!);
          tampered.searchParams.set('sig', 'x'.repeat(43));
          assert.is((await fetch(tampered)).status, 403);

          assert.is(row.recording_storage_path, `default/2026/05/12/${callId}.wav`);
          assert.is(Number(row.recording_bytes), source.length);
          assert.is(row.recording_sha256, sha256(source));
          assert.is(row.recording_duration_seconds, 30);
          assert.is(row.recording_format, 'wav');
          assert.is(row.recording_content_type, 'audio/wav');
          assert.is(row.recording_channels, 1);
          assert.is(row.recording_attempts, 1);
          assert.ok(row.recording_uploaded_at);
          assert.ok(row.recording_signed_url_expires_at);
          const expiresIn = (new Date(row.recording_signed_url_expires_at!).getTime() - Date.now()) / 1000;
          assert.ok(expiresIn > 3500 && expiresIn <= 3600, `expires in ${expiresIn}s`);
          assert.is(row.transcript_only_fallback, false);

          const events = await history(s, callId);
          assert.equal(types(events), ['CallEnded', 'RecordingUploaded', 'UrlSigned']);
          const [ended, uploaded, urlSigned] = events as [any, any, any];
          assert.is(uploaded.metadata.correlationId, ended.metadata.correlationId);
          assert.is(uploaded.metadata.causationId, ended.eventId);
          assert.is(urlSigned.metadata.causationId, uploaded.eventId);
          assert.is(uploaded.metadata.actor, 'system:pipeline');
          assert.is(uploaded.metadata.orgId, 'default');
          assert.is((urlSigned.data as EventData<'UrlSigned'>).by, 'system:pipeline');
          assert.is((uploaded.data as EventData<'RecordingUploaded'>).source, 'payload-url');
          assert.is(rec.requests.filter((r) => r.path.startsWith('/rec/e2e.wav')).length, 2); // pipeline + our check

          // nothing more to do: the pipeline does not touch the call again
          assert.is(await s.pipeline.runDue(), 0);
        } finally {
          await s.stop();
        }
      });
    } finally {
      await rec.close();
    }
  });
}

test('Vapi API mode: GET /call/:id/mono-recording with Bearer, redirect to the recording, credentials not forwarded', async () => {
  const rec = await startRecordingServer();
  const vapi = await startFakeVapiApi({ apiKey: 'vapi-test-key' });
  try {
    await withDb(shared, async (db) => {
      const s = await startOn(db, { DATA_DIR: freshDataDir(), VAPI_API_URL: vapi.url, VAPI_API_KEY: 'vapi-test-key' }, { background: false });
      try {
        // the payload URL must not be used in this mode: it points at a path that fails
        const { body, callId } = report(`${rec.url}/rec/payload.wav?fail=500`);
        vapi.recordings.set(callId, `${rec.url}/rec/private.wav?seconds=5`);
        assert.is((await s.post('/webhooks/vapi', body)).status, 200);
        await s.runner.catchUp();
        await s.pipeline.runDue();
        const row = (await callLog(s, callId))!;
        assert.is(row.recording_status, 'uploaded');
        assert.is(row.recording_duration_seconds, 5);
        const call = vapi.requests.find((r) => r.path === `/call/${callId}/mono-recording`);
        assert.ok(call, 'the Vapi API was asked');
        assert.is(call!.authorized, true);
        assert.is(rec.requests.filter((r) => r.path.startsWith('/rec/payload')).length, 0);
        const fetched = rec.requests.filter((r) => r.path.startsWith('/rec/private.wav'));
        assert.is(fetched.length, 1);
        assert.is(fetched[0]!.headers.authorization, undefined);
        const uploaded = (await history(s, callId)).find((e) => e.type === 'RecordingUploaded')!;
        assert.is((uploaded.data as EventData<'RecordingUploaded'>).source, 'vapi-api');
      } finally {
        await s.stop();
      }
    });
  } finally {
    await vapi.close();
    await rec.close();
  }
});

test('Supabase storage mode: the object lands in the bucket and the signed URL serves it', async () => {
  const rec = await startRecordingServer();
  const supa = await startFakeSupabaseStorage({ serviceRoleKey: 'service-role-key-for-tests', bucket: 'call-recordings' });
  try {
    await withDb(shared, async (db) => {
      const s = await startOn(
        db,
        { DATA_DIR: freshDataDir(), STORAGE: 'supabase', SUPABASE_URL: supa.url, SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-tests', SUPABASE_BUCKET: 'call-recordings' },
        { background: false },
      );
      try {
        const { body, callId } = report(`${rec.url}/rec/supa.wav?seconds=3`);
        assert.is((await s.post('/webhooks/vapi', body)).status, 200);
        await s.runner.catchUp();
        await s.pipeline.runDue();
        const row = (await callLog(s, callId))!;
        assert.is(row.recording_status, 'uploaded');
        const object = supa.objects.get(row.recording_storage_path!);
        assert.ok(object, 'object in the bucket');
        assert.is(sha256(object!.bytes), row.recording_sha256);
        const signed = await fetch(row.recording_signed_url!);
        assert.is(signed.status, 200);
        assert.is(sha256(Buffer.from(await signed.arrayBuffer())), row.recording_sha256);
      } finally {
        await s.stop();
      }
    });
  } finally {
    await supa.close();
    await rec.close();
  }
});

test('no recording URL: transcript-only fallback at once, nothing fetched', async () => {
  const rec = await startRecordingServer();
  try {
    await withDb(shared, async (db) => {
      const s = await startOn(db, { DATA_DIR: freshDataDir() }, { background: false });
      try {
        const { body, callId } = report(null, 'end-of-call-report.no-recording');
        assert.is((await s.post('/webhooks/vapi', body)).status, 200);
        await s.runner.catchUp();
        assert.is(await s.pipeline.runDue(), 1);
        const events = await history(s, callId);
        assert.equal(types(events), ['CallEnded', 'TranscriptOnlyFallback']);
        assert.equal(events[1]!.data, { callId, reason: 'no_recording_url', endedReason: 'customer-busy' });
        const row = (await callLog(s, callId))!;
        assert.is(row.recording_status, 'none');
        assert.is(row.transcript_only_fallback, true);
        assert.is(row.recording_error, 'no_recording_url');
        // done: not picked again
        assert.is(await s.pipeline.runDue(), 0);
        assert.is(rec.requests.length, 0);
      } finally {
        await s.stop();
      }
    });
  } finally {
    await rec.close();
  }
});

test('RECORDING_FORMAT=mp3: converted, ratio recorded, the stored object is a valid MP3', async () => {
  const rec = await startRecordingServer();
  try {
    await withDb(shared, async (db) => {
      const dataDir = freshDataDir();
      const s = await startOn(db, { DATA_DIR: dataDir, RECORDING_FORMAT: 'mp3' }, { background: false });
      try {
        const { body, callId } = report(`${rec.url}/rec/conv.wav?seconds=10`);
        assert.is((await s.post('/webhooks/vapi', body)).status, 200);
        await s.runner.catchUp();
        await s.pipeline.runDue();
        const row = (await callLog(s, callId))!;
        assert.is(row.recording_status, 'uploaded');
        assert.is(row.recording_format, 'mp3');
        assert.is(row.recording_content_type, 'audio/mpeg');
        assert.ok(row.recording_storage_path!.endsWith(`${callId}.mp3`));
        const uploaded = (await history(s, callId)).find((e) => e.type === 'RecordingUploaded')!.data as EventData<'RecordingUploaded'>;
        assert.is(uploaded.originalBytes, 44 + 10 * 8000 * 2);
        assert.ok(uploaded.compressionRatio! > 3, `ratio ${uploaded.compressionRatio}`);
        assert.ok(Math.abs(uploaded.compressionRatio! - uploaded.originalBytes! / uploaded.bytes) < 0.01);
        const file = join(dataDir, 'recordings', ...row.recording_storage_path!.split('/'));
        const info = await inspectAudioFile(file);
        assert.ok(info.ok, JSON.stringify(info));
        if (info.ok) {
          assert.is(info.format, 'mp3');
          assert.ok(Math.abs(info.durationSeconds - 10) < 0.2, `duration ${info.durationSeconds}`);
          assert.is(info.bytes, uploaded.bytes);
        }
        assert.is(sha256(await readFile(file)), uploaded.sha256);
      } finally {
        await s.stop();
      }
    });
  } finally {
    await rec.close();
  }
});

test.run();
