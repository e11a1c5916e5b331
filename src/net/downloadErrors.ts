import type { Err } from '../result.ts';

/** How a download fails, and whether trying again later can help: the one home of a download's retryability. */

export type DownloadErrorCode =
  | 'invalid_url'
  | 'host_not_allowed'
  | 'address_not_allowed'
  | 'too_many_redirects'
  | 'too_large'
  | 'http_status'
  | 'timeout'
  | 'connection_error'
  | 'truncated'
  /** the caller's `signal` fired */
  | 'aborted'
  /** writing the temp file failed (disk full, permissions) */
  | 'io_error';

export interface DownloadError {
  code: DownloadErrorCode;
  message: string;
  retryable: boolean;
  /** HTTP status, for `http_status` */
  status?: number;
}

/** Whether a download that failed with `code` may succeed later (`http_status` depends on the status). */
const retryableCodes: Record<DownloadErrorCode, boolean> = {
  invalid_url: false,
  host_not_allowed: false,
  address_not_allowed: false,
  too_many_redirects: false,
  too_large: false,
  http_status: false,
  timeout: true,
  connection_error: true,
  truncated: true,
  aborted: true,
  io_error: true,
};

/** An HTTP status worth retrying: the server's trouble (5xx), a request timeout (408) or rate limiting (429). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Whether a download that failed with `code` (and `status`, for `http_status`) may succeed later. */
export function isRetryableDownload(code: DownloadErrorCode, status?: number): boolean {
  return code === 'http_status' ? status !== undefined && isRetryableStatus(status) : retryableCodes[code];
}

/** A failed download, its retryability derived from the code (and the status, for `http_status`). */
export function downloadFailed(code: DownloadErrorCode, message: string, status?: number): Err<DownloadError> {
  return { ok: false, error: { code, message, retryable: isRetryableDownload(code, status), ...(status !== undefined ? { status } : {}) } };
}

/** Thrown inside the download to end it with a known failure. */
export class DownloadFailure extends Error {
  constructor(readonly failure: DownloadError) {
    super(failure.message);
  }

  static of(code: DownloadErrorCode, message: string): DownloadFailure {
    return new DownloadFailure(downloadFailed(code, message).error);
  }
}

export const ADDRESS_REFUSED = 'CALLREC_ADDRESS_NOT_ALLOWED';

export function addressRefusedError(hostname: string, address: string, reason: string): Error {
  return Object.assign(new Error(`${hostname} resolves to ${address} (${reason}), which is not allowed`), {
    code: ADDRESS_REFUSED,
  });
}

/** What the download was doing when an error was thrown, and what it knows about why. */
export interface FailureContext {
  phase: 'connect' | 'body';
  timeoutMs: number;
  /** the overall deadline fired */
  timedOut: boolean;
  /** the caller's signal fired */
  callerAborted: boolean;
}

/** An error thrown by undici, the stream or the file system, as a download failure. */
export function classifyThrown(err: unknown, ctx: FailureContext): Err<DownloadError> {
  if (err instanceof DownloadFailure) return { ok: false, error: err.failure };
  if (ctx.timedOut) return downloadFailed('timeout', `The download did not finish within ${ctx.timeoutMs} ms`);
  if (ctx.callerAborted) return downloadFailed('aborted', 'The download was aborted');
  const found = findCode(err);
  if (found.code === 'UND_ERR_HEADERS_TIMEOUT' || found.code === 'UND_ERR_BODY_TIMEOUT') {
    return downloadFailed('timeout', `The recording server stopped responding (${found.code})`);
  }
  if (found.refused) return downloadFailed('address_not_allowed', found.message);
  if (ctx.phase === 'body') {
    if (found.code && /^E(NOSPC|ACCES|PERM|ROFS|DQUOT|NOENT|ISDIR|MFILE|EXIST)$/.test(found.code)) {
      return downloadFailed('io_error', `Writing the download failed: ${found.message}`);
    }
    return downloadFailed('truncated', `The connection ended before the whole recording arrived (${found.code ?? found.message})`);
  }
  return downloadFailed('connection_error', `Could not fetch the recording (${found.code ?? 'error'}: ${found.message})`);
}

/** Walk an error and its causes for a code. */
function findCode(err: unknown): { code?: string; message: string; refused?: boolean } {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === ADDRESS_REFUSED) return { code, message: (e as Error).message, refused: true };
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) break;
    e = cause;
  }
  const top = err as { code?: unknown; message?: unknown };
  return { code: typeof top?.code === 'string' ? top.code : undefined, message: String(top?.message ?? err) };
}
