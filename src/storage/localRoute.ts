import { open } from 'node:fs/promises';
import type { Middleware } from 'koa';
import { errorBody } from '../errors.ts';
import { ensureRoot, resolveExisting } from './localFs.ts';
import { verifyLocalSignature } from './localSignature.ts';
import { contentTypeForPath, validateObjectPath } from './port.ts';

export interface LocalRecordingHandlerOptions {
  /** The storage root; or pass the local storage itself as `storage`. */
  root?: string;
  storage?: { root: string };
  signingSecret: string | Buffer;
  clock?: () => Date;
  /** Mount path, default `/recordings` (must match the storage's `routePrefix`). */
  prefix?: string;
  onRejected?: (reason: 'expired' | 'invalid') => void;
}

export type ByteRange = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range against a resource of `size` bytes. A header we do not understand (other unit,
 * several ranges, bad syntax) is ignored (`none`: serve everything), as HTTP allows.
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return { kind: 'none' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  const a = first === '' ? undefined : Number(first);
  const b = last === '' ? undefined : Number(last);
  if ((a !== undefined && !Number.isSafeInteger(a)) || (b !== undefined && !Number.isSafeInteger(b))) return { kind: 'none' };
  if (a === undefined) {
    // suffix: the last b bytes
    if (b === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - b!), end: size - 1 };
  }
  if (b !== undefined && b < a) return { kind: 'none' };
  if (a >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start: a, end: b === undefined ? size - 1 : Math.min(b, size - 1) };
}

/**
 * Koa middleware serving signed local recording URLs: `GET|HEAD <prefix>/<path...>?expires=&sig=`.
 * Mount it directly on the app (`app.use(handler)`) ahead of other routes: it answers only GET/HEAD whose
 * `ctx.path` starts with `<prefix>/` and calls `next()` for everything else.
 *
 * 403 `signed_url_invalid` / `signed_url_expired` (checked before anything touches the disk), 404 when
 * missing or outside the root (symlinks included), 206/416 for `Range`, `Cache-Control: private`.
 */
export function createLocalRecordingHandler(options: LocalRecordingHandlerOptions): Middleware {
  const root = options.root ?? options.storage?.root;
  if (!root) throw new Error('local recording handler: root or storage is required');
  if (!options.signingSecret || options.signingSecret.length < 16) {
    throw new Error('local recording handler: signingSecret must be at least 16 bytes');
  }
  const prefix = (options.prefix ?? '/recordings').replace(/\/+$/, '');
  const clock = options.clock ?? (() => new Date());

  return async function serveLocalRecording(ctx, next) {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !ctx.path.startsWith(`${prefix}/`)) return next();

    let path: string;
    try {
      path = ctx.path.slice(prefix.length + 1).split('/').map(decodeURIComponent).join('/');
    } catch {
      path = '';
    }

    const now = clock();
    const check = verifyLocalSignature({
      signingSecret: options.signingSecret,
      path,
      expires: ctx.query.expires,
      sig: ctx.query.sig,
      now,
    });
    if (!check.ok) {
      options.onRejected?.(check.reason);
      ctx.status = 403;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = check.reason === 'expired' ? errorBody('signed_url_expired') : errorBody('signed_url_invalid');
      return;
    }

    const notFound = () => {
      ctx.status = 404;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = errorBody('not_found', 'Recording not found');
    };
    if (!validateObjectPath(path).ok) return notFound();
    const realRoot = await ensureRoot(root);
    if (!realRoot.ok) {
      ctx.status = 503;
      ctx.body = errorBody('storage_unavailable');
      return;
    }
    const resolved = await resolveExisting(realRoot.value, path);
    if (resolved.kind !== 'found') return notFound();

    let handle;
    try {
      handle = await open(resolved.real, 'r');
    } catch {
      return notFound();
    }
    let handedOff = false;
    try {
      const info = await handle.stat();
      if (!info.isFile()) return notFound();
      const size = info.size;

      ctx.set('Accept-Ranges', 'bytes');
      ctx.set('Cache-Control', `private, max-age=${Math.max(0, check.expires - Math.floor(now.getTime() / 1000))}`);
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.set('Last-Modified', info.mtime.toUTCString());

      const range = parseRange(ctx.get('Range') || undefined, size);
      if (range.kind === 'unsatisfiable') {
        ctx.status = 416;
        ctx.set('Content-Range', `bytes */${size}`);
        ctx.body = errorBody('range_not_satisfiable');
        return;
      }
      const start = range.kind === 'range' ? range.start : 0;
      const end = range.kind === 'range' ? range.end : size - 1;
      const length = size === 0 ? 0 : end - start + 1;
      ctx.status = range.kind === 'range' ? 206 : 200;
      if (range.kind === 'range') ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);

      if (ctx.method === 'HEAD' || length === 0) {
        if (ctx.method !== 'HEAD') ctx.body = '';
      } else {
        ctx.body = handle.createReadStream({ start, end }); // closes the handle when done or destroyed
        handedOff = true;
      }
      // setting a body may reset these: set them last
      ctx.type = contentTypeForPath(path);
      ctx.length = length;
    } finally {
      if (!handedOff) await handle.close().catch(() => undefined);
    }
  };
}
