import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ensureRoot, errno, fsError, isInside, resolveExisting, TEMP_SUFFIX } from './localFs.ts';
import { buildLocalSignedUrl } from './localSignature.ts';
import {
  fail,
  ok,
  type RecordingStorage,
  type StorageResult,
  type StoredObject,
  StorageListError,
  storageError,
  validateObjectPath,
  validatePrefix,
} from './port.ts';

export { verifyLocalSignature, buildLocalSignedUrl, localSignature } from './localSignature.ts';

export interface LocalStorageOptions {
  /** Directory holding the objects (created on first use). */
  root: string;
  /** Where the koa app serving `createLocalRecordingHandler` is reachable, e.g. `http://localhost:3000`. */
  publicBaseUrl: string;
  /** HMAC key for signed URLs; the same value must be given to the handler. */
  signingSecret: string | Buffer;
  clock?: () => Date;
  /** Path the handler is mounted at (default `/recordings`). */
  routePrefix?: string;
}

export interface LocalRecordingStorage extends RecordingStorage {
  kind: 'local';
  root: string;
}

/** Recording storage on local disk: atomic writes (temp file + rename), HMAC-signed URLs. */
export function createLocalStorage(options: LocalStorageOptions): LocalRecordingStorage {
  const { root, publicBaseUrl, signingSecret, routePrefix } = options;
  const clock = options.clock ?? (() => new Date());
  if (!root) throw new Error('local storage: root is required');
  if (!publicBaseUrl) throw new Error('local storage: publicBaseUrl is required');
  if (!signingSecret || signingSecret.length < 16) throw new Error('local storage: signingSecret must be at least 16 bytes');

  function checkPath(path: string): StorageResult<string> {
    const valid = validateObjectPath(path);
    if (valid.ok && path.endsWith(TEMP_SUFFIX)) return fail('invalid_path', 'object path uses a reserved suffix');
    return valid;
  }

  async function put(path: string, filePath: string, _opts: { contentType: string }): Promise<StorageResult<{ bytes: number }>> {
    const valid = checkPath(path);
    if (!valid.ok) return valid;
    const rootResult = await ensureRoot(root);
    if (!rootResult.ok) return rootResult;
    const realRoot = rootResult.value;

    try {
      const source = await stat(filePath);
      if (!source.isFile()) return fail('unknown', `source is not a regular file: ${filePath}`);
    } catch (err) {
      return { ok: false, error: { ...fsError(err, 'cannot read source file'), code: 'unknown', retryable: false } };
    }

    const target = join(realRoot, ...path.split('/'));
    const name = basename(target);
    // A concurrent remove may prune the (empty) folder between mkdir and open: try again a few times.
    for (let attempt = 1; ; attempt++) {
      let realDir: string;
      try {
        await mkdir(dirname(target), { recursive: true });
        realDir = await realpath(dirname(target));
      } catch (err) {
        return { ok: false, error: fsError(err, 'cannot create folder') };
      }
      if (!isInside(realRoot, realDir)) return fail('invalid_path', 'object path leaves the storage root');
      const tempPath = join(realDir, `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
      try {
        await pipeline(createReadStream(filePath), createWriteStream(tempPath, { flags: 'wx', mode: 0o644 }));
      } catch (err) {
        await unlink(tempPath).catch(() => undefined);
        if (errno(err) === 'ENOENT' && attempt < 3) continue; // folder pruned under us
        return { ok: false, error: fsError(err, 'cannot write object') };
      }
      try {
        const handle = await open(tempPath, 'r+');
        try {
          await handle.sync(); // durable before it becomes visible
        } finally {
          await handle.close();
        }
        const written = await stat(tempPath);
        await rename(tempPath, join(realDir, name));
        await syncDir(realDir);
        return ok({ bytes: written.size });
      } catch (err) {
        await unlink(tempPath).catch(() => undefined);
        return { ok: false, error: fsError(err, 'cannot write object') };
      }
    }
  }

  async function statObject(path: string): Promise<StorageResult<StoredObject | null>> {
    const valid = checkPath(path);
    if (!valid.ok) return valid;
    const rootResult = await ensureRoot(root);
    if (!rootResult.ok) return rootResult;
    try {
      const resolved = await resolveExisting(rootResult.value, path);
      if (resolved.kind === 'outside') return fail('invalid_path', 'object path leaves the storage root');
      if (resolved.kind === 'missing') return ok(null);
      const info = await stat(resolved.real);
      if (!info.isFile()) return ok(null);
      return ok({ path, bytes: info.size, lastModified: info.mtime });
    } catch (err) {
      if (errno(err) === 'ENOENT') return ok(null);
      return { ok: false, error: fsError(err, 'cannot stat object') };
    }
  }

  async function createSignedUrl(path: string, expiresInSeconds: number): Promise<StorageResult<{ url: string; expiresAt: Date }>> {
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1) {
      return fail('unknown', 'expiresInSeconds must be a positive integer');
    }
    const found = await statObject(path);
    if (!found.ok) return found;
    if (found.value === null) return fail('not_found', `no object at ${path}`, { status: 404 });
    const expires = Math.floor(clock().getTime() / 1000) + expiresInSeconds;
    const url = buildLocalSignedUrl({ publicBaseUrl, signingSecret, path, expires, routePrefix });
    return ok({ url, expiresAt: new Date(expires * 1000) });
  }

  async function* list(prefix: string, _opts?: { pageSize?: number }): AsyncGenerator<StoredObject> {
    const valid = validatePrefix(prefix);
    if (!valid.ok) throw new StorageListError(valid.error);
    const rootResult = await ensureRoot(root);
    if (!rootResult.ok) throw new StorageListError(rootResult.error);
    const realRoot = rootResult.value;

    let start = '';
    if (valid.value !== '') {
      const resolved = await resolveExisting(realRoot, valid.value).catch((err) => {
        throw new StorageListError(fsError(err, 'cannot list'));
      });
      if (resolved.kind === 'outside') throw new StorageListError(storageError('invalid_path', 'prefix leaves the storage root'));
      if (resolved.kind === 'missing') return;
      start = valid.value;
    }

    // Depth first; each folder is read whole, its files yielded in name order, then its sub-folders.
    const pending: string[] = [start];
    while (pending.length > 0) {
      const folder = pending.pop()!;
      const dir = folder === '' ? realRoot : join(realRoot, ...folder.split('/'));
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // removed while we walked
        throw new StorageListError(fsError(err, 'cannot list'));
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const folders: string[] = [];
      for (const entry of entries) {
        const rel = folder === '' ? entry.name : `${folder}/${entry.name}`;
        if (entry.isDirectory()) {
          folders.push(rel);
          continue;
        }
        if (!entry.isFile() || entry.name.endsWith(TEMP_SUFFIX)) continue; // symlinks and temp files are not objects
        let info;
        try {
          info = await lstat(join(dir, entry.name));
        } catch (err) {
          if (errno(err) === 'ENOENT') continue;
          throw new StorageListError(fsError(err, 'cannot list'));
        }
        yield { path: rel, bytes: info.size, lastModified: info.mtime };
      }
      for (let i = folders.length - 1; i >= 0; i--) pending.push(folders[i]!);
    }
  }

  async function remove(paths: string[]): Promise<StorageResult<{ removed: number }>> {
    for (const path of paths) {
      const valid = checkPath(path);
      if (!valid.ok) return valid;
    }
    const rootResult = await ensureRoot(root);
    if (!rootResult.ok) return rootResult;
    const realRoot = rootResult.value;
    let removed = 0;
    for (const path of new Set(paths)) {
      try {
        const resolved = await resolveExisting(realRoot, path);
        if (resolved.kind !== 'found') continue;
        const info = await lstat(resolved.real);
        if (!info.isFile()) continue;
        await unlink(resolved.real);
        removed++;
        await pruneEmptyFolders(realRoot, dirname(resolved.real));
      } catch (err) {
        if (errno(err) === 'ENOENT') continue;
        return { ok: false, error: fsError(err, `cannot remove ${path}`) };
      }
    }
    return ok({ removed });
  }

  return { kind: 'local', root, put, stat: statObject, createSignedUrl, list, remove };
}

/** Folders exist only to hold objects (as in Supabase); drop the ones a removal emptied. */
async function pruneEmptyFolders(realRoot: string, dir: string): Promise<void> {
  let current = dir;
  while (isInside(realRoot, current)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty (or gone): stop
    }
    current = dirname(current);
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort: some filesystems refuse fsync on a directory
  }
}
