import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DownloadFailure } from './downloadErrors.ts';

/**
 * A response body streamed into a file in constant memory, hashed on the way, cut off past `maxBytes`. It is
 * written to `<path>.part` and renamed to `path` only when complete, so `path` never holds a partial body.
 */

export interface BodyLimits {
  maxBytes: number;
  /** the announced Content-Length: fewer bytes than this is a truncated body */
  expectedBytes: number | null;
}

export interface SavedBody {
  bytes: number;
  sha256: string;
}

/**
 * Throws a `DownloadFailure` (`too_large`, `truncated`) for a body outside its limits and whatever the stream
 * or the file system throws otherwise; on any failure the partial file is removed.
 */
export async function saveBodyToFile(body: Readable, path: string, limits: BodyLimits): Promise<SavedBody> {
  const tempPath = `${path}.part`;
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        callback(DownloadFailure.of('too_large', `The recording is larger than ${limits.maxBytes} bytes`));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(tempPath, { flags: 'wx' }));
    if (limits.expectedBytes !== null && bytes !== limits.expectedBytes) {
      throw DownloadFailure.of('truncated', `Received ${bytes} of ${limits.expectedBytes} bytes`);
    }
    await rename(tempPath, path);
  } catch (err) {
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw err;
  }
  return { bytes, sha256: hash.digest('hex') };
}
