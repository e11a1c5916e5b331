import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { createStorageFetch } from './streamingFetch.ts';
import {
  fail,
  ok,
  type RecordingStorage,
  type StorageError,
  type StorageResult,
  type StoredObject,
  StorageListError,
  storageError,
  validateObjectPath,
  validatePrefix,
} from './port.ts';

/** `ws` works as the realtime transport; its constructor type differs from supabase's only in overloads. */
type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

export interface SupabaseStorageOptions {
  /** Project URL, e.g. `https://xyz.supabase.co` (the client adds `/storage/v1`). */
  url: string;
  serviceRoleKey: string;
  bucket: string;
  clock?: () => Date;
  /** Deadline for every request except uploads (default 30 s). */
  requestTimeoutMs?: number;
  /** Deadline for an upload, body included (default 30 min). */
  uploadTimeoutMs?: number;
  /** Default page size for `list` (default 100, at most 1000). */
  pageSize?: number;
}

export interface SupabaseRecordingStorage extends RecordingStorage {
  kind: 'supabase';
  bucket: string;
}

/**
 * Characters allowed in keys: Supabase's own key rule minus what supabase-js would put into the URL
 * unencoded and change its meaning (`?`, `#`, `%`, `&`, space).
 */
const SAFE_KEY = /^[A-Za-z0-9/_.\-!*'()@=:;+,$]+$/;

function checkKey(path: string): StorageResult<string> {
  const valid = validateObjectPath(path);
  if (valid.ok && !SAFE_KEY.test(path)) return fail('invalid_path', 'object path has characters Supabase Storage keys cannot carry');
  return valid;
}

/** Supabase Storage refuses more than this many paths in one delete. */
const REMOVE_BATCH = 1000;

/**
 * Recording storage on Supabase Storage through supabase-js. Uploads stream the file with
 * `x-upsert: true` and a Content-Length (streamingFetch.ts says why not through `fetch`). Every call
 * resolves to a result and never throws (`list` throws `StorageListError`).
 */
export function createSupabaseStorage(options: SupabaseStorageOptions): SupabaseRecordingStorage {
  const { url, serviceRoleKey, bucket } = options;
  if (!url) throw new Error('supabase storage: url is required');
  if (!serviceRoleKey) throw new Error('supabase storage: serviceRoleKey is required');
  if (!bucket) throw new Error('supabase storage: bucket is required');
  const clock = options.clock ?? (() => new Date());
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const uploadTimeoutMs = options.uploadTimeoutMs ?? 30 * 60_000;
  const defaultPageSize = clampPageSize(options.pageSize ?? 100);

  const client = createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as RealtimeTransport }, // required on Node 20; never connected here
    global: { fetch: createStorageFetch({ requestTimeoutMs, uploadTimeoutMs }) },
  });
  const files = () => client.storage.from(bucket);

  async function put(path: string, filePath: string, opts: { contentType: string }): Promise<StorageResult<{ bytes: number }>> {
    const valid = checkKey(path);
    if (!valid.ok) return valid;
    let bytes: number;
    try {
      const info = await stat(filePath);
      if (!info.isFile()) return fail('unknown', `source is not a regular file: ${filePath}`);
      bytes = info.size;
    } catch (err) {
      return fail('unknown', `cannot read source file: ${err instanceof Error ? err.message : String(err)}`);
    }
    const body = createReadStream(filePath);
    try {
      const { error } = await files().upload(path, body, {
        upsert: true,
        contentType: opts.contentType,
        cacheControl: '3600',
        duplex: 'half',
        headers: { 'content-length': String(bytes) },
      });
      if (error) return { ok: false, error: mapSupabaseError(error) };
      return ok({ bytes });
    } catch (err) {
      return { ok: false, error: mapSupabaseError(err) };
    } finally {
      body.destroy();
    }
  }

  async function statObject(path: string): Promise<StorageResult<StoredObject | null>> {
    const valid = checkKey(path);
    if (!valid.ok) return valid;
    try {
      const { data, error } = await files().info(path);
      if (error) {
        const mapped = mapSupabaseError(error);
        return mapped.code === 'not_found' ? ok(null) : { ok: false, error: mapped };
      }
      const info = data as { size?: number | null; lastModified?: string | null; createdAt?: string | null };
      return ok({ path, bytes: Number(info.size ?? 0), lastModified: toDate(info.lastModified ?? info.createdAt) });
    } catch (err) {
      return { ok: false, error: mapSupabaseError(err) };
    }
  }

  async function createSignedUrl(path: string, expiresInSeconds: number): Promise<StorageResult<{ url: string; expiresAt: Date }>> {
    const valid = checkKey(path);
    if (!valid.ok) return valid;
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1) {
      return fail('unknown', 'expiresInSeconds must be a positive integer');
    }
    try {
      const issuedAt = clock().getTime();
      const { data, error } = await files().createSignedUrl(path, expiresInSeconds);
      if (error) return { ok: false, error: mapSupabaseError(error) };
      return ok({ url: data.signedUrl, expiresAt: new Date(issuedAt + expiresInSeconds * 1000) });
    } catch (err) {
      return { ok: false, error: mapSupabaseError(err) };
    }
  }

  async function* list(prefix: string, opts?: { pageSize?: number }): AsyncGenerator<StoredObject> {
    const valid = validatePrefix(prefix);
    if (!valid.ok) throw new StorageListError(valid.error);
    if (valid.value !== '' && !SAFE_KEY.test(valid.value)) {
      throw new StorageListError(storageError('invalid_path', 'prefix has characters Supabase Storage keys cannot carry'));
    }
    const limit = opts?.pageSize === undefined ? defaultPageSize : clampPageSize(opts.pageSize);

    const pending: string[] = [valid.value];
    while (pending.length > 0) {
      const folder = pending.pop()!;
      // Read the whole folder first, so a caller deleting what we yield does not shift our offsets.
      const entries: ListEntry[] = [];
      for (let offset = 0; ; offset += limit) {
        let page: ListEntry[];
        try {
          const { data, error } = await files().list(escapeLike(folder), { limit, offset, sortBy: { column: 'name', order: 'asc' } });
          if (error) throw new StorageListError(mapSupabaseError(error));
          page = (data ?? []) as ListEntry[];
        } catch (err) {
          throw err instanceof StorageListError ? err : new StorageListError(mapSupabaseError(err));
        }
        entries.push(...page);
        if (page.length < limit) break;
      }
      const folders: string[] = [];
      const objects: StoredObject[] = [];
      for (const entry of entries) {
        const path = folder === '' ? entry.name : `${folder}/${entry.name}`;
        if (entry.id === null || entry.id === undefined) folders.push(path);
        else if (entry.name !== '.emptyFolderPlaceholder') {
          objects.push({
            path,
            bytes: Number(entry.metadata?.size ?? entry.metadata?.contentLength ?? 0),
            lastModified: toDate(entry.updated_at ?? entry.created_at ?? entry.metadata?.lastModified),
          });
        }
      }
      objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      folders.sort();
      yield* objects;
      for (let i = folders.length - 1; i >= 0; i--) pending.push(folders[i]!);
    }
  }

  async function remove(paths: string[]): Promise<StorageResult<{ removed: number }>> {
    for (const path of paths) {
      const valid = checkKey(path);
      if (!valid.ok) return valid;
    }
    const unique = [...new Set(paths)];
    let removed = 0;
    for (let i = 0; i < unique.length; i += REMOVE_BATCH) {
      try {
        const { data, error } = await files().remove(unique.slice(i, i + REMOVE_BATCH));
        if (error) {
          const mapped = mapSupabaseError(error);
          if (removed > 0) mapped.message += ` (after removing ${removed})`;
          return { ok: false, error: mapped };
        }
        removed += data?.length ?? 0;
      } catch (err) {
        return { ok: false, error: mapSupabaseError(err) };
      }
    }
    return ok({ removed });
  }

  return { kind: 'supabase', bucket, put, stat: statObject, createSignedUrl, list, remove };
}

interface ListEntry {
  name: string;
  id: string | null;
  updated_at?: string | null;
  created_at?: string | null;
  metadata?: { size?: number; contentLength?: number; lastModified?: string } | null;
}

/**
 * Storage matches the list prefix with SQL `LIKE` (`lower(name) LIKE lower(prefix) || '%'`), so `_` in
 * `org_1/` would also match `orgX1/`. Escape the wildcards (object paths never contain a backslash).
 * Matching stays case-insensitive: folders differing only in case are merged by the service.
 */
export function escapeLike(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function clampPageSize(n: number): number {
  return Number.isFinite(n) ? Math.min(1000, Math.max(1, Math.floor(n))) : 100;
}

function toDate(value: string | null | undefined): Date {
  const date = value ? new Date(value) : new Date(NaN);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}

const NOT_FOUND_NAMES = new Set(['not_found', 'nosuchkey', 'nosuchbucket', 'nosuchupload']);
const CONFLICT_NAMES = new Set(['duplicate', 'keyalreadyexists', 'resourcealreadyexists', 'conflict']);
const UNAUTHORIZED_NAMES = new Set(['unauthorized', 'invalidjwt', 'accessdenied', 'forbidden']);
const UNAVAILABLE_NAMES = new Set(['databasetimeout', 'slowdown', 'internalerror', 'acquiring_lock_timeout', 'lockTimeout'.toLowerCase()]);

/**
 * supabase-js error → port error. Storage answers most errors with HTTP 400 and the real status as a
 * string in the body (`statusCode: "404"`); supabase-js keeps the transport status in `status` and the body's
 * `statusCode` (or `code`) in `statusCode`. No HTTP answer at all (refused, reset, timeout) is `unavailable`.
 */
export function mapSupabaseError(err: unknown): StorageError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    status?: unknown;
    statusCode?: unknown;
    message?: unknown;
    originalError?: unknown;
    name?: unknown;
  };
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const transport = typeof e.status === 'number' ? e.status : undefined;
  const bodyCode = typeof e.statusCode === 'string' ? e.statusCode : undefined;

  if (transport === undefined) {
    // StorageUnknownError (fetch rejected) or anything thrown: the service did not answer.
    return storageError('unavailable', `storage unreachable: ${message}${causeOf(e.originalError ?? err)}`, { retryable: true });
  }

  const numeric = bodyCode && /^\d{3}$/.test(bodyCode) ? Number(bodyCode) : undefined;
  const status = numeric ?? transport;
  const name = (bodyCode ?? '').toLowerCase();
  const lowerMessage = message.toLowerCase();

  if (status >= 500 || status === 408 || status === 429 || UNAVAILABLE_NAMES.has(name)) {
    return storageError('unavailable', `storage unavailable (${status}): ${message}`, { retryable: true, status });
  }
  // A missing bucket is configuration, not a missing object: stat must not answer "no such object".
  if ((status === 404 || NOT_FOUND_NAMES.has(name)) && /bucket/i.test(message)) {
    return storageError('unknown', `bucket not found: ${message}`, { status: 404 });
  }
  if (status === 404 || NOT_FOUND_NAMES.has(name)) return storageError('not_found', message, { status: 404 });
  if (status === 409 || CONFLICT_NAMES.has(name)) return storageError('conflict', message, { status: 409 });
  if (status === 401 || status === 403 || UNAUTHORIZED_NAMES.has(name)) return storageError('unauthorized', message, { status });
  if (name === 'invalidkey' || lowerMessage.includes('invalid key')) return storageError('invalid_path', message, { status });
  return storageError('unknown', message, { status });
}

function causeOf(err: unknown): string {
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? (err as { cause?: unknown }).cause : undefined;
  if (!cause || typeof cause !== 'object') return '';
  const c = cause as { code?: unknown; message?: unknown };
  return ` (${typeof c.code === 'string' ? c.code : typeof c.message === 'string' ? c.message : 'cause unknown'})`;
}
