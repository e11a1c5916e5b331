import type { ValueResult } from '../result.ts';

/**
 * The recording storage port: what the pipeline, the URL routes and the orphan sweep need from object
 * storage. Two adapters implement it: local disk (./local.ts) and Supabase Storage (./supabase.ts).
 *
 * Object paths are bucket-relative, `/`-separated, never absolute and never contain `.`/`..` segments;
 * every adapter calls `validateObjectPath` before touching anything.
 */

export interface StoredObject {
  path: string;
  bytes: number;
  lastModified: Date;
}

export type StorageErrorCode = 'not_found' | 'unavailable' | 'unauthorized' | 'conflict' | 'invalid_path' | 'unknown';

export interface StorageError {
  code: StorageErrorCode;
  message: string;
  retryable: boolean;
  /** HTTP status (Supabase: the real one from the body when it differs from the transport status). */
  status?: number;
}

export type StorageResult<T> = ValueResult<T, StorageError>;

export interface RecordingStorage {
  kind: 'local' | 'supabase';
  /** Upload a local file to `path`, overwriting (upsert). Never leaves a half-written object visible. */
  put(path: string, filePath: string, opts: { contentType: string }): Promise<StorageResult<{ bytes: number }>>;
  /** `null` when there is no object at `path`. */
  stat(path: string): Promise<StorageResult<StoredObject | null>>;
  /** Fails with `not_found` when the object does not exist. */
  createSignedUrl(path: string, expiresInSeconds: number): Promise<StorageResult<{ url: string; expiresAt: Date }>>;
  /**
   * Pages through every object under the folder `prefix` (recursive; '' = everything), `pageSize` per
   * request. Each folder is read completely before its objects are yielded, so removing yielded objects
   * while iterating is safe. Failures are thrown as `StorageListError` (carrying a `StorageError`).
   */
  list(prefix: string, opts?: { pageSize?: number }): AsyncIterable<StoredObject>;
  /** Removes the objects that exist; missing paths are not an error. `removed` counts real deletions. */
  remove(paths: string[]): Promise<StorageResult<{ removed: number }>>;
}

// ---------------------------------------------------------------------------------------------------

export function ok<T>(value: T): StorageResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(
  code: StorageErrorCode,
  message: string,
  extra: { retryable?: boolean; status?: number } = {},
): StorageResult<T> {
  return { ok: false, error: storageError(code, message, extra) };
}

export function storageError(
  code: StorageErrorCode,
  message: string,
  extra: { retryable?: boolean; status?: number } = {},
): StorageError {
  const error: StorageError = { code, message, retryable: extra.retryable ?? code === 'unavailable' };
  if (extra.status !== undefined) error.status = extra.status;
  return error;
}

/** What `list` throws: an async iterable cannot return a result, so the error travels in the exception. */
export class StorageListError extends Error {
  readonly storageError: StorageError;
  constructor(error: StorageError) {
    super(error.message);
    this.name = 'StorageListError';
    this.storageError = error;
  }
}

export function isStorageListError(err: unknown): err is StorageListError {
  return err instanceof StorageListError;
}

// ---------------------------------------------------------------------------------------------------

/** Same limit as Supabase Storage object names. */
export const MAX_OBJECT_PATH_LENGTH = 1024;

/**
 * Refuses anything that could address outside the bucket/root or be read two ways: empty, absolute,
 * backslashes, NUL or other control characters, empty segments (`a//b`, trailing `/`), `.` and `..`.
 */
export function validateObjectPath(path: unknown): StorageResult<string> {
  if (typeof path !== 'string' || path.length === 0) return fail('invalid_path', 'object path is empty');
  if (path.length > MAX_OBJECT_PATH_LENGTH) return fail('invalid_path', 'object path is too long');
  if (path.startsWith('/')) return fail('invalid_path', 'object path must be relative');
  if (path.includes('\\')) return fail('invalid_path', 'object path must not contain a backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return fail('invalid_path', 'object path must not contain control characters');
  for (const segment of path.split('/')) {
    if (segment === '') return fail('invalid_path', 'object path must not contain empty segments');
    if (segment === '.' || segment === '..') return fail('invalid_path', 'object path must not contain . or .. segments');
  }
  return ok(path);
}

/** A folder prefix for `list`: '' (everything) or a valid path, one trailing '/' tolerated. Returns it without the '/'. */
export function validatePrefix(prefix: unknown): StorageResult<string> {
  if (prefix === '' || prefix === undefined) return ok('');
  if (typeof prefix !== 'string') return fail('invalid_path', 'prefix must be a string');
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return validateObjectPath(trimmed);
}

const ID_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
const EXTENSION = /^[a-z0-9]{1,10}$/;

/**
 * The one place a recording's object path is decided: `<orgId>/<yyyy>/<mm>/<dd>/<callId>.<ext>` with the
 * UTC date the call ended. Deterministic, so re-running an upload overwrites instead of adding an object.
 */
export function recordingObjectPath(input: { orgId: string; endedAt: Date; callId: string; ext: string }): StorageResult<string> {
  const { orgId, endedAt, callId } = input;
  for (const [name, value] of [['orgId', orgId], ['callId', callId]] as const) {
    if (typeof value !== 'string' || !ID_SEGMENT.test(value) || value.includes('..')) {
      return fail('invalid_path', `${name} is not a valid path segment`);
    }
  }
  const ext = typeof input.ext === 'string' ? input.ext.replace(/^\./, '').toLowerCase() : '';
  if (!EXTENSION.test(ext)) return fail('invalid_path', 'ext is not a valid file extension');
  if (!(endedAt instanceof Date) || Number.isNaN(endedAt.getTime())) return fail('invalid_path', 'endedAt is not a valid date');
  const yyyy = String(endedAt.getUTCFullYear()).padStart(4, '0');
  const mm = String(endedAt.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(endedAt.getUTCDate()).padStart(2, '0');
  return ok(`${orgId}/${yyyy}/${mm}/${dd}/${callId}.${ext}`);
}

const CONTENT_TYPES: Record<string, string> = {
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  m4a: 'audio/mp4',
  mp4: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  webm: 'audio/webm',
  json: 'application/json',
};

/** Content type for a recording path, from its extension. */
export function contentTypeForPath(path: string): string {
  const dot = path.lastIndexOf('.');
  const ext = dot >= 0 && dot > path.lastIndexOf('/') ? path.slice(dot + 1).toLowerCase() : '';
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}
