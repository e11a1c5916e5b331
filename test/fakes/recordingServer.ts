import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { mp3Bytes, wavStream, wavTotalBytes } from './audioFiles.ts';

/**
 * A local stand-in for wherever Vapi's recordings live (a CDN or a storage bucket behind a signed URL), on
 * 127.0.0.1 with a random port. It generates audio on the fly and misbehaves on request.
 *
 * Resources
 *   GET /rec/<name>.wav?seconds=30&rate=8000&channels=1&bits=16   generated WAV (or &bytes=N for a total size)
 *   GET /rec/<name>.mp3?seconds=5&rate=8000&channels=1&kbps=32    generated MP3
 *   GET /big.wav?bytes=524288000&rate=8000&channels=1             WAV streamed in constant memory
 *   GET /random.bin?bytes=N                                       deterministic noise (not audio)
 *   GET /redirect?to=<url>&status=302                             redirect anywhere (e.g. http://169.254.169.254/)
 *   GET /chain?n=3&to=<url>                                       n redirects to itself, then one to `to`
 * Query flags accepted on every path
 *   fail=<status>    answer with that status (500, 404, 429 …) and a small text body
 *   fail=hang        never answer
 *   fail=drip        send headers, then `dripBytes` (default 1) bytes every `dripMs` (default 100) ms
 *   paceMs=<ms>      (no failure) the real body, `paceBytes` (default 8192) every `paceMs` ms
 *   fail=truncate    Content-Length of the whole body, half of it, then destroy the socket
 *   fail=reset       reset the connection before any response
 *   fail=html        200 text/html login page;  fail=json  200 application/json error
 *   auth=<token>     401 unless `Authorization: Bearer <token>`
 *   chunked=1        no Content-Length (chunked transfer)
 *   type=<mime>      Content-Type to send instead of the natural one
 * failNext(pathPrefix, n, mode) makes the next n requests under pathPrefix fail in `mode`, then behave.
 */

export type FailMode = number | 'hang' | 'drip' | 'truncate' | 'reset' | 'html' | 'json';

export interface LoggedRequest {
  method: string;
  /** path and query */
  path: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  requests: LoggedRequest[];
  /** make the next `n` requests whose path starts with `pathPrefix` fail in `mode` */
  failNext(pathPrefix: string, n: number, mode: FailMode): void;
  close(): Promise<void>;
}

interface Body {
  length: number;
  contentType: string;
  stream(): Readable;
}

const mp3Cache = new Map<string, Buffer>();

function num(q: URLSearchParams, key: string, fallback: number): number {
  const v = q.get(key);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}

function noiseStream(bytes: number): Readable {
  let seed = 0x9e3779b9;
  let remaining = bytes;
  return new Readable({
    read() {
      const n = Math.min(64 * 1024, remaining);
      const buf = Buffer.alloc(n);
      for (let i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        buf[i] = seed & 0xff;
      }
      remaining -= n;
      this.push(buf);
      if (remaining === 0) this.push(null);
    },
  });
}

function resolveBody(pathname: string, q: URLSearchParams): Body | null {
  const format = {
    sampleRate: num(q, 'rate', 8000),
    channels: num(q, 'channels', 1),
    bitsPerSample: num(q, 'bits', 16) as 8 | 16 | 24 | 32,
  };
  if (pathname === '/big.wav' || (pathname.startsWith('/rec/') && pathname.endsWith('.wav'))) {
    const size = q.has('bytes') || pathname === '/big.wav' ? { bytes: num(q, 'bytes', 524_288_000) } : { seconds: num(q, 'seconds', 30) };
    const opts = { ...format, ...size };
    return { length: wavTotalBytes(opts), contentType: 'audio/wav', stream: () => wavStream(opts) };
  }
  if (pathname.startsWith('/rec/') && pathname.endsWith('.mp3')) {
    const opts = {
      seconds: num(q, 'seconds', 5),
      sampleRate: format.sampleRate,
      channels: (format.channels === 2 ? 2 : 1) as 1 | 2,
      kbps: num(q, 'kbps', 32),
    };
    const key = JSON.stringify(opts);
    let bytes = mp3Cache.get(key);
    if (!bytes) {
      bytes = mp3Bytes(opts);
      mp3Cache.set(key, bytes);
    }
    const data = bytes;
    return { length: data.length, contentType: 'audio/mpeg', stream: () => Readable.from([data]) };
  }
  if (pathname === '/random.bin') {
    const n = num(q, 'bytes', 4096);
    return { length: n, contentType: 'application/octet-stream', stream: () => noiseStream(n) };
  }
  return null;
}

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Your session has expired</h1><p>Please sign in again.</p></body></html>\n';

export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: LoggedRequest[] = [];
  const rules: Array<{ prefix: string; remaining: number; mode: FailMode }> = [];
  const timers = new Set<NodeJS.Timeout>();
  let base = '';

  function takeRule(pathname: string): FailMode | null {
    const rule = rules.find((r) => r.remaining > 0 && pathname.startsWith(r.prefix));
    if (!rule) return null;
    rule.remaining--;
    return rule.mode;
  }

  function sendStatus(res: ServerResponse, status: number): void {
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (status === 429 || status === 503) headers['retry-after'] = '1';
    res.writeHead(status, headers);
    res.end(`simulated ${status}\n`);
  }

  function drip(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, body: Body | null): void {
    const every = num(q, 'dripMs', 100);
    const size = num(q, 'dripBytes', 1);
    res.writeHead(200, { 'content-type': body?.contentType ?? 'audio/wav', 'content-length': String(body?.length ?? 1_000_000) });
    const timer = setInterval(() => {
      if (res.destroyed) return;
      res.write(Buffer.alloc(size, 0x52));
    }, every);
    timers.add(timer);
    const stop = () => {
      clearInterval(timer);
      timers.delete(timer);
    };
    req.socket.once('close', stop);
  }

  async function truncate(res: ServerResponse, body: Body): Promise<void> {
    res.writeHead(200, { 'content-type': body.contentType, 'content-length': String(body.length) });
    const half = Math.floor(body.length / 2);
    let sent = 0;
    const source = body.stream();
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const piece = chunk.subarray(0, Math.max(0, half - sent));
      if (piece.length) {
        sent += piece.length;
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      }
      if (sent >= half) break;
    }
    source.destroy();
    // give the written half a moment to leave, then cut the connection mid-body
    setTimeout(() => res.socket?.destroy(), 20);
  }

  function fail(req: IncomingMessage, res: ServerResponse, mode: FailMode, q: URLSearchParams, body: Body | null): void {
    if (typeof mode === 'number') return sendStatus(res, mode);
    switch (mode) {
      case 'hang':
        return;
      case 'drip':
        return drip(req, res, q, body);
      case 'truncate':
        void truncate(res, body ?? { length: 64 * 1024, contentType: 'application/octet-stream', stream: () => noiseStream(64 * 1024) });
        return;
      case 'reset': {
        const socket = req.socket as typeof req.socket & { resetAndDestroy?: () => void };
        if (socket.resetAndDestroy) socket.resetAndDestroy();
        else socket.destroy();
        return;
      }
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(HTML_PAGE);
        return;
      case 'json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"error":"Forbidden","message":"The recording is not available"}\n');
        return;
    }
  }

  function parseMode(v: string): FailMode {
    return /^\d{3}$/.test(v) ? Number(v) : (v as FailMode);
  }

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers });
    const url = new URL(req.url ?? '/', base);
    const q = url.searchParams;
    const body = resolveBody(url.pathname, q);

    const programmed = takeRule(url.pathname);
    if (programmed !== null) return fail(req, res, programmed, q, body);
    const failParam = q.get('fail');
    if (failParam) return fail(req, res, parseMode(failParam), q, body);

    const token = q.get('auth');
    if (token !== null && req.headers.authorization !== `Bearer ${token}`) return sendStatus(res, 401);

    if (url.pathname === '/redirect') {
      res.writeHead(num(q, 'status', 302), { location: q.get('to') ?? '/' });
      res.end();
      return;
    }
    if (url.pathname === '/chain') {
      const n = num(q, 'n', 1);
      const to = q.get('to') ?? '/rec/chain.wav?seconds=1';
      const next = new URLSearchParams(q);
      next.set('n', String(n - 1));
      res.writeHead(302, { location: n > 0 ? `/chain?${next.toString()}` : to });
      res.end();
      return;
    }
    if (!body) return sendStatus(res, 404);

    const headers: Record<string, string> = { 'content-type': q.get('type') ?? body.contentType };
    if (q.get('chunked') !== '1') headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = body.stream();
    res.once('close', () => stream.destroy());
    const paceMs = num(q, 'paceMs', 0);
    if (paceMs <= 0) {
      stream.pipe(res);
      return;
    }
    // The real audio, slowly: at most `paceBytes` (default 8192) every `paceMs` ms.
    const paceBytes = num(q, 'paceBytes', 8192);
    (async () => {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; off += paceBytes) {
          if (res.destroyed) return;
          res.write(chunk.subarray(off, off + paceBytes));
          await new Promise((r) => setTimeout(r, paceMs));
        }
      }
      res.end();
    })().catch(() => res.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    port,
    requests,
    failNext(pathPrefix, n, mode) {
      rules.push({ prefix: pathPrefix, remaining: n, mode });
    },
    async close() {
      for (const t of timers) clearInterval(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
