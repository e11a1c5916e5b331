/**
 * The one catalogue of error codes. Every error callrec reports, over HTTP, in the CLI, in an event
 * or in a log line, names one of these codes.
 */
export const errorCatalog = {
  // input
  invalid_json: { status: 400, message: 'The request body is not valid JSON' },
  invalid_body: { status: 400, message: 'The request body does not match the expected schema' },
  invalid_query: { status: 400, message: 'A query parameter is invalid' },
  invalid_id: { status: 400, message: 'The id is not valid' },
  unsupported_media_type: { status: 415, message: 'The content type is not supported' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  request_timeout: { status: 408, message: 'The request body did not arrive in time' },
  missing_call_id: { status: 400, message: 'The message has no call.id' },
  // auth
  unauthorized: { status: 401, message: 'Authentication is required' },
  invalid_signature: { status: 401, message: 'The webhook signature or secret is not valid' },
  stale_timestamp: { status: 401, message: 'The webhook timestamp is outside the tolerance window' },
  invalid_token: { status: 401, message: 'The bearer token is not valid' },
  forbidden: { status: 403, message: 'The caller may not do this' },
  signed_url_invalid: { status: 403, message: 'The signed URL is not valid' },
  signed_url_expired: { status: 403, message: 'The signed URL has expired' },
  // state
  not_found: { status: 404, message: 'Not found' },
  conflict: { status: 409, message: 'Conflict' },
  wrong_expected_revision: { status: 409, message: 'The stream is not at the expected revision' },
  event_id_conflict: { status: 409, message: 'An event with this id exists with other content' },
  invalid_event: { status: 400, message: 'The event does not match its schema' },
  range_not_satisfiable: { status: 416, message: 'The requested range is not satisfiable' },
  recording_not_ready: { status: 409, message: 'The recording is not in storage (yet)' },
  recording_missing: { status: 410, message: 'The recording object is no longer in storage' },
  call_held: { status: 409, message: 'The call is under a legal hold' },
  call_erased: { status: 409, message: 'The call was erased' },
  call_not_held: { status: 409, message: 'The call is not under a legal hold' },
  // recording pipeline (codes of UploadFailed / UploadAbandoned / TranscriptOnlyFallback events and their logs)
  no_recording_url: { status: 404, message: 'The call has no recording URL' },
  invalid_recording_url: { status: 422, message: 'The recording URL is not a valid http(s) URL' },
  host_not_allowed: { status: 403, message: 'The recording host is not in RECORDING_ALLOWED_HOSTS' },
  address_not_allowed: { status: 403, message: 'The recording host resolves to an address that is not allowed' },
  too_many_redirects: { status: 502, message: 'The recording URL redirects too often' },
  recording_too_large: { status: 413, message: 'The recording is larger than RECORDING_MAX_BYTES' },
  recording_http_error: { status: 502, message: 'The recording server answered with an error status' },
  download_timeout: { status: 504, message: 'The recording download did not finish in time' },
  download_connection_error: { status: 502, message: 'The recording server could not be reached' },
  download_truncated: { status: 502, message: 'The recording download ended early' },
  temp_io_error: { status: 500, message: 'Writing the temporary recording file failed' },
  invalid_audio: { status: 422, message: 'The downloaded file is not usable audio' },
  conversion_failed: { status: 500, message: 'The recording could not be converted' },
  storage_error: { status: 502, message: 'Storage refused the recording' },
  // infrastructure
  database_unavailable: { status: 503, message: 'The database is not reachable' },
  not_ready: { status: 503, message: 'The service is not ready' },
  overloaded: { status: 503, message: 'Too many writes are waiting; retry shortly' },
  shutting_down: { status: 503, message: 'This instance is shutting down' },
  audit_failed: { status: 503, message: 'The access could not be audited, so no URL is handed out' },
  storage_unavailable: { status: 503, message: 'Storage is not reachable' },
  auth_unavailable: { status: 503, message: 'The token cannot be checked right now (key set unreachable)' },
  internal: { status: 500, message: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof errorCatalog;

/** An error that knows its catalogue code; rendered as `{ error: { code, message, details? } }`. */
export class CallrecError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? errorCatalog[code].message);
    this.name = 'CallrecError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.details = details;
  }
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown) {
  return { error: { code, message: message ?? errorCatalog[code].message, ...(details === undefined ? {} : { details }) } };
}
