import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decideDownload, decideRefresh, storedUrlUsable, type AccessContext } from '../../src/commands/recordingAccess.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import { validateEventData } from '../../src/events/catalog.ts';
import { decodeCursor, encodeCursor } from '../../src/projections/callLogs/queries.ts';
import { foldCallAsOf } from '../../src/http/routes/calls.ts';
import { createUploadTracker, toSseMessage } from '../../src/http/sse/messages.ts';
import { downloadRow } from '../../src/projections/recordingDownloads/projector.ts';

/** The pure parts: deciders, the SSE mapping, the asOf fold, cursors. No database. */

const test = suite('dashboard API, pure functions');
const now = new Date('2026-05-12T14:00:00.000Z');
const ctx: AccessContext = { callId: 'c1', orgId: 'o1', userId: 'u1', ip: '10.0.0.1', userAgent: 'x'.repeat(600), correlationId: 'corr', now };

let pos = 0;
function recorded(type: string, data: Record<string, unknown>, over: Partial<RecordedEvent> = {}): RecordedEvent {
  pos++;
  return {
    eventId: `e${pos}`, type, data: { callId: 'c1', ...data }, streamId: 'call-c1', revision: pos - 1, position: pos, storedAt: new Date(now.getTime() + pos * 1000),
    metadata: { correlationId: 'c', causationId: null, orgId: 'o1', recordedAt: new Date(now.getTime() + pos * 1000).toISOString(), actor: 'system:pipeline' },
    ...over,
  };
}

test('a download decides RecordingAccessed (and UrlSigned first when it signed); every event is valid', () => {
  const reuse = decideDownload(ctx, null);
  assert.is(reuse.streamId, 'call-c1');
  assert.equal(reuse.events.map((e) => e.type), ['RecordingAccessed']);
  assert.is((reuse.events[0]!.data as { userAgent: string }).userAgent.length, 512);
  assert.is(reuse.events[0]!.metadata.actor, 'user:u1');
  const fresh = decideDownload(ctx, { storagePath: 'o1/c1.wav', url: 'http://h/r/o1/c1.wav?sig=1', expiresAt: now });
  assert.equal(fresh.events.map((e) => e.type), ['UrlSigned', 'RecordingAccessed']);
  assert.is((fresh.events[0]!.data as { by: string }).by, 'user:u1');
  assert.is(fresh.events[1]!.metadata.causationId, fresh.events[0]!.eventId);
  const refresh = decideRefresh(ctx, { storagePath: 'o1/c1.wav', url: 'http://h/r?sig=2', expiresAt: now });
  assert.equal(refresh.events.map((e) => [e.type, (e.data as { action?: string }).action]), [['UrlSigned', undefined], ['RecordingAccessed', 'refresh']]);
  for (const e of [...fresh.events, ...refresh.events]) assert.ok(validateEventData(e.type, e.data).ok, e.type);
  assert.is.not(decideDownload(ctx, null).events[0]!.eventId, reuse.events[0]!.eventId, 'each access is its own event');
});

test('a stored URL is handed out only with more than 5 minutes left', () => {
  assert.is(storedUrlUsable('u', new Date(now.getTime() + 301_000).toISOString(), now), true);
  assert.is(storedUrlUsable('u', new Date(now.getTime() + 300_000).toISOString(), now), false);
  assert.is(storedUrlUsable(null, new Date(now.getTime() + 3600_000).toISOString(), now), false);
  assert.is(storedUrlUsable('u', null, now), false);
  assert.is(storedUrlUsable('u', 'garbage', now), false);
});

test('SSE mapping: recording_ready only for the pipeline UrlSigned after an upload, never with the URL', async () => {
  const store = { readStream: async () => [] as RecordedEvent[] };
  const tracker = createUploadTracker(store);
  const ended = recorded('CallEnded', { endedAt: null, endedReason: 'x', durationSeconds: 3, callType: null, assistantId: null, recordingUrl: 'http://v/r.wav', stereoRecordingUrl: null });
  const early = recorded('UrlSigned', { storagePath: 'p', url: 'http://s/p?sig=1', expiresAt: now.toISOString(), by: 'system:pipeline' });
  const up = recorded('RecordingUploaded', { bytes: 10, durationSeconds: 2, contentType: 'audio/wav', format: 'wav' });
  const signed = recorded('UrlSigned', { storagePath: 'p', url: 'http://s/p?sig=2', expiresAt: now.toISOString(), by: 'system:pipeline' });
  const user = recorded('UrlSigned', { storagePath: 'p', url: 'http://s/p?sig=3', expiresAt: now.toISOString(), by: 'user:u1' }, { metadata: { ...ended.metadata, actor: 'user:u1' } });
  const out = [];
  for (const e of [ended, early, up, signed, user]) {
    tracker.observe(e);
    out.push(await toSseMessage(e, tracker));
  }
  assert.is(out[0]!.event, 'call_ended');
  assert.is(JSON.parse(out[0]!.data).hasRecording, true);
  assert.is(out[1], undefined, 'no upload before it');
  assert.is(out[2], undefined, 'the upload alone is not announced');
  assert.is(out[3]!.event, 'recording_ready');
  assert.is(out[3]!.id, signed.position);
  assert.equal({ ...JSON.parse(out[3]!.data), at: undefined }, { callId: 'c1', durationSeconds: 2, bytes: 10, contentType: 'audio/wav', format: 'wav', expiresAt: now.toISOString(), at: undefined });
  assert.not.ok(out[3]!.data.includes('sig='));
  assert.is(out[4], undefined, "a user's refresh is not announced");
  // A tracker that never saw the upload finds it in the call's stream.
  const cold = createUploadTracker({ readStream: async (_s: string, o?: { limit?: number }) => [ended, early, up, signed, user].slice(0, o?.limit) });
  const again = await toSseMessage(signed, cold);
  assert.is(again!.event, 'recording_ready');
  assert.is(JSON.parse(again!.data).bytes, 10);
});

test('asOf fold stops at the time; downloads rows come from RecordingAccessed', () => {
  const base = recorded('CallEnded', {
    orgId: 'o1', vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null, startedAt: null, endedAt: now.toISOString(),
    durationSeconds: 1, endedReason: 'x', transcript: 't', summary: null, cost: null, recordingUrl: 'http://v/r', stereoRecordingUrl: null, messageAt: null,
  });
  const up = recorded('RecordingUploaded', { attempt: 1, storagePath: 'p', bytes: 5, sha256: 'a'.repeat(64), format: 'wav', codec: null, contentType: 'audio/wav', durationSeconds: 1, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null });
  assert.is(foldCallAsOf([base, up], new Date(base.storedAt.getTime() - 1)), undefined);
  assert.is(foldCallAsOf([base, up], base.storedAt)!.recording_status, 'pending');
  assert.is(foldCallAsOf([base, up], up.storedAt)!.recording_status, 'uploaded');
  const acc = recorded('RecordingAccessed', { userId: 'u', action: 'download', ip: null, userAgent: null }, { metadata: { ...base.metadata, orgId: 'o9' } });
  assert.equal(downloadRow(acc), { position: acc.position, event_id: acc.eventId, org_id: 'o9', call_id: 'c1', user_id: 'u', action: 'download', ip: null, user_agent: null, accessed_at: acc.metadata.recordedAt });
});

test('cursors round-trip and refuse what they did not issue', () => {
  const c = { e: '2026-05-12 14:00:00.123456+00', i: 'call-1' };
  assert.equal(decodeCursor(encodeCursor(c)), c);
  assert.equal(decodeCursor(encodeCursor({ e: null, i: 'x' })), { e: null, i: 'x' });
  assert.is(decodeCursor('not-base64-json'), undefined);
  assert.is(decodeCursor(encodeCursor({ e: "2026'; drop table call_logs", i: 'x' })), undefined);
  assert.is(decodeCursor(Buffer.from(JSON.stringify({ e: null })).toString('base64url')), undefined);
});

test.run();
