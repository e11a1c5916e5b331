import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signToken } from '../../src/auth/tokens.ts';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import type { Role } from '../../src/auth/roles.ts';
import type { EventMetadata, NewEvent } from '../../src/events/port.ts';
import { createLocalStorage, type LocalRecordingStorage } from '../../src/storage/local.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import type { TestBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';

export const JWT_SECRET = 'test-jwt-secret-for-callrec-api-0123456789';
export const SIGNING_SECRET = 'test-recording-signing-secret-0123';

/** A clock the test moves; shared by the service, its storage and the tokens. */
export function testClock(start = Date.now()) {
  let now = start;
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

export interface ApiHarness {
  service: TestService;
  storage: LocalRecordingStorage;
  clock: ReturnType<typeof testClock>;
  token(orgId: string, userId?: string, role?: Role, extra?: { ttlSeconds?: number }): Promise<string>;
  get(p: string, token?: string, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  post(p: string, token?: string, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** Maps an assistant to an org and ingests an end-of-call-report for a new call; returns the call id. */
  endCall(orgId: string, over?: CallOver): Promise<string>;
  /** Appends what the pipeline would: a file in storage, RecordingUploaded, then UrlSigned by the system. */
  uploadRecording(callId: string, orgId: string, opts?: { sign?: boolean; bytes?: number; durationSeconds?: number }): Promise<{ positions: number[]; storagePath: string }>;
  /** Appends any events to a call's stream (pipeline simulation). */
  append(callId: string, orgId: string, events: Array<{ type: string; data: unknown; actor?: string }>): Promise<number[]>;
  /** Waits until every projector has applied the whole log. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface CallOver {
  callId?: string;
  transcript?: string | null;
  summary?: string | null;
  endedAt?: string;
  endedReason?: string;
  callType?: string;
  assistantId?: string;
  /** The caller's number (the fixture's otherwise). */
  customerNumber?: string;
}

export async function startApi(backend: TestBackend, env: Record<string, string> = {}): Promise<ApiHarness> {
  const clock = testClock();
  const root = await mkdtemp(path.join(tmpdir(), 'callrec-api-'));
  const storage = createLocalStorage({ root, publicBaseUrl: 'http://127.0.0.1:9', signingSecret: SIGNING_SECRET, clock: clock.now });
  const service = await startTestService(backend, { AUTH_JWT_SECRET: JWT_SECRET, ...env }, { clock: clock.now, storage });
  const mapped = new Set<string>();

  async function request(method: string, p: string, token?: string, headers: Record<string, string> = {}) {
    const res = await fetch(service.url + p, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body: body as any, headers: res.headers };
  }

  const h: ApiHarness = {
    service,
    storage,
    clock,
    token: (orgId, userId = 'user-1', role = 'member', extra = {}) => signToken({ secret: JWT_SECRET, orgId, userId, role, now: clock.now(), ttlSeconds: extra.ttlSeconds }),
    get: (p, token, headers) => request('GET', p, token, headers),
    post: (p, token, headers) => request('POST', p, token, headers),
    async endCall(orgId, over = {}) {
      const callId = over.callId ?? randomUUID();
      const assistantId = over.assistantId ?? `asst-${orgId}`;
      if (!mapped.has(assistantId)) {
        await setOrgMapping(service.database.db, 'assistant', assistantId, orgId);
        service.orgResolver.invalidate();
        mapped.add(assistantId);
      }
      const body = loadVapiFixture('end-of-call-report.no-recording');
      const m = body.message;
      m.call.id = callId;
      m.call.assistantId = assistantId;
      m.assistant.id = assistantId;
      m.phoneNumber.assistantId = assistantId;
      if (over.callType) m.call.type = over.callType;
      if (over.customerNumber !== undefined) {
        m.customer = { number: over.customerNumber };
        m.call.customer = { number: over.customerNumber };
      }
      m.endedReason = over.endedReason ?? 'customer-ended-call';
      const endedAt = over.endedAt ?? new Date().toISOString();
      m.endedAt = endedAt;
      m.startedAt = new Date(Date.parse(endedAt) - 60_000).toISOString();
      if (over.transcript !== null) m.artifact.transcript = over.transcript ?? `AI: Hello, this is call ${callId}.`;
      if (over.summary !== null) m.analysis.summary = over.summary ?? 'A short test call.';
      const res = await service.post('/webhooks/vapi', body);
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      return callId;
    },
    async append(callId, orgId, events) {
      const meta = (actor: string): EventMetadata => ({ correlationId: randomUUID(), causationId: null, orgId, recordedAt: clock.now().toISOString(), actor });
      const list: NewEvent[] = events.map((e) => ({ eventId: randomUUID(), type: e.type, data: e.data, metadata: meta(e.actor ?? 'system:pipeline') }));
      const r = await service.store.append(`call-${callId}`, list, 'any');
      if (!r.ok) throw new Error(`append failed: ${r.error.message}`);
      return r.positions;
    },
    async uploadRecording(callId, orgId, opts = {}) {
      const bytes = opts.bytes ?? 4096;
      const file = path.join(root, `${randomUUID()}.upload`);
      const content = Buffer.alloc(bytes, 7);
      await writeFile(file, content);
      const storagePath = `${orgId}/2026/05/12/${callId}.wav`;
      const put = await storage.put(storagePath, file, { contentType: 'audio/wav' });
      await rm(file, { force: true });
      if (!put.ok) throw new Error(`storage put failed: ${put.error.message}`);
      const events: Array<{ type: string; data: unknown }> = [
        {
          type: 'RecordingUploaded',
          data: {
            callId, attempt: 1, storagePath, bytes, sha256: createHash('sha256').update(content).digest('hex'), format: 'wav', codec: 'pcm_s16le',
            contentType: 'audio/wav', durationSeconds: opts.durationSeconds ?? 12.5, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
          },
        },
      ];
      if (opts.sign !== false) {
        const signed = await storage.createSignedUrl(storagePath, service.config.RECORDING_URL_EXPIRY_SECONDS);
        if (!signed.ok) throw new Error(signed.error.message);
        events.push({ type: 'UrlSigned', data: { callId, storagePath, url: signed.value.url, expiresAt: signed.value.expiresAt.toISOString(), by: 'system:pipeline' } });
      }
      return { positions: await h.append(callId, orgId, events), storagePath };
    },
    async settle() {
      let head = 0;
      let positions: Record<string, number> = {};
      await eventually(() => `projections to catch up to ${head} (at ${JSON.stringify(positions)})`, async () => {
        head = await service.store.headPosition();
        positions = await service.runner.positions();
        return Object.values(positions).every((p) => p >= head);
      }, { intervalMs: 20 });
    },
    async close() {
      await service.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return h;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A raw SSE client over node:http (no EventSource): parsed events, comments and the raw text. */
export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  comments: string[];
  raw: string;
  /** Resolves when `n` events matching `pred` have arrived. */
  waitFor(pred: (e: SseEvent) => boolean, n?: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: [],
        raw: '',
        waitFor(pred, n = 1, timeoutMs = 10_000) {
          return eventually(() => `${n} SSE event(s); got ${JSON.stringify(client.events)}`, () => {
            const hits = client.events.filter(pred);
            return hits.length >= n && hits;
          }, { timeoutMs, intervalMs: 5 });
        },
        close() {
          req.destroy();
        },
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        client.raw += chunk;
        buffer += chunk;
        let idx;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          const e: SseEvent = { data: '' };
          let isEvent = false;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1));
            else if (line.startsWith('id:')) (e.id = line.slice(3).trim()), (isEvent = true);
            else if (line.startsWith('event:')) (e.event = line.slice(6).trim()), (isEvent = true);
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, '')), (isEvent = true);
          }
          e.data = data.join('\n');
          if (isEvent && e.event) client.events.push(e);
        }
      });
      res.on('error', () => {});
      resolve(client);
    });
    req.on('error', reject);
  });
}

/** Reads a JSON body of an SSE event. */
export const sseData = (e: SseEvent) => JSON.parse(e.data) as Record<string, unknown>;
