import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CALL_LOG_EVENTS, evolveCallLog, type CallLogRow } from '../../src/projections/callLogs/evolve.ts';
import { evolveCallErasure, type CallErasureRow } from '../../src/projections/erasures/evolve.ts';
import type { RecordedEvent } from '../../src/events/port.ts';

/** The read models of erasure and holds, pure: call_logs and call_erasures folded from events, no database. */
const test = suite('erasure read models (pure)');

const callId = 'call-rm-1';
let pos = 0;
function ev(type: string, data: Record<string, unknown>, actor = 'vapi'): RecordedEvent {
  pos++;
  return {
    eventId: `e${pos}`,
    type,
    data: { callId, ...data },
    metadata: { correlationId: 'c', causationId: null, orgId: 'org-a', recordedAt: `2026-06-01T10:00:0${pos % 10}.000Z`, actor },
    streamId: `call-${callId}`,
    revision: pos - 1,
    position: pos,
    storedAt: new Date(0),
  };
}
const ended = (recordingUrl: string | null = 'https://storage.vapi.ai/a.wav') =>
  ev('CallEnded', {
    orgId: 'org-a', vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: 'asst', phoneNumberId: null, customerNumber: '+15550100',
    startedAt: '2026-05-12T14:03:06.905Z', endedAt: '2026-05-12T14:04:06.905Z', durationSeconds: 60, endedReason: 'customer-ended-call',
    transcript: 'my prescription', summary: 'prescription', cost: 0.12, recordingUrl, stereoRecordingUrl: null, messageAt: null,
  });
const uploaded = () => ev('RecordingUploaded', { attempt: 1, storagePath: 'org-a/2026/05/12/call-rm-1.wav', bytes: 1000, sha256: 'a'.repeat(64), format: 'wav', codec: null, contentType: 'audio/wav', durationSeconds: 60, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null }, 'system:pipeline');
const signed = () => ev('UrlSigned', { storagePath: 'org-a/2026/05/12/call-rm-1.wav', url: 'http://127.0.0.1/r?sig=x', expiresAt: '2026-06-01T11:00:00.000Z', by: 'system:pipeline' }, 'system:pipeline');
const erased = () => ev('CallErased', { orgId: 'org-a', reason: 'caller asked' }, 'user:admin-1');
const fold = (events: RecordedEvent[]) => events.reduce<CallLogRow | undefined>((r, e) => evolveCallLog(r, e), undefined)!;

test('CallErased, CallHeld and CallReleased are call_logs events', () => {
  for (const t of ['CallErased', 'CallHeld', 'CallReleased']) assert.ok(CALL_LOG_EVENTS.has(t), t);
});

test('CallErased: erased_at/by/reason set, personal columns and the signed URL emptied, the facts kept, recording erased', () => {
  pos = 0;
  const before = fold([ended(), uploaded(), signed()]);
  const e = erased();
  const r = evolveCallLog(before, e)!;
  assert.equal([r.erased_at, r.erased_by, r.erase_reason], [e.metadata.recordedAt, 'user:admin-1', 'caller asked']);
  assert.equal([r.transcript, r.summary, r.customer_number, r.recording_source_url, r.recording_stereo_source_url, r.recording_signed_url, r.recording_signed_url_expires_at], [null, null, null, null, null, null, null]);
  assert.is(r.recording_status, 'erased');
  assert.is(r.recording_storage_path, null);
  assert.equal([r.duration_seconds, r.cost, r.ended_reason, r.status, r.started_at, r.recording_bytes], [60, 0.12, 'customer-ended-call', 'ended', before.started_at, 1000]);
});

test('CallErased of a call without a recording: its status stays none', () => {
  pos = 0;
  assert.is(fold([ended(null), erased()]).recording_status, 'none');
});

test('after an erasure nothing brings data back: a late upload, URL or redelivered report changes no personal column', () => {
  pos = 0;
  const r = fold([ended(), erased(), uploaded(), signed(), ended()]);
  assert.equal([r.transcript, r.customer_number, r.recording_signed_url, r.recording_status, r.recording_storage_path], [null, null, null, 'erased', null]);
  assert.is(r.erase_reason, 'caller asked');
  // a second erasure keeps the first one's who/when/why
  const again = evolveCallLog(r, { ...erased(), metadata: { ...erased().metadata, actor: 'user:other' }, data: { callId, orgId: 'org-a', reason: 'again' } })!;
  assert.equal([again.erased_by, again.erase_reason], ['user:admin-1', 'caller asked']);
});

test('CallHeld sets held_at/by/reason; CallReleased clears them', () => {
  pos = 0;
  const h = ev('CallHeld', { orgId: 'org-a', reason: 'dispute 42' }, 'user:legal');
  const held = fold([ended(), h]);
  assert.equal([held.held_at, held.held_by, held.hold_reason], [h.metadata.recordedAt, 'user:legal', 'dispute 42']);
  const released = evolveCallLog(held, ev('CallReleased', { orgId: 'org-a', reason: 'settled' }, 'user:legal'))!;
  assert.equal([released.held_at, released.held_by, released.hold_reason], [null, null, null]);
});

test('call_erasures: a row from the erasure on; local steps and Vapi deletion tracked', () => {
  pos = 0;
  assert.is(evolveCallErasure(undefined, ended()), undefined);
  let row: CallErasureRow | undefined = evolveCallErasure(undefined, erased());
  assert.equal([row!.org_id, row!.erased_by, row!.completed_at, row!.vapi_status], ['org-a', 'user:admin-1', null, 'pending']);
  row = evolveCallErasure(row, ev('ErasureStepFailed', { orgId: 'org-a', attempt: 1, step: 'storage', code: 'storage_unavailable', message: 'down', retryAt: '2026-06-01T10:05:00.000Z', objectsDeleted: 0, keysDestroyed: 2, eventsRewritten: 0 }, 'system:erasure'));
  assert.equal([row!.attempts, row!.retry_at], [1, '2026-06-01T10:05:00.000Z']);
  const done = ev('ErasureCompleted', { orgId: 'org-a', objectsDeleted: 1, keysDestroyed: 2, eventsRewritten: 0 }, 'system:erasure');
  row = evolveCallErasure(row, done);
  assert.equal([row!.completed_at, row!.retry_at], [done.metadata.recordedAt, null]);
  row = evolveCallErasure(row, ev('VapiCallDataDeleteFailed', { orgId: 'org-a', attempt: 1, code: 'server_error', status: 503, message: 'x', retryable: true, retryAt: '2026-06-01T10:05:00.000Z' }, 'system:erasure'));
  assert.equal([row!.vapi_status, row!.vapi_attempts, row!.vapi_retry_at], ['retry_scheduled', 1, '2026-06-01T10:05:00.000Z']);
  row = evolveCallErasure(row, ev('VapiCallDataDeleted', { orgId: 'org-a', attempt: 2, alreadyGone: false }, 'system:erasure'));
  assert.equal([row!.vapi_status, row!.vapi_attempts, row!.vapi_retry_at], ['deleted', 2, null]);
});

test.run();
