import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SseChannel from 'sse-channel';
import { signToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db/connect.ts';
import { silentLogger } from '../src/log.ts';
import { startService, type Service } from '../src/service.ts';
import { createTestDatabase, dropTestDatabase } from '../test/support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../test/support/privacy.ts';
import { fmt, percentile, postgresAvailable, row } from './support.ts';

/**
 * SSE fan-out: N dashboards connected to GET /api/events of one org; the time from the commit of a
 * recording (RecordingUploaded + the pipeline's UrlSigned, one append) to each client's receipt of
 * `recording_ready`, p50/p99, and the server's RSS. Beside it, the same N clients on a bare sse-channel
 * server (no auth, no log, no database) as the baseline.
 *
 * The server runs in a child process (so its RSS is its own and each process stays under the 20,000 fd
 * limit: 10,000 clients are 10,000 sockets on each side); the clients are raw http requests in this process.
 * Both sides time with process.hrtime (CLOCK_MONOTONIC, shared by processes on one machine).
 *
 *   npx tsx bench/sse.ts [--clients 1000,10000] [--rounds 5] [--databases pglite,postgres]
 */

const SECRET = 'bench-sse-secret-0123456789abcdef';
const ORG = 'org-bench';
const SERVER_FLAG = '--sse-bench-server';

type ToServer = { type: 'send'; round: number } | { type: 'stats' } | { type: 'stop' };
type FromServer =
  | { type: 'ready'; url: string; rss: number }
  | { type: 'sent'; round: number; committedNs: string }
  | { type: 'stats'; rss: number; heap: number; clients: number };

// ---------------------------------------------------------------------------------------------------
// server side (child process)

async function serverMain(mode: 'callrec' | 'baseline') {
  const send = (m: FromServer) => process.send!(m);
  let onMessage: (m: ToServer) => Promise<void>;
  let clients: () => number;
  let stop: () => Promise<void>;

  if (mode === 'callrec') {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-bench-sse-'));
    const url = process.env.BENCH_SSE_DATABASE_URL;
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', AUTH_JWT_SECRET: SECRET, DATA_DIR: dataDir, ...(url ? { DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY } : {}) });
    const database = await connectDatabase(url ? { databaseUrl: url } : { pgliteDir: 'memory://' });
    const service: Service = await startService(config, { logger: silentLogger, database });
    clients = () => service.sseHub!.clientCount();
    stop = async () => {
      await service.stop();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    };
    onMessage = async (m) => {
      if (m.type !== 'send') return;
      const callId = `bench-${m.round}-${randomUUID().slice(0, 8)}`;
      const storagePath = `${ORG}/2026/01/01/${callId}.mp3`;
      const meta = (actor: string) => ({ correlationId: randomUUID(), causationId: null, orgId: ORG, recordedAt: new Date().toISOString(), actor });
      const r = await service.store.append(`call-${callId}`, [
        {
          eventId: randomUUID(), type: 'RecordingUploaded', metadata: meta('system:pipeline'),
          data: {
            callId, attempt: 1, storagePath, bytes: 480_000, sha256: createHash('sha256').update(callId).digest('hex'), format: 'mp3', codec: 'mp3',
            contentType: 'audio/mpeg', durationSeconds: 120, channels: 1, sampleRate: 16000, source: 'vapi-api', originalBytes: 3_840_000, compressionRatio: 8,
          },
        },
        { eventId: randomUUID(), type: 'UrlSigned', metadata: meta('system:pipeline'), data: { callId, storagePath, url: `https://storage.example/${storagePath}?token=x`, expiresAt: new Date(Date.now() + 3600_000).toISOString(), by: 'system:pipeline' } },
      ], 'no_stream');
      const committedNs = process.hrtime.bigint();
      if (!r.ok) throw new Error(r.error.message);
      send({ type: 'sent', round: m.round, committedNs: String(committedNs) });
    };
    send({ type: 'ready', url: service.url, rss: process.memoryUsage().rss });
  } else {
    const channel = new SseChannel({ retryTimeout: 3000, pingInterval: 15_000, historySize: 1 });
    const server = http.createServer((req, res) => channel.addClient(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
    clients = () => channel.getConnectionCount();
    stop = async () => {
      channel.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    };
    onMessage = async (m) => {
      if (m.type !== 'send') return;
      const committedNs = process.hrtime.bigint();
      channel.send({ id: m.round, event: 'recording_ready', data: JSON.stringify({ callId: `bench-${m.round}-x`, bytes: 480_000, durationSeconds: 120 }) }, channel.connections);
      send({ type: 'sent', round: m.round, committedNs: String(committedNs) });
    };
    send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rss: process.memoryUsage().rss });
  }

  process.on('message', (m: ToServer) => {
    if (m.type === 'stats') {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      send({ type: 'stats', rss: m.rss, heap: m.heapUsed, clients: clients() });
    }
    else if (m.type === 'stop') void stop().then(() => process.exit(0));
    else onMessage(m).catch((err) => {
      console.error(err);
      process.exit(1);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// client side (this process)

interface Server {
  url: string;
  baseRss: number;
  request(m: ToServer): void;
  next<T extends FromServer['type']>(type: T): Promise<Extract<FromServer, { type: T }>>;
  stop(): Promise<void>;
}

async function spawnServer(mode: 'callrec' | 'baseline', env: Record<string, string>): Promise<Server> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [SERVER_FLAG, mode], { execArgv: ['--import', 'tsx', '--expose-gc'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting: Array<{ type: string; resolve: (m: FromServer) => void; reject: (err: Error) => void }> = [];
  const queued: FromServer[] = [];
  let exited = false;
  child.on('message', (m: FromServer) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    else queued.push(m);
  });
  child.once('exit', (code) => {
    exited = true;
    for (const w of waiting.splice(0)) w.reject(new Error(`SSE bench server exited (${code})`));
  });
  const next = <T extends FromServer['type']>(type: T) =>
    new Promise<Extract<FromServer, { type: T }>>((resolve, reject) => {
      const i = queued.findIndex((m) => m.type === type);
      if (i >= 0) return resolve(queued.splice(i, 1)[0] as Extract<FromServer, { type: T }>);
      if (exited) return reject(new Error('SSE bench server has exited'));
      waiting.push({ type, resolve: resolve as (m: FromServer) => void, reject });
    });
  const ready = await next('ready');
  return {
    url: ready.url,
    baseRss: ready.rss,
    request: (m) => child.send(m),
    next,
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

interface Clients {
  /** Receipt time (hrtime ns) per round per client. */
  received: Map<number, bigint[]>;
  close(): void;
}

/** N raw SSE connections (no EventSource objects), opened `batch` at a time. */
async function connectClients(url: string, n: number, token: string | undefined, batch = 250): Promise<Clients> {
  const received = new Map<number, bigint[]>();
  const requests: http.ClientRequest[] = [];
  const pattern = /"callId":"bench-(\d+)-/;
  const MARK = Buffer.from('recording_ready');
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(`${url}/api/events`, { agent: false, headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE connect answered ${res.statusCode}`));
        let first = true;
        res.on('data', (chunk: Buffer) => {
          const t = process.hrtime.bigint();
          if (first) {
            first = false;
            resolve();
          }
          if (chunk.indexOf(MARK) < 0) return;
          const m = pattern.exec(chunk.toString('latin1'));
          if (m) {
            const round = Number(m[1]);
            let list = received.get(round);
            if (!list) received.set(round, (list = []));
            list.push(t);
          }
        });
        res.on('error', () => {});
      });
      req.on('error', reject);
      requests.push(req);
    });
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, open));
  return { received, close: () => requests.forEach((r) => r.destroy()) };
}

export interface SseBenchResult {
  mode: 'callrec' | 'baseline';
  clients: number;
  connectMs: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  missing: number;
  serverRssMb: number;
  serverIdleRssMb: number;
  /** JS heap of the server after GC, per connected client (RSS deltas drown in PGlite's memory). */
  serverHeapPerClientKb: number;
}

async function measure(mode: 'callrec' | 'baseline', n: number, rounds: number, env: Record<string, string>): Promise<SseBenchResult> {
  const server = await spawnServer(mode, env);
  let clients: Clients | undefined;
  try {
    const token = mode === 'callrec' ? await signToken({ secret: SECRET, orgId: ORG, userId: 'bench', ttlSeconds: 3600 }) : undefined;
    await new Promise((r) => setTimeout(r, 1000)); // let start-up work settle before the baseline reading
    server.request({ type: 'stats' });
    const before = await server.next('stats');
    const t0 = performance.now();
    clients = await connectClients(server.url, n, token);
    const connectMs = performance.now() - t0;
    server.request({ type: 'stats' });
    const connected = await server.next('stats');
    if (connected.clients < n) throw new Error(`only ${connected.clients} of ${n} clients registered`);
    const latencies: number[] = [];
    let missing = 0;
    for (let round = 0; round <= rounds; round++) {
      server.request({ type: 'send', round });
      const sent = await server.next('sent');
      const committed = BigInt(sent.committedNs);
      const deadline = Date.now() + 10_000;
      while ((clients.received.get(round)?.length ?? 0) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const got = clients.received.get(round) ?? [];
      if (round === 0) continue; // warm-up
      missing += n - got.length;
      for (const t of got) latencies.push(Number(t - committed) / 1e6);
      await new Promise((r) => setTimeout(r, 200));
    }
    server.request({ type: 'stats' });
    const after = await server.next('stats');
    latencies.sort((a, b) => a - b);
    return {
      mode,
      clients: n,
      connectMs,
      samples: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1] ?? NaN,
      missing,
      serverRssMb: after.rss / 1024 / 1024,
      serverIdleRssMb: before.rss / 1024 / 1024,
      serverHeapPerClientKb: (after.heap - before.heap) / 1024 / n,
    };
  } finally {
    clients?.close();
    await server.stop();
  }
}

export interface SseBenchOptions {
  /** Connected clients per run (default 1,000 and 10,000). */
  clients?: number[];
  /** Measured rounds per run, after one warm-up (default 5). */
  rounds?: number;
  /** Databases to run callrec on (default PGlite, plus PostgreSQL when reachable). */
  databases?: Array<'pglite' | 'postgres'>;
}

export async function benchSse(opts: SseBenchOptions = {}): Promise<Array<SseBenchResult & { database?: string }>> {
  const sizes = opts.clients ?? [1000, 10_000];
  const rounds = opts.rounds ?? 5;
  const databases = opts.databases ?? ((await postgresAvailable()) ? ['pglite', 'postgres'] : ['pglite']);
  console.log(`SSE fan-out: commit of RecordingUploaded+UrlSigned → recording_ready at every client (${rounds} rounds after a warm-up; server in a child process, clients raw http in this one)`);
  const results: Array<SseBenchResult & { database?: string }> = [];
  const print = (label: string, r: SseBenchResult) =>
    row(label, `p50 ${fmt(r.p50Ms, 1)} ms`, `p99 ${fmt(r.p99Ms, 1)} ms  max ${fmt(r.maxMs, 1)} ms  missing ${r.missing}  server RSS ${fmt(r.serverIdleRssMb)} → ${fmt(r.serverRssMb)} MB, heap ${fmt(r.serverHeapPerClientKb, 1)} KB/client  connect ${fmt(r.connectMs)} ms`);
  for (const n of sizes) {
    // The baseline runs before and after callrec, and callrec is compared with the mean of the two: on a shared
    // machine the client side's speed drifts between runs by more than the difference being measured.
    const before = await measure('baseline', n, rounds, {});
    results.push(before);
    print(`bare sse-channel baseline, ${fmt(n)} clients (before)`, before);
    const measured: Array<{ database: string; r: SseBenchResult }> = [];
    for (const database of databases) {
      const url = database === 'postgres' ? await createTestDatabase() : undefined;
      try {
        const r = await measure('callrec', n, rounds, url ? { BENCH_SSE_DATABASE_URL: url } : {});
        results.push({ ...r, database });
        measured.push({ database, r });
        print(`callrec GET /api/events (${database}), ${fmt(n)} clients`, r);
      } finally {
        if (url) await dropTestDatabase(url);
      }
    }
    const after = await measure('baseline', n, rounds, {});
    results.push(after);
    print(`bare sse-channel baseline, ${fmt(n)} clients (after)`, after);
    const base = { p50: (before.p50Ms + after.p50Ms) / 2, p99: (before.p99Ms + after.p99Ms) / 2 };
    for (const { database, r } of measured) {
      row(`  ratio callrec (${database}) / mean baseline`, `p99 ${fmt(r.p99Ms / base.p99, 2)}×`, `p50 ${fmt(r.p50Ms / base.p50, 2)}×; target p99 < 200 ms: ${r.p99Ms < 200 ? 'met' : 'NOT met'}`);
    }
  }
  return results;
}

if (process.argv.includes(SERVER_FLAG)) {
  await serverMain(process.argv[process.argv.indexOf(SERVER_FLAG) + 1] === 'baseline' ? 'baseline' : 'callrec');
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const clients = arg('clients')?.split(',').map(Number);
  const rounds = arg('rounds') ? Number(arg('rounds')) : undefined;
  const databases = arg('databases')?.split(',') as Array<'pglite' | 'postgres'> | undefined;
  await benchSse({ clients, rounds, databases });
  process.exit(0);
}
