/**
 * A stand-in for Supabase Storage on 127.0.0.1: the object routes supabase-js calls, under `/storage/v1`,
 * with the service's habits: errors as HTTP 400 whose body carries the real status as a string
 * (`{"statusCode":"404","error":"not_found","message":...}`), signed URLs as HS256 JWTs carrying
 * `{url: "<bucket>/<path>", iat, exp}`, folders in listings as entries with `id: null`, Range on downloads.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeObject {
  bytes: Buffer;
  contentType: string;
  cacheControl: string;
  id: string;
  version: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface FakeSupabaseStorage {
  /** Project URL to give to createClient (routes live under `${url}/storage/v1`). */
  url: string;
  bucket: string;
  /** Stored objects by path (bucket-relative). */
  objects: Map<string, FakeObject>;
  /** Every request seen: method, path (query stripped) and headers. */
  requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders }>;
  /** `true`: drop every connection (like a refused/reset connection); `'503'`: answer 503 with an HTML page. */
  setDown(down: boolean | '503'): void;
  setObjectTime(path: string, time: Date): void;
  close(): Promise<void>;
}

export interface FakeSupabaseStorageOptions {
  serviceRoleKey: string;
  bucket: string;
  clock?: () => Date;
}

const PREFIX = '/storage/v1';
/** Supabase Storage refuses larger deletes. */
const MAX_DELETE = 1000;

export async function startFakeSupabaseStorage(options: FakeSupabaseStorageOptions): Promise<FakeSupabaseStorage> {
  const { serviceRoleKey, bucket } = options;
  const clock = options.clock ?? (() => new Date());
  const jwtSecret = randomBytes(32);
  const objects = new Map<string, FakeObject>();
  const requests: FakeSupabaseStorage['requests'] = [];
  let down: false | true | '503' = false;
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, 500, '500', 'InternalError', String(err));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    if (down === true) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    requests.push({ method, path: parsed.pathname, headers: req.headers });
    if (down === true) {
      req.socket.destroy();
      return;
    }
    if (down === '503') {
      await drain(req);
      res.writeHead(503, { 'content-type': 'text/html' }).end('<html><body>503 Service Temporarily Unavailable</body></html>');
      return;
    }
    if (!parsed.pathname.startsWith(`${PREFIX}/object/`)) return notFound(res, req, 'Route not found');

    let rest: string[];
    try {
      rest = parsed.pathname.slice(`${PREFIX}/object/`.length).split('/').map(decodeURIComponent);
    } catch {
      return sendError(res, 400, '400', 'InvalidKey', 'Invalid key');
    }

    // Signed download: authorised by the token alone.
    if ((method === 'GET' || method === 'HEAD') && rest[0] === 'sign') {
      return serveSigned(req, res, rest.slice(1), parsed.searchParams.get('token'));
    }
    if (!authorised(req)) {
      await drain(req);
      return sendError(res, 400, '403', 'Unauthorized', 'invalid signature');
    }

    if (method === 'POST' && rest[0] === 'sign') return sign(req, res, rest.slice(1));
    if (method === 'POST' && rest[0] === 'list' && rest.length === 2) return list(req, res, rest[1]!);
    if (method === 'GET' && rest[0] === 'info') return info(req, res, rest.slice(1));
    if (method === 'DELETE' && rest.length === 1) return removeObjects(req, res, rest[0]!);
    if ((method === 'POST' || method === 'PUT') && rest.length >= 2) return upload(req, res, method, rest);
    if ((method === 'GET' || method === 'HEAD') && rest.length >= 2) {
      await drain(req);
      const target = locate(res, rest);
      if (target) serveBytes(req, res, target);
      return;
    }
    return notFound(res, req, 'Route not found');
  }

  function authorised(req: IncomingMessage): boolean {
    return sameSecret(req.headers.authorization, `Bearer ${serviceRoleKey}`) && sameSecret(req.headers.apikey, serviceRoleKey);
  }

  /** `[bucket, ...path]` → the object, or an error answer. */
  function locate(res: ServerResponse, parts: string[]): { path: string; obj: FakeObject } | null {
    const [bucketName, ...pathParts] = parts;
    if (bucketName !== bucket) {
      sendError(res, 400, '404', 'Bucket not found', 'Bucket not found');
      return null;
    }
    const path = pathParts.join('/');
    const obj = objects.get(path);
    if (!obj) {
      sendError(res, 400, '404', 'not_found', 'Object not found');
      return null;
    }
    return { path, obj };
  }

  async function upload(req: IncomingMessage, res: ServerResponse, method: string, parts: string[]): Promise<void> {
    const [bucketName, ...pathParts] = parts;
    const body = await readBody(req); // stored only once the whole body arrived: no half-written object
    if (body === null) return; // client went away
    if (bucketName !== bucket) return sendError(res, 400, '404', 'Bucket not found', 'Bucket not found');
    const path = pathParts.join('/');
    if (!validKey(path)) return sendError(res, 400, '400', 'InvalidKey', `Invalid key: ${path}`);
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    if (contentType.startsWith('multipart/form-data')) {
      return sendError(res, 400, '400', 'InvalidRequest', 'this fake accepts raw bodies only');
    }
    const existing = objects.get(path);
    const upsert = req.headers['x-upsert'] === 'true';
    if (method === 'POST' && existing && !upsert) {
      return sendError(res, 400, '409', 'Duplicate', 'The resource already exists');
    }
    if (method === 'PUT' && !existing) return sendError(res, 400, '404', 'not_found', 'Object not found');
    const now = clock();
    const cacheControl = String(req.headers['cache-control'] ?? 'no-cache');
    const obj: FakeObject = {
      bytes: body,
      contentType,
      cacheControl,
      id: existing?.id ?? randomUUID(),
      version: randomUUID(),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    objects.set(path, obj);
    sendJson(res, 200, { Id: obj.id, id: obj.id, Key: `${bucket}/${path}` });
  }

  async function sign(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
    const body = await readJson(req, res);
    if (body === undefined) return;
    const expiresIn = (body as { expiresIn?: unknown }).expiresIn;
    if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 1) {
      return sendError(res, 400, '400', 'InvalidRequest', 'body/expiresIn must be >= 1');
    }
    const target = locate(res, parts);
    if (!target) return;
    const iat = Math.floor(clock().getTime() / 1000);
    const token = signJwt({ url: `${bucket}/${target.path}`, iat, exp: iat + expiresIn });
    const encoded = target.path.split('/').map(encodeURIComponent).join('/');
    sendJson(res, 200, { signedURL: `/object/sign/${bucket}/${encoded}?token=${token}` });
  }

  async function serveSigned(req: IncomingMessage, res: ServerResponse, parts: string[], token: string | null): Promise<void> {
    await drain(req);
    if (!token) return sendError(res, 400, '400', 'InvalidRequest', "querystring must have required property 'token'");
    const payload = verifyJwt(token);
    if (!payload.ok) return sendError(res, 400, '400', 'InvalidJWT', payload.reason);
    if (payload.claims.url !== parts.join('/')) {
      return sendError(res, 400, '400', 'InvalidSignature', 'The url do not match the signature');
    }
    const target = locate(res, parts);
    if (target) serveBytes(req, res, target);
  }

  function serveBytes(req: IncomingMessage, res: ServerResponse, target: { path: string; obj: FakeObject }): void {
    const { obj } = target;
    const size = obj.bytes.length;
    const headers: Record<string, string> = {
      'content-type': obj.contentType,
      'cache-control': obj.cacheControl,
      'accept-ranges': 'bytes',
      etag: `"${createHash('md5').update(obj.bytes).digest('hex')}"`,
      'last-modified': obj.updatedAt.toUTCString(),
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    const match = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (match && (match[1] !== '' || match[2] !== '')) {
      const a = match[1] === '' ? undefined : Number(match[1]);
      const b = match[2] === '' ? undefined : Number(match[2]);
      let satisfiable = true;
      if (a === undefined) {
        satisfiable = b! > 0 && size > 0;
        start = Math.max(0, size - b!);
      } else {
        satisfiable = a < size && (b === undefined || b >= a);
        start = a;
        if (b !== undefined) end = Math.min(b, size - 1);
      }
      if (!satisfiable) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: '416', error: 'InvalidRange', message: 'The requested range is not satisfiable' }));
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    const slice = size === 0 ? Buffer.alloc(0) : obj.bytes.subarray(start, end + 1);
    headers['content-length'] = String(slice.length);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : slice);
  }

  async function list(req: IncomingMessage, res: ServerResponse, bucketName: string): Promise<void> {
    const body = (await readJson(req, res)) as
      | { prefix?: unknown; limit?: unknown; offset?: unknown; search?: unknown; sortBy?: { column?: string; order?: string } }
      | undefined;
    if (body === undefined) return;
    if (bucketName !== bucket) return sendError(res, 400, '404', 'Bucket not found', 'Bucket not found');
    if (typeof body.prefix !== 'string') return sendError(res, 400, '400', 'InvalidRequest', "body must have required property 'prefix'");
    const limit = typeof body.limit === 'number' ? body.limit : 100;
    const offset = typeof body.offset === 'number' ? body.offset : 0;
    const search = typeof body.search === 'string' ? body.search : '';
    const column = body.sortBy?.column ?? 'name';
    const desc = body.sortBy?.order === 'desc';
    // As the service does: the prefix is a folder, level = its segment count, and rows match
    // `lower(name) LIKE lower(prefix || search) || '%'` (so `_` and `%` are wildcards unless escaped with `\`).
    const prefix = body.prefix === '' || body.prefix.endsWith('/') ? body.prefix : `${body.prefix}/`;
    const level = prefix === '' ? 1 : prefix.split('/').length;
    const pattern = likePattern(`${prefix}${search}`.toLowerCase() + '%');

    const folders = new Set<string>();
    const files: Array<{ name: string; obj: FakeObject }> = [];
    for (const [path, obj] of objects) {
      if (!pattern.test(path.toLowerCase())) continue;
      const tokens = path.split('/');
      if (tokens.length < level) continue;
      if (tokens.length === level) files.push({ name: tokens[level - 1]!, obj });
      else folders.add(tokens[level - 1]!);
    }
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const folderNames = [...folders].sort((a, b) => (desc ? -byName(a, b) : byName(a, b)));
    files.sort((a, b) => {
      const order =
        column === 'updated_at'
          ? a.obj.updatedAt.getTime() - b.obj.updatedAt.getTime()
          : column === 'created_at'
            ? a.obj.createdAt.getTime() - b.obj.createdAt.getTime()
            : byName(a.name, b.name);
      return desc ? -order : order;
    });
    const rows = [
      ...folderNames.map((name) => ({ name, id: null, updated_at: null, created_at: null, last_accessed_at: null, metadata: null })),
      ...files.map(({ name, obj }) => ({
        name,
        id: obj.id,
        updated_at: obj.updatedAt.toISOString(),
        created_at: obj.createdAt.toISOString(),
        last_accessed_at: obj.updatedAt.toISOString(),
        metadata: objectMetadata(obj),
      })),
    ];
    sendJson(res, 200, rows.slice(offset, offset + limit));
  }

  async function info(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
    await drain(req);
    const target = locate(res, parts);
    if (!target) return;
    const { obj, path } = target;
    sendJson(res, 200, {
      id: obj.id,
      name: path,
      version: obj.version,
      bucket_id: bucket,
      size: obj.bytes.length,
      content_type: obj.contentType,
      cache_control: obj.cacheControl,
      etag: objectMetadata(obj).eTag,
      metadata: {},
      last_modified: obj.updatedAt.toISOString(),
      created_at: obj.createdAt.toISOString(),
    });
  }

  async function removeObjects(req: IncomingMessage, res: ServerResponse, bucketName: string): Promise<void> {
    const body = (await readJson(req, res)) as { prefixes?: unknown } | undefined;
    if (body === undefined) return;
    if (bucketName !== bucket) return sendError(res, 400, '404', 'Bucket not found', 'Bucket not found');
    const prefixes = body.prefixes;
    if (!Array.isArray(prefixes) || prefixes.length < 1 || !prefixes.every((p) => typeof p === 'string')) {
      return sendError(res, 400, '400', 'InvalidRequest', 'body/prefixes must NOT have fewer than 1 items');
    }
    if (prefixes.length > MAX_DELETE) {
      return sendError(res, 400, '400', 'InvalidRequest', `Maximum number of objects to delete is ${MAX_DELETE}`);
    }
    const deleted = [];
    for (const path of new Set(prefixes as string[])) {
      const obj = objects.get(path);
      if (!obj) continue;
      objects.delete(path);
      deleted.push({
        bucket_id: bucket,
        name: path,
        id: obj.id,
        updated_at: obj.updatedAt.toISOString(),
        created_at: obj.createdAt.toISOString(),
        last_accessed_at: obj.updatedAt.toISOString(),
        metadata: objectMetadata(obj),
      });
    }
    sendJson(res, 200, deleted);
  }

  // --- tokens ---------------------------------------------------------------------------------------

  function signJwt(claims: { url: string; iat: number; exp: number }): string {
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', jwtSecret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${sig}`;
  }

  function verifyJwt(token: string): { ok: true; claims: { url: string; exp: number } } | { ok: false; reason: string } {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'jwt malformed' };
    const [header, payload, sig] = parts as [string, string, string];
    const expected = createHmac('sha256', jwtSecret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid signature' };
    let claims: { url?: unknown; exp?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'jwt malformed' };
    }
    if (typeof claims.url !== 'string' || typeof claims.exp !== 'number') return { ok: false, reason: 'jwt malformed' };
    if (claims.exp <= Math.floor(clock().getTime() / 1000)) return { ok: false, reason: 'jwt expired' };
    return { ok: true, claims: { url: claims.url, exp: claims.exp } };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    bucket,
    objects,
    requests,
    setDown(value) {
      down = value;
      if (value === true) for (const socket of sockets) socket.destroy();
    },
    setObjectTime(path, time) {
      const obj = objects.get(path);
      if (!obj) throw new Error(`fake storage: no object at ${path}`);
      obj.createdAt = time;
      obj.updatedAt = time;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// --- helpers -----------------------------------------------------------------------------------------

function objectMetadata(obj: FakeObject) {
  return {
    eTag: `"${createHash('md5').update(obj.bytes).digest('hex')}"`,
    size: obj.bytes.length,
    mimetype: obj.contentType,
    cacheControl: obj.cacheControl,
    lastModified: obj.updatedAt.toISOString(),
    contentLength: obj.bytes.length,
    httpStatusCode: 200,
  };
}

/** SQL LIKE pattern → RegExp: `%` any run, `_` one character, `\` escapes the next character. */
function likePattern(like: string): RegExp {
  let source = '';
  for (let i = 0; i < like.length; i++) {
    const c = like[i]!;
    if (c === '\\' && i + 1 < like.length) source += escapeRegExp(like[++i]!);
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function validKey(path: string): boolean {
  return path.length > 0 && !path.startsWith('/') && !path.split('/').some((s) => s === '' || s === '.' || s === '..');
}

function sameSecret(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
    req.on('close', () => {
      if (!req.complete) resolve(null);
    });
  });
}

async function drain(req: IncomingMessage): Promise<void> {
  await readBody(req);
}

async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const body = await readBody(req);
  if (body === null) return undefined;
  try {
    return JSON.parse(body.toString('utf8') || '{}');
  } catch {
    sendError(res, 400, '400', 'InvalidRequest', 'Body is not valid JSON');
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, statusCode: string, error: string, message: string): void {
  sendJson(res, status, { statusCode, error, message });
}

function notFound(res: ServerResponse, req: IncomingMessage, message: string): void {
  void drain(req);
  sendError(res, 404, '404', 'not_found', message);
}
