import { mkdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { fail, ok, type StorageError, type StorageResult, storageError } from './port.ts';

/** Suffix of the temp files `put` writes before renaming; never listed, never a valid object name. */
export const TEMP_SUFFIX = '.callrec-tmp';

/**
 * The real path of the storage root, created on first use. A root that cannot be created or is not a
 * directory (volume not mounted, replaced by a file) is `unavailable`, retryable.
 */
export async function ensureRoot(root: string): Promise<StorageResult<string>> {
  try {
    let real: string;
    try {
      real = await realpath(root);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      await mkdir(root, { recursive: true });
      real = await realpath(root);
    }
    const info = await stat(real);
    if (!info.isDirectory()) return fail('unavailable', 'recording storage root is not a directory', { retryable: true });
    return ok(real);
  } catch (err) {
    return fail('unavailable', `recording storage root is not usable: ${describe(err)}`, { retryable: true });
  }
}

export function isInside(realRoot: string, candidate: string): boolean {
  return candidate.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

export type Resolved = { kind: 'found'; real: string } | { kind: 'missing' } | { kind: 'outside' };

/**
 * Resolves a validated relative path under the root through symlinks. Anything whose real path leaves
 * the root is `outside`, whatever it points at.
 */
export async function resolveExisting(realRoot: string, relPath: string): Promise<Resolved> {
  const lexical = join(realRoot, ...relPath.split('/'));
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    throw err;
  }
  return isInside(realRoot, real) ? { kind: 'found', real } : { kind: 'outside' };
}

export function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps a filesystem error to the port's error codes. */
export function fsError(err: unknown, what: string): StorageError {
  const code = errno(err);
  const message = `${what}: ${describe(err)}`;
  switch (code) {
    case 'ENOENT':
      return storageError('not_found', message);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return storageError('unauthorized', message);
    case 'EEXIST':
    case 'EISDIR':
    case 'ENOTDIR':
    case 'ENOTEMPTY':
      return storageError('conflict', message);
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EIO':
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
    case 'ESTALE':
    case 'ETIMEDOUT':
      return storageError('unavailable', message, { retryable: true });
    default:
      return storageError('unknown', message);
  }
}
