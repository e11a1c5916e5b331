import type { CallLogRow } from '../../projections/callLogs/evolve.ts';
import type { ApiCallRow } from './callsSchemas.ts';
import { ApiCall } from './callsSchemas.ts';

/** The calls API's view of a call_logs row (the queries themselves are in projections/callLogs/queries.ts). */

const API_COLUMNS = Object.keys(ApiCall.shape) as Array<keyof ApiCallRow>;

/** The API view of a row: the table's columns except signed and source URLs (bearer credentials). */
export function toApiCall(row: CallLogRow): ApiCallRow {
  const out: Record<string, unknown> = {};
  for (const c of API_COLUMNS) out[c] = row[c as keyof CallLogRow];
  return out as ApiCallRow;
}

export function recordingState(row: CallLogRow) {
  return {
    status: row.recording_status,
    available: row.recording_status === 'uploaded' && !row.recording_missing && row.recording_storage_path !== null,
    transcriptOnly: row.transcript_only_fallback,
    urlExpiresAt: row.recording_signed_url_expires_at,
    bytes: row.recording_bytes,
    durationSeconds: row.recording_duration_seconds,
    contentType: row.recording_content_type,
    attempts: row.recording_attempts,
    nextRetryAt: row.recording_next_retry_at,
    errorCode: row.recording_error_code,
    error: row.recording_error,
  };
}
