import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decideAttemptOutcome,
  decideNextStep,
  evolveRecording,
  initialRecordingState,
  recordingStateOf,
  retryDelayMinutes,
  type AttemptOutcome,
  type RecordingState,
} from '../../src/commands/recording.ts';
import type { NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { classifyDownloadError } from '../../src/processes/recordingAttempt.ts';

/** The pure part: state from the stream, decisions from state + outcome + clock. No database. */
const test = suite('recording decisions (pure)');

const callId = 'call-1';
const retry = { delaysMinutes: [5, 10, 20, 40], maxRetries: 3 };
const t0 = new Date('2026-05-12T14:10:00.000Z');

function recorded(events: NewEvent[], from = 0): RecordedEvent[] {
  return events.map((e, i) => ({ ...e, streamId: `call-${callId}`, revision: from + i, position: 100 + from + i, storedAt: t0 }));
}

const callEnded = (over: Record<string, unknown> = {}): NewEvent => ({
  eventId: 'e-ended',
  type: 'CallEnded',
  data: {
    callId, orgId: 'org1', vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null,
    startedAt: null, endedAt: '2026-05-12T14:04:06.905Z', durationSeconds: 60, endedReason: 'customer-ended-call',
    transcript: 'hi', summary: null, cost: null, recordingUrl: 'https://storage.vapi.ai/a.wav', stereoRecordingUrl: null, messageAt: null,
    ...over,
  },
  metadata: { correlationId: 'corr-1', causationId: null, orgId: 'org1', recordedAt: '2026-05-12T14:05:00.000Z', actor: 'vapi' },
});

const fail500: AttemptOutcome = { ok: false, failure: { step: 'fetch', code: 'recording_http_error', message: '500', retryable: true, status: 500 } };
const html: AttemptOutcome = { ok: false, failure: { step: 'validate', code: 'invalid_audio', message: 'html', retryable: false, status: null } };

/** Runs attempts with the given outcomes, appending what is decided; returns the stream. */
function play(outcomes: AttemptOutcome[]): { stream: RecordedEvent[]; state: RecordingState } {
  let stream = recorded([callEnded()]);
  let now = t0;
  for (const outcome of outcomes) {
    const state = recordingStateOf(callId, stream);
    let next = decideNextStep(state, { now, retry });
    if (next.kind === 'skip' && next.reason === 'not_due') {
      now = new Date(state.scheduled!.dueAt);
      next = decideNextStep(state, { now, retry });
    }
    assert.is(next.kind, 'attempt');
    if (next.kind !== 'attempt') break;
    const events = decideAttemptOutcome(state, next.attempt, next.causationId, outcome, { now, retry });
    stream = [...stream, ...recorded(events, stream.length)];
  }
  return { stream, state: recordingStateOf(callId, stream) };
}

test('a stream without CallEnded: nothing to do', () => {
  assert.equal(decideNextStep(initialRecordingState(callId), { now: t0, retry }), { kind: 'skip', reason: 'no_call_ended' });
});

test('CallEnded with a URL: attempt 1, caused by CallEnded', () => {
  const state = recordingStateOf(callId, recorded([callEnded()]));
  assert.is(state.status, 'pending');
  assert.is(state.revision, 0);
  assert.equal(decideNextStep(state, { now: t0, retry }), { kind: 'attempt', attempt: 1, causationId: 'e-ended' });
});

test('CallEnded without any URL (empty strings too): TranscriptOnlyFallback with endedReason, then done', () => {
  const state = recordingStateOf(callId, recorded([callEnded({ recordingUrl: '', stereoRecordingUrl: null })]));
  const next = decideNextStep(state, { now: t0, retry });
  assert.is(next.kind, 'append');
  if (next.kind !== 'append') return;
  assert.is(next.events.length, 1);
  const [e] = next.events as [NewEvent];
  assert.is(e.type, 'TranscriptOnlyFallback');
  assert.equal(e.data, { callId, reason: 'no_recording_url', endedReason: 'customer-ended-call' });
  assert.equal(e.metadata, { correlationId: 'corr-1', causationId: 'e-ended', orgId: 'org1', recordedAt: t0.toISOString(), actor: 'system:pipeline' });
  const after = evolveRecording(state, recorded([e], 1)[0]!);
  assert.equal(decideNextStep(after, { now: t0, retry }), { kind: 'skip', reason: 'done' });
});

test('success: RecordingUploaded then UrlSigned by system:pipeline, deterministic ids', () => {
  const ok: AttemptOutcome = {
    ok: true,
    uploaded: {
      storagePath: 'org1/2026/05/12/call-1.wav', bytes: 10, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav',
      durationSeconds: 1, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
    },
    signed: { url: 'http://localhost/recordings/x?sig=y', expiresAt: new Date('2026-05-12T15:10:00.000Z') },
  };
  const { stream, state } = play([ok]);
  assert.equal(stream.map((e) => e.type), ['CallEnded', 'RecordingUploaded', 'UrlSigned']);
  assert.is(state.status, 'uploaded');
  assert.is(state.signed, true);
  assert.is((stream[2]!.data as { by: string }).by, 'system:pipeline');
  assert.is((stream[2]!.data as { expiresAt: string }).expiresAt, '2026-05-12T15:10:00.000Z');
  assert.is(stream[2]!.metadata.causationId, stream[1]!.eventId);
  // deciding again from the same state gives the same ids (a redo after a crash is the same append)
  const again = decideAttemptOutcome(recordingStateOf(callId, stream.slice(0, 1)), 1, 'e-ended', ok, { now: new Date(), retry });
  assert.equal(again.map((e) => e.eventId), [stream[1]!.eventId, stream[2]!.eventId]);
  assert.equal(decideNextStep(state, { now: t0, retry }), { kind: 'skip', reason: 'done' });
});

test('retryable failures: retry 5, 10, 20 min later; the 4th failure abandons with a fallback', () => {
  const { stream, state } = play([fail500, fail500, fail500, fail500]);
  assert.equal(stream.map((e) => e.type), [
    'CallEnded',
    'UploadFailed', 'UploadRetryScheduled',
    'UploadFailed', 'UploadRetryScheduled',
    'UploadFailed', 'UploadRetryScheduled',
    'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
  ]);
  const scheduled = stream.filter((e) => e.type === 'UploadRetryScheduled').map((e) => e.data as { attempt: number; delayMinutes: number; dueAt: string });
  assert.equal(scheduled.map((d) => [d.attempt, d.delayMinutes]), [[2, 5], [3, 10], [4, 20]]);
  assert.is(scheduled[0]!.dueAt, new Date(t0.getTime() + 5 * 60_000).toISOString());
  // each retry is due exactly delay minutes after the failure it follows
  assert.is(scheduled[1]!.dueAt, new Date(Date.parse(scheduled[0]!.dueAt) + 10 * 60_000).toISOString());
  assert.is(state.status, 'abandoned');
  assert.is(state.fallback, true);
  assert.equal(decideNextStep(state, { now: new Date('2030-01-01'), retry }), { kind: 'skip', reason: 'done' });
  assert.is(new Set(stream.map((e) => e.eventId)).size, stream.length);
});

test('a scheduled retry is not due before its time', () => {
  const { state } = play([fail500]);
  assert.is(state.status, 'retry_scheduled');
  const due = Date.parse(state.scheduled!.dueAt);
  assert.equal(decideNextStep(state, { now: new Date(due - 1), retry }), { kind: 'skip', reason: 'not_due' });
  assert.equal(decideNextStep(state, { now: new Date(due), retry }), { kind: 'attempt', attempt: 2, causationId: state.scheduled!.eventId });
});

test('not retryable: abandoned at once', () => {
  const { stream } = play([html]);
  assert.equal(stream.map((e) => e.type), ['CallEnded', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']);
  assert.is((stream[2]!.data as { code: string }).code, 'invalid_audio');
});

test('UPLOAD_RETRY_MAX=0: the first retryable failure abandons; delays shorter than retries repeat the last', () => {
  const none = { delaysMinutes: [5], maxRetries: 0 };
  const state = recordingStateOf(callId, recorded([callEnded()]));
  const events = decideAttemptOutcome(state, 1, 'e-ended', fail500, { now: t0, retry: none });
  assert.equal(events.map((e) => e.type), ['UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']);
  assert.is(retryDelayMinutes({ delaysMinutes: [5, 10], maxRetries: 5 }, 4), 10);
});

test('a failure left without its follow-up (crash between appends) gets one', () => {
  const stream = recorded([callEnded()]);
  const state = recordingStateOf(callId, stream);
  const [failed] = decideAttemptOutcome(state, 1, 'e-ended', fail500, { now: t0, retry });
  const crashed = recordingStateOf(callId, [...stream, ...recorded([failed!], 1)]);
  assert.is(crashed.status, 'failed');
  const next = decideNextStep(crashed, { now: t0, retry });
  assert.is(next.kind, 'append');
  if (next.kind === 'append') assert.equal(next.events.map((e) => e.type), ['UploadRetryScheduled']);
});

test('download errors are classified: refused and too large are final, transient ones and a 404 retry', () => {
  const c = (code: string, status?: number, retryable = false) => classifyDownloadError({ code: code as never, message: code, retryable, status });
  assert.equal([c('address_not_allowed').retryable, c('host_not_allowed').retryable, c('too_large').retryable], [false, false, false]);
  assert.equal([c('timeout').retryable, c('connection_error').retryable, c('truncated').retryable], [true, true, true]);
  assert.equal([c('http_status', 404).retryable, c('http_status', 503, true).retryable, c('http_status', 403).retryable], [true, true, false]);
  assert.is(c('too_large').code, 'recording_too_large');
});

test.run();
