import type { Role } from '../../auth/roles.ts';
import type { CallLogRow } from '../../projections/callLogs/evolve.ts';
import { maskPhoneNumber } from '../../privacy/maskNumber.ts';
import type { ApiCallColumnsRow, ApiCallRow } from './callsSchemas.ts';
import { ApiCallColumns, ERASED_TEXT, EXPIRED_TEXT } from './callsSchemas.ts';

/** The calls API's view of a call_logs row (the queries themselves are in projections/callLogs/queries.ts). */

const API_COLUMNS = Object.keys(ApiCallColumns.shape) as Array<keyof ApiCallColumnsRow>;

/** Roles that see a caller's number in full; every other role (member) sees it masked. */
export const FULL_NUMBER_ROLES: ReadonlySet<Role> = new Set(['admin', 'auditor', 'platform-admin']);

/**
 * Pure: the caller's number as a user of `role` may see it. `[erased]` (a number whose key was destroyed, as
 * read from the log by `asOf`) stays as it is.
 */
export function customerNumberFor(role: Role, number: string | null): string | null {
  if (number === ERASED_TEXT) return number;
  return FULL_NUMBER_ROLES.has(role) ? number : maskPhoneNumber(number);
}

/**
 * Pure: the API view of a row for a user of `role`: the table's columns except signed and source URLs (bearer
 * credentials), the caller's number masked for members, and what happened to the call's personal data. Texts of
 * an erased call read `[erased]`, a transcript and summary that expired read `[expired]`.
 */
export function toApiCall(row: CallLogRow, role: Role): ApiCallRow {
  const out: Record<string, unknown> = {};
  for (const c of API_COLUMNS) out[c] = row[c as keyof CallLogRow];
  const erased = row.erased_at !== null;
  const number = erased ? ERASED_TEXT : customerNumberFor(role, row.customer_number);
  const text = (v: string | null) => (erased ? ERASED_TEXT : row.transcript_expired_at !== null ? EXPIRED_TEXT : v);
  return {
    ...(out as ApiCallColumnsRow),
    customer_number: number,
    transcript: text(row.transcript),
    summary: text(row.summary),
    customerNumber: number,
    assistantId: row.assistant_id,
    erased: erased ? { at: row.erased_at!, by: row.erased_by ?? 'unknown', reason: row.erase_reason ?? '' } : null,
    held: row.held_at !== null ? { at: row.held_at, by: row.held_by ?? 'unknown', reason: row.hold_reason ?? '' } : null,
    recordingExpiredAt: row.recording_expired_at,
    transcriptExpiredAt: row.transcript_expired_at,
  };
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
