import type { EventData } from '../events/catalog.ts';
import { deterministicEventId } from '../events/ids.ts';
import type { NewEvent, RecordedEvent } from '../events/port.ts';

/**
 * A call's recording, as the call stream tells it: a pure `evolveRecording` over the stream and pure deciders
 * that turn the state plus the outcome of one pipeline attempt into the events to append. The recording
 * pipeline (src/processes/recordingPipeline.ts) does the I/O; everything here is tested without a database.
 *
 * Event ids are derived from (call id, type, attempt): a redo after a crash decides the same ids, and an append
 * at the revision that was read (optimistic concurrency) makes a concurrent or replayed worker re-read instead
 * of writing a second outcome.
 */

export const PIPELINE_ACTOR = 'system:pipeline';

export type RecordingStatus =
  /** no CallEnded yet */
  | 'unknown'
  /** CallEnded seen; the first attempt is due */
  | 'pending'
  /** an attempt failed and nothing was decided after it (only after a crash between two appends) */
  | 'failed'
  | 'retry_scheduled'
  | 'uploaded'
  | 'abandoned'
  /** transcript only: no recording URL */
  | 'none'
  /** the call was erased: nothing is fetched or stored any more */
  | 'erased';

export interface CallEndedFacts {
  eventId: string;
  correlationId: string;
  orgId: string;
  /** Vapi's endedAt, else when the report was recorded */
  endedAt: string;
  endedReason: string | null;
  recordingUrl: string | null;
  stereoRecordingUrl: string | null;
}

export interface RecordingState {
  callId: string;
  /** revision of the last event read (-1: no stream) — the expected revision of the next append */
  revision: number;
  /** id of the last event read */
  lastEventId: string | null;
  status: RecordingStatus;
  ended: CallEndedFacts | null;
  /** highest attempt number that failed */
  failedAttempts: number;
  lastFailure: EventData<'UploadFailed'> | null;
  lastFailureEventId: string | null;
  /** the attempt the scheduled retry will be, and when it is due */
  scheduled: { attempt: number; dueAt: string; eventId: string } | null;
  uploaded: EventData<'RecordingUploaded'> | null;
  uploadedEventId: string | null;
  signed: boolean;
  fallback: boolean;
}

export function initialRecordingState(callId: string): RecordingState {
  return {
    callId,
    revision: -1,
    lastEventId: null,
    status: 'unknown',
    ended: null,
    failedAttempts: 0,
    lastFailure: null,
    lastFailureEventId: null,
    scheduled: null,
    uploaded: null,
    uploadedEventId: null,
    signed: false,
    fallback: false,
  };
}

const FINAL: ReadonlySet<RecordingStatus> = new Set(['uploaded', 'abandoned', 'none', 'erased']);

/** Pure: the state after one event of the call stream (other event types only move the revision). */
export function evolveRecording(state: RecordingState, event: RecordedEvent): RecordingState {
  const s: RecordingState = { ...state, revision: event.revision, lastEventId: event.eventId };
  switch (event.type) {
    case 'CallEnded': {
      const d = event.data as EventData<'CallEnded'>;
      s.ended = {
        eventId: event.eventId,
        correlationId: event.metadata.correlationId,
        orgId: d.orgId,
        endedAt: d.endedAt ?? event.metadata.recordedAt,
        endedReason: d.endedReason,
        recordingUrl: d.recordingUrl || null,
        stereoRecordingUrl: d.stereoRecordingUrl || null,
      };
      if (s.status === 'unknown') s.status = 'pending';
      return s;
    }
    case 'UploadFailed': {
      const d = event.data as EventData<'UploadFailed'>;
      s.failedAttempts = Math.max(s.failedAttempts, d.attempt);
      s.lastFailure = d;
      s.lastFailureEventId = event.eventId;
      if (!FINAL.has(s.status)) s.status = 'failed';
      return s;
    }
    case 'UploadRetryScheduled': {
      const d = event.data as EventData<'UploadRetryScheduled'>;
      s.scheduled = { attempt: d.attempt, dueAt: d.dueAt, eventId: event.eventId };
      if (!FINAL.has(s.status)) s.status = 'retry_scheduled';
      return s;
    }
    case 'RecordingUploaded': {
      s.uploaded = event.data as EventData<'RecordingUploaded'>;
      s.uploadedEventId = event.eventId;
      if (s.status !== 'erased') s.status = 'uploaded';
      s.scheduled = null;
      return s;
    }
    case 'UrlSigned':
      s.signed = true;
      return s;
    case 'UploadAbandoned':
      if (s.status !== 'uploaded') s.status = 'abandoned';
      s.scheduled = null;
      return s;
    case 'TranscriptOnlyFallback':
      s.fallback = true;
      if (s.status === 'pending' || s.status === 'unknown') s.status = 'none';
      return s;
    case 'CallErased':
      s.status = 'erased';
      s.scheduled = null;
      return s;
    default:
      return s;
  }
}

export function recordingStateOf(callId: string, events: RecordedEvent[]): RecordingState {
  return events.reduce(evolveRecording, initialRecordingState(callId));
}

// ---------------------------------------------------------------------------------------------------------------

export interface RetryPolicy {
  /** minutes before retry 1, 2, 3 …; the last one repeats when there are more retries than delays */
  delaysMinutes: number[];
  /** retries after the first attempt (3 → at most 4 attempts) */
  maxRetries: number;
}

export type RecordingSource = 'vapi-api' | 'payload-url';

/** What the pipeline should do next for a call. */
export type NextStep =
  | { kind: 'skip'; reason: 'no_call_ended' | 'done' | 'not_due' }
  /** append these events and stop (no recording URL; or finishing a failure a crash left undecided) */
  | { kind: 'append'; events: NewEvent[] }
  /** run attempt number `attempt`; `causationId` is the event that made it due */
  | { kind: 'attempt'; attempt: number; causationId: string };

export interface DecideContext {
  now: Date;
  retry: RetryPolicy;
}

function meta(ended: CallEndedFacts, causationId: string | null, now: Date) {
  return { correlationId: ended.correlationId, causationId, orgId: ended.orgId, recordedAt: now.toISOString(), actor: PIPELINE_ACTOR };
}

function event(state: RecordingState, type: string, attempt: number, data: unknown, causationId: string | null, now: Date): NewEvent {
  return { eventId: deterministicEventId(state.callId, type, attempt), type, data, metadata: meta(state.ended!, causationId, now) };
}

/** Pure: what to do for a call, given its state and the time. */
export function decideNextStep(state: RecordingState, ctx: DecideContext): NextStep {
  if (!state.ended) return { kind: 'skip', reason: 'no_call_ended' };
  if (FINAL.has(state.status) || state.fallback) return { kind: 'skip', reason: 'done' };
  switch (state.status) {
    case 'pending':
      if (!state.ended.recordingUrl && !state.ended.stereoRecordingUrl) {
        return {
          kind: 'append',
          events: [
            event(state, 'TranscriptOnlyFallback', 0, { callId: state.callId, reason: 'no_recording_url', endedReason: state.ended.endedReason }, state.ended.eventId, ctx.now),
          ],
        };
      }
      return { kind: 'attempt', attempt: 1, causationId: state.ended.eventId };
    case 'retry_scheduled': {
      const due = state.scheduled!;
      if (Date.parse(due.dueAt) > ctx.now.getTime()) return { kind: 'skip', reason: 'not_due' };
      return { kind: 'attempt', attempt: due.attempt, causationId: due.eventId };
    }
    case 'failed':
      // A failure without its follow-up (a crash between appends): decide the follow-up now.
      return { kind: 'append', events: afterFailure(state, state.lastFailure!, state.lastFailureEventId!, ctx) };
    default:
      return { kind: 'skip', reason: 'done' };
  }
}

export interface AttemptFailure {
  step: EventData<'UploadFailed'>['step'];
  /** a code of the error catalogue (src/errors.ts) */
  code: string;
  message: string;
  retryable: boolean;
  status: number | null;
}

export type AttemptOutcome =
  | { ok: true; uploaded: Omit<EventData<'RecordingUploaded'>, 'callId' | 'attempt'>; signed: { url: string; expiresAt: Date } }
  | { ok: false; failure: AttemptFailure };

/** Minutes to wait before the retry that follows failed attempt `attempt` (1-based). */
export function retryDelayMinutes(policy: RetryPolicy, attempt: number): number {
  const d = policy.delaysMinutes;
  if (d.length === 0) return 0;
  return d[Math.min(attempt - 1, d.length - 1)]!;
}

/** Pure: the events for the outcome of attempt `attempt` that `causationId` triggered. */
export function decideAttemptOutcome(state: RecordingState, attempt: number, causationId: string, outcome: AttemptOutcome, ctx: DecideContext): NewEvent[] {
  if (!state.ended) throw new Error('decideAttemptOutcome: the call has not ended');
  if (outcome.ok) {
    const uploaded = event(state, 'RecordingUploaded', attempt, { callId: state.callId, attempt, ...outcome.uploaded }, causationId, ctx.now);
    const signed = event(
      state,
      'UrlSigned',
      attempt,
      { callId: state.callId, storagePath: outcome.uploaded.storagePath, url: outcome.signed.url, expiresAt: outcome.signed.expiresAt.toISOString(), by: PIPELINE_ACTOR },
      uploaded.eventId,
      ctx.now,
    );
    return [uploaded, signed];
  }
  const f = outcome.failure;
  const data: EventData<'UploadFailed'> = {
    callId: state.callId,
    attempt,
    step: f.step,
    code: f.code,
    message: f.message.slice(0, 2000),
    retryable: f.retryable,
    status: f.status,
  };
  const failed = event(state, 'UploadFailed', attempt, data, causationId, ctx.now);
  return [failed, ...afterFailure(state, data, failed.eventId, ctx)];
}

/** Retry with backoff while retryable and retries remain; otherwise abandon and fall back to the transcript. */
function afterFailure(state: RecordingState, failure: EventData<'UploadFailed'>, failureEventId: string, ctx: DecideContext): NewEvent[] {
  const attempt = failure.attempt;
  if (failure.retryable && attempt <= ctx.retry.maxRetries) {
    const delayMinutes = retryDelayMinutes(ctx.retry, attempt);
    const dueAt = new Date(ctx.now.getTime() + delayMinutes * 60_000).toISOString();
    return [
      event(state, 'UploadRetryScheduled', attempt + 1, { callId: state.callId, attempt: attempt + 1, dueAt, delayMinutes }, failureEventId, ctx.now),
    ];
  }
  const reason = failure.retryable
    ? `gave up after ${attempt} attempts: ${failure.message}`
    : `not retryable (${failure.code}): ${failure.message}`;
  const abandoned = event(state, 'UploadAbandoned', attempt, { callId: state.callId, attempts: attempt, code: failure.code, reason: reason.slice(0, 2000) }, failureEventId, ctx.now);
  const fallback = event(
    state,
    'TranscriptOnlyFallback',
    attempt,
    { callId: state.callId, reason: 'recording_abandoned', endedReason: state.ended!.endedReason },
    abandoned.eventId,
    ctx.now,
  );
  return [abandoned, fallback];
}
