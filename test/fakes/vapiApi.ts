import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeCall } from './vapiCalls.ts';

/**
 * A local stand-in for the part of Vapi's REST API that callrec uses, speaking HTTP on 127.0.0.1:
 *
 * - `GET /assistant?limit&createdAtLt&createdAtLe&createdAtGt&createdAtGe` → bare JSON array,
 *   newest first; `limit` defaults to 100 and must be 1..1000 (400 otherwise).
 * - `GET /assistant/:id`, `PATCH /assistant/:id` (JSON; top-level fields are replaced, so a nested
 *   `artifactPlan` sent without its other fields loses them, as on Vapi; `id`, `orgId`, `createdAt`,
 *   `updatedAt` in the body are a 400).
 * - `GET /call?limit&createdAtGt/Ge/Lt/Le&updatedAtGt/Ge/Lt/Le` → bare JSON array of calls, newest
 *   `createdAt` first; `limit` defaults to 100 and must be 1..1000. `GET /call/:id` → one call or 404.
 * - `GET /call/:id/mono-recording` and `/stereo-recording` → 302 to the configured URL, 404 for
 *   an unknown call.
 * - `DELETE /call/:id/data` → 200 with the call's id, and the fake forgets the call's artifacts (its recording
 *   target and the call's artifact/analysis); 404 for a call it does not know (no call, no recording).
 * - A wrong or missing `Authorization: Bearer <apiKey>` is a 401 everywhere.
 * Errors use Vapi's body shape `{ message, error, statusCode }`.
 */

export interface FakeAssistant {
  id: string;
  orgId: string;
  name: string | null;
  createdAt: string;
  updatedAt: string;
  artifactPlan?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FakeRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Whether the Bearer key was right. */
  authorized: boolean;
  /** Parsed JSON body of a PATCH (undefined otherwise or when unparseable). */
  body?: unknown;
  status: number;
}

export interface FaultMatch {
  method?: string;
  /** Exact path (without query) or a pattern tested against it. */
  path?: string | RegExp;
  /** Let this many matching requests through before the fault starts. */
  skip?: number;
}

export type FakeRecording = string | { mono?: string; stereo?: string };

export interface FakeVapiApiOptions {
  apiKey: string;
  /** A number generates that many assistants (see makeFakeAssistants); an array is used as given (copied). */
  assistants?: number | FakeAssistant[];
  /** Recording redirect targets by call id; a string serves both mono and stereo. */
  recordings?: Record<string, FakeRecording>;
  /** Calls served by `GET /call` and `GET /call/:id` (copied); see vapiCalls.ts for makers. */
  calls?: FakeCall[];
}

export interface FakeVapiApi {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  close(): Promise<void>;
  /** Live state by id; tests may read and change it. */
  assistants: Map<string, FakeAssistant>;
  /** Live redirect targets by call id. */
  recordings: Map<string, FakeRecording>;
  /** Live calls by id; tests may add, end or remove calls. */
  calls: Map<string, FakeCall>;
  /** PATCH /assistant/:id requests that were applied (2xx). */
  readonly patchCount: number;
  /** Call ids whose data a `DELETE /call/:id/data` deleted (2xx), in order. */
  deletedCallData: string[];
  /** Every request, in arrival order. */
  requests: FakeRequest[];
  /** The next `n` authorised requests (matching `match`, if given) get 429, with `Retry-After` when given (seconds, or a string sent verbatim such as an HTTP date). */
  rateLimitNext(n: number, retryAfter?: number | string, match?: FaultMatch): void;
  /** The next `n` authorised requests (matching `match`, if given) get `status`. `n` may be Infinity. */
  failNext(n: number, status: number, match?: FaultMatch): void;
  /** Drops every pending fault (an endless failNext included). */
  clearFaults(): void;
}

const ORG_ID = '9d3c6b1e-2f4a-4e57-8a90-1b2c3d4e5f60';

/** A deterministic id that looks like Vapi's UUIDs. */
export function fakeAssistantId(i: number): string {
  return `a551a7e0-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

/**
 * `n` assistants, created one second apart from `start` (index 0 is the oldest). Their artifact
 * plans rotate through: recording on (with mp3 format), recording explicitly off (with other
 * fields), no artifactPlan at all, and a plan without recordingEnabled.
 */
export function makeFakeAssistants(n: number, start = Date.parse('2025-03-01T09:00:00.000Z'), stepMs = 1000): FakeAssistant[] {
  const out: FakeAssistant[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(start + i * stepMs).toISOString();
    const a: FakeAssistant = {
      id: fakeAssistantId(i),
      orgId: ORG_ID,
      name: `Receptionist ${i + 1}`,
      createdAt: at,
      updatedAt: at,
      firstMessage: 'Thanks for calling, how can I help?',
      model: { provider: 'openai', model: 'gpt-4o', temperature: 0.3 },
      voice: { provider: '11labs', voiceId: 'sarah' },
      transcriber: { provider: 'deepgram', model: 'nova-3', language: 'en' },
    };
    switch (i % 4) {
      case 0:
        a.artifactPlan = { recordingEnabled: true, recordingFormat: 'mp3' };
        break;
      case 1:
        a.artifactPlan = { recordingEnabled: false, recordingFormat: 'wav;l16', videoRecordingEnabled: false, transcriptPlan: { enabled: true } };
        break;
      case 2:
        break;
      default:
        a.artifactPlan = { structuredOutputIds: [], recordingUseCustomStorageEnabled: true };
    }
    out.push(a);
  }
  return out;
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function matches(m: FaultMatch | undefined, method: string, path: string): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method) return false;
  if (m.path instanceof RegExp) return m.path.test(path);
  if (typeof m.path === 'string') return m.path === path;
  return true;
}

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

type Fault = { kind: 'rate-limit' | 'fail'; remaining: number; status: number; retryAfter?: number | string; match?: FaultMatch; skip?: number };

export async function startFakeVapiApi(options: FakeVapiApiOptions): Promise<FakeVapiApi> {
  const expectedAuth = sha(`Bearer ${options.apiKey}`);
  const initial = typeof options.assistants === 'number' ? makeFakeAssistants(options.assistants) : (options.assistants ?? []);
  const assistants = new Map<string, FakeAssistant>(initial.map((a) => [a.id, structuredClone(a)]));
  const recordings = new Map<string, FakeRecording>(Object.entries(options.recordings ?? {}));
  const calls = new Map<string, FakeCall>((options.calls ?? []).map((c) => [c.id, structuredClone(c)]));
  const requests: FakeRequest[] = [];
  const faults: Fault[] = [];
  const deletedCallData: string[] = [];
  let patchCount = 0;

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
  function sendError(res: ServerResponse, status: number, message: string | string[], headers: Record<string, string> = {}) {
    sendJson(res, status, { message, error: statusText[status] ?? 'Error', statusCode: status }, headers);
  }

  async function readBody(req: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 1_000_000) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function listAssistants(query: URLSearchParams, res: ServerResponse): number {
    return listSorted([...assistants.values()], ['createdAt'], query, res);
  }

  /** A Vapi list endpoint: limit 1..1000 (default 100), date filters on `fields`, newest createdAt first. */
  function listSorted(items: Array<{ id: string; createdAt: string; updatedAt?: string }>, fields: Array<'createdAt' | 'updatedAt'>, query: URLSearchParams, res: ServerResponse): number {
    const rawLimit = query.get('limit');
    const limit = rawLimit === null ? 100 : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1) {
      sendError(res, 400, ['limit must not be less than 1']);
      return 400;
    }
    if (limit > 1000) {
      sendError(res, 400, ['limit must not be greater than 1000']);
      return 400;
    }
    const ops: Array<[string, (a: number, b: number) => boolean]> = [
      ['Lt', (a, b) => a < b],
      ['Le', (a, b) => a <= b],
      ['Gt', (a, b) => a > b],
      ['Ge', (a, b) => a >= b],
    ];
    const filters: Array<(a: { createdAt: string; updatedAt?: string }) => boolean> = [];
    for (const field of fields) {
      for (const [op, cmp] of ops) {
        const name = `${field}${op}`;
        const v = query.get(name);
        if (v === null) continue;
        const ms = Date.parse(v);
        if (Number.isNaN(ms)) {
          sendError(res, 400, [`${name} must be a valid ISO 8601 date string`]);
          return 400;
        }
        filters.push((a) => cmp(Date.parse(a[field] ?? a.createdAt), ms));
      }
    }
    const page = items
      .filter((a) => filters.every((f) => f(a)))
      .sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0))
      .slice(0, limit);
    sendJson(res, 200, page);
    return 200;
  }

  async function patchAssistant(id: string, raw: string | undefined, res: ServerResponse, entry: FakeRequest): Promise<number> {
    const a = assistants.get(id);
    if (raw === undefined) {
      sendError(res, 413, 'request entity too large');
      return 413;
    }
    let body: unknown;
    try {
      body = raw === '' ? {} : JSON.parse(raw);
    } catch {
      sendError(res, 400, 'Unexpected token in JSON body');
      return 400;
    }
    entry.body = body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      sendError(res, 400, ['body must be an object']);
      return 400;
    }
    const forbidden = ['id', 'orgId', 'createdAt', 'updatedAt'].filter((k) => k in (body as object));
    if (forbidden.length > 0) {
      sendError(res, 400, forbidden.map((k) => `property ${k} should not exist`));
      return 400;
    }
    if (!a) {
      sendError(res, 404, 'Not Found');
      return 404;
    }
    Object.assign(a, structuredClone(body), { updatedAt: new Date().toISOString() });
    patchCount++;
    sendJson(res, 200, a);
    return 200;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', 'http://fake.local');
    const path = u.pathname;
    const presented = req.headers.authorization;
    const authorized = typeof presented === 'string' && timingSafeEqual(sha(presented), expectedAuth);
    const entry: FakeRequest = { method, path, query: Object.fromEntries(u.searchParams), authorized, status: 0 };
    requests.push(entry);

    const raw = method === 'PATCH' || method === 'POST' ? await readBody(req) : (req.resume(), undefined);

    if (!authorized) {
      entry.status = 401;
      sendError(res, 401, 'Invalid API key. Send your private key as Authorization: Bearer <key>.');
      return;
    }

    let fault = faults.find((f) => f.remaining > 0 && matches(f.match, method, path));
    if (fault && (fault.skip ?? 0) > 0) {
      fault.skip!--;
      fault = undefined;
    }
    if (fault) {
      fault.remaining--;
      entry.status = fault.status;
      if (method === 'PATCH' && raw) {
        try {
          entry.body = JSON.parse(raw);
        } catch {
          // logged without a body
        }
      }
      const headers: Record<string, string> = {};
      if (fault.kind === 'rate-limit' && fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      sendError(res, fault.status, fault.kind === 'rate-limit' ? 'ThrottlerException: Too Many Requests' : 'Internal server error', headers);
      return;
    }

    let m: RegExpMatchArray | null;
    if (path === '/assistant' && method === 'GET') {
      entry.status = listAssistants(u.searchParams, res);
    } else if ((m = path.match(/^\/assistant\/([^/]+)$/))) {
      const id = decodeURIComponent(m[1]!);
      if (method === 'GET') {
        const a = assistants.get(id);
        entry.status = a ? 200 : 404;
        if (a) sendJson(res, 200, a);
        else sendError(res, 404, 'Not Found');
      } else if (method === 'PATCH') {
        entry.status = await patchAssistant(id, raw, res, entry);
      } else {
        entry.status = 404;
        sendError(res, 404, `Cannot ${method} ${path}`);
      }
    } else if (path === '/call' && method === 'GET') {
      entry.status = listSorted([...calls.values()], ['createdAt', 'updatedAt'], u.searchParams, res);
    } else if (method === 'GET' && (m = path.match(/^\/call\/([^/]+)$/))) {
      const c = calls.get(decodeURIComponent(m[1]!));
      entry.status = c ? 200 : 404;
      if (c) sendJson(res, 200, c);
      else sendError(res, 404, 'Not Found');
    } else if (method === 'GET' && (m = path.match(/^\/call\/([^/]+)\/(mono|stereo)-recording$/))) {
      const rec = recordings.get(decodeURIComponent(m[1]!));
      const target = typeof rec === 'string' ? rec : rec?.[m[2] as 'mono' | 'stereo'];
      if (!target) {
        entry.status = 404;
        sendError(res, 404, 'Artifact not found');
      } else {
        entry.status = 302;
        res.writeHead(302, { location: target, 'content-length': 0 });
        res.end();
      }
    } else if (method === 'DELETE' && (m = path.match(/^\/call\/([^/]+)\/data$/))) {
      const id = decodeURIComponent(m[1]!);
      const call = calls.get(id);
      if (!call && !recordings.has(id)) {
        entry.status = 404;
        sendError(res, 404, 'Call not found');
      } else {
        recordings.delete(id);
        if (call) {
          delete call.artifact;
          delete call.analysis;
        }
        deletedCallData.push(id);
        entry.status = 200;
        sendJson(res, 200, { id, deleted: true });
      }
    } else {
      entry.status = 404;
      sendError(res, 404, `Cannot ${method} ${path}`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, 500, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    assistants,
    recordings,
    calls,
    requests,
    deletedCallData,
    get patchCount() {
      return patchCount;
    },
    rateLimitNext(n, retryAfter, match) {
      faults.push({ kind: 'rate-limit', remaining: n, status: 429, retryAfter, match, skip: match?.skip });
    },
    failNext(n, status, match) {
      faults.push({ kind: 'fail', remaining: n, status, match, skip: match?.skip });
    },
    clearFaults() {
      faults.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** Runs `fn` against a fake Vapi API started with `opts`, and closes it afterwards. */
export async function withFakeVapiApi<T>(opts: Parameters<typeof startFakeVapiApi>[0], fn: (fake: FakeVapiApi) => Promise<T>): Promise<T> {
  const fake = await startFakeVapiApi(opts);
  try {
    return await fn(fake);
  } finally {
    await fake.close();
  }
}
