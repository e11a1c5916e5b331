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
  // infrastructure
  database_unavailable: { status: 503, message: 'The database is not reachable' },
  not_ready: { status: 503, message: 'The service is not ready' },
  audit_failed: { status: 503, message: 'The access could not be audited, so no URL is handed out' },
  storage_unavailable: { status: 503, message: 'Storage is not reachable' },
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
