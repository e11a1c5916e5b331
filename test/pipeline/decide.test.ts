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
  type NextStep,
  type RecordingState,
  type RecordingStatus,
  type RetryPolicy,
} from '../../src/commands/recording.ts';
import type { NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { classifyDownloadError } from '../../src/processes/recordingAttempt.ts';
import { spec } from '../support/deciderSpec.ts';

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

test('UPLOAD_RETRY_MAX=0 aside, delays shorter than retries repeat the last', () => {
  assert.is(retryDelayMinutes({ delaysMinutes: [5, 10], maxRetries: 5 }, 4), 10);
});

// ---- The rules, as tables: given the call stream, when the pipeline asks, then this is decided. ----

const meta = (recordedAt = '2026-05-12T14:05:00.000Z') => ({ correlationId: 'corr-1', causationId: null, orgId: 'org1', recordedAt, actor: 'system:pipeline' });
const failed = (attempt: number, retryable = true): NewEvent => ({
  eventId: `e-failed-${attempt}`,
  type: 'UploadFailed',
  data: { callId, attempt, step: 'fetch', code: retryable ? 'recording_http_error' : 'invalid_audio', message: 'x', retryable, status: retryable ? 500 : null },
  metadata: meta(),
});
const dueAt = new Date(t0.getTime() + 5 * 60_000);
const scheduled = (attempt: number): NewEvent => ({ eventId: `e-retry-${attempt}`, type: 'UploadRetryScheduled', data: { callId, attempt, dueAt: dueAt.toISOString(), delayMinutes: 5 }, metadata: meta() });
const uploaded: NewEvent = {
  eventId: 'e-uploaded',
  type: 'RecordingUploaded',
  data: { callId, attempt: 1, storagePath: 'org1/2026/05/12/call-1.wav', bytes: 10, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav', durationSeconds: 1, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null },
  metadata: meta(),
};
const signed: NewEvent = { eventId: 'e-signed', type: 'UrlSigned', data: { callId, storagePath: 'org1/2026/05/12/call-1.wav', url: 'http://h/x?sig=1', expiresAt: '2026-05-12T15:10:00.000Z', by: 'system:pipeline' }, metadata: meta() };
const abandoned: NewEvent = { eventId: 'e-abandoned', type: 'UploadAbandoned', data: { callId, attempts: 4, code: 'recording_http_error', reason: 'gave up' }, metadata: meta() };
const fallback: NewEvent = { eventId: 'e-fallback', type: 'TranscriptOnlyFallback', data: { callId, reason: 'no_recording_url' }, metadata: meta() };
const noUrl = () => callEnded({ recordingUrl: '', stereoRecordingUrl: null });

/** The recording decider: the state folds the call stream; a command asks for the next step or records an outcome. */
type Command = { next: Date } | { attempt: number; causationId: string; outcome: AttemptOutcome; retry?: RetryPolicy };
const recording = {
  initialState: () => initialRecordingState(callId),
  evolve: (s: RecordingState, e: NewEvent) => evolveRecording(s, recorded([e], s.revision + 1)[0]!),
  decide: (c: Command, s: RecordingState): NextStep | NewEvent[] =>
    'next' in c ? decideNextStep(s, { now: c.next, retry }) : decideAttemptOutcome(s, c.attempt, c.causationId, c.outcome, { now: t0, retry: c.retry ?? retry }),
};
const typesOf = (d: NextStep | NewEvent[]) => (Array.isArray(d) ? d : d.kind === 'append' ? d.events : []).map((e) => e.type);

const evolveRules: Array<[string, NewEvent[], RecordingStatus]> = [
  ['no stream', [], 'unknown'],
  ['CallEnded', [callEnded()], 'pending'],
  ['a failure without its follow-up (crash between appends)', [callEnded(), failed(1)], 'failed'],
  ['a scheduled retry', [callEnded(), failed(1), scheduled(2)], 'retry_scheduled'],
  ['uploaded and signed', [callEnded(), uploaded, signed], 'uploaded'],
  ['abandoned with a fallback', [callEnded(), failed(4), abandoned, fallback], 'abandoned'],
  ['no recording URL, fallback', [noUrl(), fallback], 'none'],
];
for (const [rule, given, status] of evolveRules) {
  test(`state: ${rule} → ${status}`, () => assert.is(spec(recording).given(given).state().status, status));
}
test('state: the revision is the last event read', () => {
  assert.is(spec(recording).given([callEnded()]).state().revision, 0);
});

const nextStepRules: Array<[string, NewEvent[], Date, NextStep | ((d: NextStep | NewEvent[]) => void)]> = [
  ['a stream without CallEnded: nothing to do', [], t0, { kind: 'skip', reason: 'no_call_ended' }],
  ['CallEnded with a URL: attempt 1, caused by CallEnded', [callEnded()], t0, { kind: 'attempt', attempt: 1, causationId: 'e-ended' }],
  ['CallEnded without any URL (empty strings too): TranscriptOnlyFallback with endedReason', [noUrl()], t0, (d) => {
    assert.ok(!Array.isArray(d) && d.kind === 'append');
    const events = (d as { events: NewEvent[] }).events;
    assert.is(events.length, 1);
    const [e] = events as [NewEvent];
    assert.is(e.type, 'TranscriptOnlyFallback');
    assert.equal(e.data, { callId, reason: 'no_recording_url', endedReason: 'customer-ended-call' });
    assert.equal(e.metadata, { correlationId: 'corr-1', causationId: 'e-ended', orgId: 'org1', recordedAt: t0.toISOString(), actor: 'system:pipeline' });
    spec(recording).given([noUrl(), e]).when({ next: t0 }).then({ kind: 'skip', reason: 'done' });
  }],
  ['uploaded and signed: done', [callEnded(), uploaded, signed], t0, { kind: 'skip', reason: 'done' }],
  ['abandoned: done, however late', [callEnded(), failed(4), abandoned, fallback], new Date('2030-01-01'), { kind: 'skip', reason: 'done' }],
  ['a scheduled retry is not due before its time', [callEnded(), failed(1), scheduled(2)], new Date(dueAt.getTime() - 1), { kind: 'skip', reason: 'not_due' }],
  ['a scheduled retry is due at its time, caused by the schedule', [callEnded(), failed(1), scheduled(2)], dueAt, { kind: 'attempt', attempt: 2, causationId: 'e-retry-2' }],
  ['a failure left without its follow-up (crash between appends) gets one', [callEnded(), failed(1)], t0, (d) => assert.equal(typesOf(d), ['UploadRetryScheduled'])],
  ['a final failure left without its follow-up is abandoned', [callEnded(), failed(1, false)], t0, (d) => assert.equal(typesOf(d), ['UploadAbandoned', 'TranscriptOnlyFallback'])],
];
for (const [rule, given, now, then] of nextStepRules) {
  test(`next step: ${rule}`, () => spec(recording).given(given).when({ next: now }).then(then));
}

const none = { delaysMinutes: [5], maxRetries: 0 };
const outcomeRules: Array<[string, NewEvent[], Command, string[] | ((d: NextStep | NewEvent[]) => void)]> = [
  ['retryable failure with retries left: retry scheduled', [callEnded()], { attempt: 1, causationId: 'e-ended', outcome: fail500 }, ['UploadFailed', 'UploadRetryScheduled']],
  ['not retryable: abandoned at once', [callEnded()], { attempt: 1, causationId: 'e-ended', outcome: html }, (d) => {
    assert.equal(typesOf(d), ['UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']);
    assert.is(((d as NewEvent[])[1]!.data as { code: string }).code, 'invalid_audio');
  }],
  ['UPLOAD_RETRY_MAX=0: the first retryable failure abandons', [callEnded()], { attempt: 1, causationId: 'e-ended', outcome: fail500, retry: none }, ['UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']],
  ['the last retry fails: abandoned', [callEnded(), failed(3), scheduled(4)], { attempt: 4, causationId: 'e-retry-4', outcome: fail500 }, ['UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback']],
];
for (const [rule, given, when, then] of outcomeRules) {
  test(`outcome: ${rule}`, () => spec(recording).given(given).when(when).then(Array.isArray(then) ? (d) => assert.equal(typesOf(d), then) : then));
}
test('outcome: before CallEnded there is nothing to decide about', () => {
  spec(recording).given([]).when({ attempt: 1, causationId: 'x', outcome: fail500 }).thenThrows(/has not ended/);
});

test('download errors are classified: refused and too large are final, transient ones and a 404 retry', () => {
  const c = (code: string, status?: number, retryable = false) => classifyDownloadError({ code: code as never, message: code, retryable, status });
  assert.equal([c('address_not_allowed').retryable, c('host_not_allowed').retryable, c('too_large').retryable], [false, false, false]);
  assert.equal([c('timeout').retryable, c('connection_error').retryable, c('truncated').retryable], [true, true, true]);
  assert.equal([c('http_status', 404).retryable, c('http_status', 503, true).retryable, c('http_status', 403).retryable], [true, true, false]);
  assert.is(c('too_large').code, 'recording_too_large');
});

test.run();
