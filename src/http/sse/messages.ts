import type { EventData } from '../../events/catalog.ts';
import type { EventStore, RecordedEvent } from '../../events/port.ts';

/**
 * What dashboards hear over SSE, derived from the log. The SSE `id` of a message is the event's global
 * position, so a client that reconnects with `Last-Event-ID` can be caught up from the log itself.
 *
 * | SSE event             | from                                                             |
 * |-----------------------|------------------------------------------------------------------|
 * | `call_ended`          | CallEnded                                                        |
 * | `recording_ready`     | UrlSigned by the pipeline (`by` = system…) after RecordingUploaded |
 * | `recording_failed`    | UploadFailed                                                     |
 * | `recording_abandoned` | UploadAbandoned                                                  |
 * | `transcript_only`     | TranscriptOnlyFallback                                           |
 * | `call_erased`         | CallErased                                                       |
 * | `call_held`           | CallHeld                                                         |
 * | `call_released`       | CallReleased                                                     |
 * | `recording_expired`   | RecordingExpired                                                 |
 * | `transcript_expired`  | TranscriptExpired                                                |
 *
 * `recording_ready` never carries the URL: the dashboard asks GET /api/calls/{id}/recording for it, so
 * every handout is audited. The erasure, hold and expiry messages say only which call changed and when (no
 * reason, no actor: those are personal to the admin and the audit; the page reads them from GET /api/calls/{id}).
 */

export const SSE_EVENTS = [
  'call_ended', 'recording_ready', 'recording_failed', 'recording_abandoned', 'transcript_only',
  'call_erased', 'call_held', 'call_released', 'recording_expired', 'transcript_expired',
] as const;
export type SseEventName = (typeof SSE_EVENTS)[number];

/** Log event types the SSE fan-out reads (RecordingUploaded only feeds `recording_ready`). */
export const SSE_SOURCE_TYPES: ReadonlySet<string> = new Set([
  'CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
  'CallErased', 'CallHeld', 'CallReleased', 'RecordingExpired', 'TranscriptExpired',
]);

/**
 * Fields of the log's events that no message is built from: the call's transcript and summary, by far the largest
 * part of a report (~10 KB of sealed text). The fan-out and the catch-up read events without them.
 */
export const SSE_UNREAD_FIELDS: readonly string[] = ['transcript', 'summary'];

/** Log events that become a message naming only the call (and the time, added to every message). */
const PRIVACY_MESSAGES: Readonly<Record<string, SseEventName>> = {
  CallErased: 'call_erased',
  CallHeld: 'call_held',
  CallReleased: 'call_released',
  RecordingExpired: 'recording_expired',
  TranscriptExpired: 'transcript_expired',
};

export interface SseMessage {
  /** Global log position. */
  id: number;
  event: SseEventName;
  /** JSON text. */
  data: string;
  orgId: string;
  callId: string;
}

interface UploadInfo {
  revision: number;
  bytes: number;
  durationSeconds: number;
  contentType: string;
  format: string;
}

/**
 * Remembers the latest RecordingUploaded per call, as one reader of the log sees them in order (bounded;
 * the oldest calls are forgotten first). On a miss — the upload happened before this reader started — it
 * reads the call's stream: the answer depends only on the log, so live and catch-up agree.
 */
export interface UploadTracker {
  observe(e: RecordedEvent): void;
  uploadBefore(e: RecordedEvent): Promise<UploadInfo | undefined>;
}

export function createUploadTracker(store: Pick<EventStore, 'readStream'>, maxCalls = 20_000): UploadTracker {
  const byCall = new Map<string, UploadInfo>();
  const info = (e: RecordedEvent): UploadInfo => {
    const d = e.data as EventData<'RecordingUploaded'>;
    return { revision: e.revision, bytes: d.bytes, durationSeconds: d.durationSeconds, contentType: d.contentType, format: d.format };
  };
  const remember = (callId: string, u: UploadInfo) => {
    byCall.delete(callId);
    byCall.set(callId, u);
    if (byCall.size > maxCalls) byCall.delete(byCall.keys().next().value!);
  };
  return {
    observe(e) {
      if (e.type === 'RecordingUploaded') remember((e.data as { callId: string }).callId, info(e));
    },
    async uploadBefore(e) {
      const callId = (e.data as { callId: string }).callId;
      const known = byCall.get(callId);
      if (known && known.revision < e.revision) return known;
      const earlier = await store.readStream(e.streamId, { fromRevision: 0, limit: e.revision });
      const last = earlier.filter((x) => x.type === 'RecordingUploaded' && x.revision < e.revision).pop();
      if (!last) return undefined;
      const u = info(last);
      remember(callId, u);
      return u;
    },
  };
}

const message = (e: RecordedEvent, event: SseEventName, data: Record<string, unknown>): SseMessage => ({
  id: e.position,
  event,
  data: JSON.stringify({ callId: (e.data as { callId: string }).callId, ...data, at: e.metadata.recordedAt }),
  orgId: e.metadata.orgId,
  callId: (e.data as { callId: string }).callId,
});

/** The SSE message an event becomes, if any. Call `tracker.observe(e)` for every event first. */
export async function toSseMessage(e: RecordedEvent, tracker: UploadTracker): Promise<SseMessage | undefined> {
  switch (e.type) {
    case 'CallEnded': {
      const d = e.data as EventData<'CallEnded'>;
      return message(e, 'call_ended', {
        endedAt: d.endedAt,
        endedReason: d.endedReason,
        durationSeconds: d.durationSeconds,
        callType: d.callType,
        assistantId: d.assistantId,
        hasRecording: Boolean(d.recordingUrl || d.stereoRecordingUrl),
      });
    }
    case 'UrlSigned': {
      const d = e.data as EventData<'UrlSigned'>;
      if (!d.by.startsWith('system')) return undefined; // a user's own refresh is no news to the org
      const u = await tracker.uploadBefore(e);
      if (!u) return undefined;
      return message(e, 'recording_ready', { durationSeconds: u.durationSeconds, bytes: u.bytes, contentType: u.contentType, format: u.format, expiresAt: d.expiresAt });
    }
    case 'UploadFailed': {
      const d = e.data as EventData<'UploadFailed'>;
      return message(e, 'recording_failed', { attempt: d.attempt, step: d.step, code: d.code, retryable: d.retryable });
    }
    case 'UploadAbandoned': {
      const d = e.data as EventData<'UploadAbandoned'>;
      return message(e, 'recording_abandoned', { attempts: d.attempts, code: d.code, reason: d.reason });
    }
    case 'TranscriptOnlyFallback': {
      const d = e.data as EventData<'TranscriptOnlyFallback'>;
      return message(e, 'transcript_only', { reason: d.reason });
    }
    default: {
      const name = PRIVACY_MESSAGES[e.type];
      return name ? message(e, name, {}) : undefined;
    }
  }
}
