import type { EventData } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';
import { emptyCallLog, type CallLogRow } from './columns.ts';

export { CALL_LOG_COLUMNS, type CallLogRow } from './columns.ts';

export const CALL_LOG_EVENTS = new Set([
  'CallEnded', 'CallStatusChanged', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadRetryScheduled',
  'UploadAbandoned', 'TranscriptOnlyFallback', 'RecordingMissing', 'CallErased', 'CallHeld', 'CallReleased',
  'RecordingExpired', 'TranscriptExpired',
]);

/** The personal columns an erasure empties (the row keeps times, duration, status, cost and the recording's facts). */
export const ERASED_COLUMNS = ['transcript', 'summary', 'customer_number', 'recording_source_url', 'recording_stereo_source_url', 'recording_signed_url', 'recording_signed_url_expires_at'] as const;

const AFTER_ERASURE_IGNORED = new Set(['CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadRetryScheduled', 'UploadAbandoned', 'TranscriptOnlyFallback', 'RecordingMissing']);

/** Call statuses in the order a call moves through them; a late status-update never moves a call backwards. */
const STATUS_RANK: Record<string, number> = { scheduled: 0, queued: 1, ringing: 2, 'in-progress': 3, forwarding: 4, ended: 5 };
const rank = (s: string) => STATUS_RANK[s] ?? -1;

const emptyRow = emptyCallLog;

/** Pure: the call_logs row after one event (or the same row when the event does not concern it). */
export function evolveCallLog(row: CallLogRow | undefined, event: RecordedEvent): CallLogRow | undefined {
  const data = event.data as { callId: string };
  const base = row ?? (event.type === 'CallEnded' || event.type === 'CallStatusChanged' ? emptyRow(data.callId, event.metadata.orgId, event.position) : undefined);
  if (!base) return row; // a pipeline event for a call we never saw: nothing to show
  const r: CallLogRow = { ...base, last_position: event.position };
  // After an erasure nothing brings personal data or a recording back (a late upload, URL or report).
  if (r.erased_at && AFTER_ERASURE_IGNORED.has(event.type)) return r;
  switch (event.type) {
    case 'CallEnded': {
      const d = event.data as EventData<'CallEnded'>;
      const hasRecording = Boolean(d.recordingUrl || d.stereoRecordingUrl);
      Object.assign(r, {
        org_id: d.orgId,
        call_type: d.callType,
        assistant_id: d.assistantId,
        phone_number_id: d.phoneNumberId,
        customer_number: d.customerNumber,
        status: 'ended',
        status_at: d.endedAt ?? d.messageAt ?? r.status_at,
        started_at: d.startedAt,
        ended_at: d.endedAt ?? d.messageAt,
        duration_seconds: d.durationSeconds,
        ended_reason: d.endedReason ?? r.ended_reason,
        transcript: d.transcript,
        summary: d.summary,
        cost: d.cost,
        recording_source_url: d.recordingUrl,
        recording_stereo_source_url: d.stereoRecordingUrl,
      });
      if (!hasRecording && r.recording_status === 'pending') {
        r.recording_status = 'none';
        r.transcript_only_fallback = true;
      }
      return r;
    }
    case 'CallStatusChanged': {
      const d = event.data as EventData<'CallStatusChanged'>;
      if (rank(d.status) > rank(r.status) || (r.status === 'unknown' && rank(d.status) < 0)) {
        r.status = d.status;
        r.status_at = d.at ?? r.status_at;
      }
      if (d.status === 'ended' && !r.ended_reason) r.ended_reason = d.endedReason;
      return r;
    }
    case 'RecordingUploaded': {
      const d = event.data as EventData<'RecordingUploaded'>;
      Object.assign(r, {
        recording_status: 'uploaded',
        recording_storage_path: d.storagePath,
        recording_bytes: d.bytes,
        recording_sha256: d.sha256,
        recording_format: d.format,
        recording_content_type: d.contentType,
        recording_duration_seconds: d.durationSeconds,
        recording_channels: d.channels,
        recording_uploaded_at: event.metadata.recordedAt,
        recording_attempts: Math.max(r.recording_attempts, d.attempt),
        recording_next_retry_at: null,
        recording_error_code: null,
        recording_error: null,
        recording_missing: false,
        transcript_only_fallback: false,
      });
      return r;
    }
    case 'UrlSigned': {
      const d = event.data as EventData<'UrlSigned'>;
      r.recording_signed_url = d.url;
      r.recording_signed_url_expires_at = d.expiresAt;
      return r;
    }
    case 'UploadFailed': {
      const d = event.data as EventData<'UploadFailed'>;
      r.recording_attempts = Math.max(r.recording_attempts, d.attempt);
      r.recording_error_code = d.code;
      r.recording_error = `${d.step}: ${d.message}`;
      if (r.recording_status !== 'uploaded') r.recording_status = 'failed';
      return r;
    }
    case 'UploadRetryScheduled': {
      const d = event.data as EventData<'UploadRetryScheduled'>;
      r.recording_status = 'retry_scheduled';
      r.recording_next_retry_at = d.dueAt;
      return r;
    }
    case 'UploadAbandoned': {
      const d = event.data as EventData<'UploadAbandoned'>;
      r.recording_status = 'abandoned';
      r.recording_next_retry_at = null;
      r.recording_error_code = d.code;
      r.recording_error = d.reason;
      r.transcript_only_fallback = true;
      return r;
    }
    case 'TranscriptOnlyFallback': {
      const d = event.data as EventData<'TranscriptOnlyFallback'>;
      r.transcript_only_fallback = true;
      if (r.recording_status === 'pending') r.recording_status = 'none';
      r.recording_error ??= d.reason;
      r.recording_error_code ??= d.reason;
      return r;
    }
    case 'RecordingMissing': {
      // Retention deleted it on purpose: an expired recording is never "missing".
      if (r.recording_status === 'expired') return r;
      r.recording_missing = true;
      r.recording_status = 'missing';
      return r;
    }
    case 'CallErased': {
      if (r.erased_at) return r; // the first erasure counts
      const d = event.data as EventData<'CallErased'>;
      r.erased_at = event.metadata.recordedAt;
      r.erased_by = event.metadata.actor;
      r.erase_reason = d.reason;
      for (const c of ERASED_COLUMNS) r[c] = null;
      // A recording that was (or was to be) stored is deleted with the call; its object path goes too, so
      // nothing refers to it any more (the orphan sweep removes an object a late upload might leave).
      if (r.recording_status !== 'none') r.recording_status = 'erased';
      r.recording_storage_path = null;
      r.recording_next_retry_at = null;
      r.recording_missing = false;
      return r;
    }
    case 'CallHeld': {
      const d = event.data as EventData<'CallHeld'>;
      r.held_at = event.metadata.recordedAt;
      r.held_by = event.metadata.actor;
      r.hold_reason = d.reason;
      return r;
    }
    case 'CallReleased':
      r.held_at = null;
      r.held_by = null;
      r.hold_reason = null;
      return r;
    case 'RecordingExpired': {
      // The object is gone: no path to sign, no URL to hand out. Size, hash and duration stay (not personal).
      Object.assign(r, {
        recording_status: 'expired',
        recording_expired_at: event.metadata.recordedAt,
        recording_storage_path: null,
        recording_signed_url: null,
        recording_signed_url_expires_at: null,
        recording_missing: false,
        recording_next_retry_at: null,
      });
      return r;
    }
    case 'TranscriptExpired': {
      r.transcript = null;
      r.summary = null;
      r.transcript_expired_at = event.metadata.recordedAt;
      return r;
    }
    default:
      return row;
  }
}
