// End to end: end-of-call-reports in over HTTP → recording downloaded, validated, stored and signed.
// `npm run bench -- pipeline` or `node --import tsx bench/pipeline.ts`.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { callStream } from '../src/events/catalog.ts';
import { silentLogger } from '../src/log.ts';
import { startService, type Service } from '../src/service.ts';
import { startRecordingServer, type RecordingServer } from '../test/fakes/recordingServer.ts';
import { loadVapiFixture, withRecordingUrl } from '../test/fixtures/vapi/index.ts';
import { fmt, openBenchDb, percentile, postgresAvailable, row, type BenchDb } from './support.ts';

const CONCURRENCY = Number(process.env.BENCH_RECORDING_CONCURRENCY || 32);

async function startBenchService(db: BenchDb, dataDir: string, env: Record<string, string> = {}): Promise<Service> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RECORDING_ALLOWED_HOSTS: '127.0.0.1',
    RECORDING_ALLOWED_ADDRESSES: '127.0.0.1',
    RECORDING_CONCURRENCY: String(CONCURRENCY),
    ...env,
  });
  return startService(config, { logger: silentLogger, database: db.database });
}

function reportFor(url: string): { body: unknown; callId: string } {
  const body = loadVapiFixture('end-of-call-report.current');
  const callId = randomUUID();
  body.message.call.id = callId;
  return { body: withRecordingUrl(body, url), callId };
}

/** Posts `n` reports at once; resolves when every call has a committed UrlSigned (or the deadline passes). */
async function runCalls(s: Service, rec: RecordingServer, n: number): Promise<{ ms: number; latencies: number[]; done: number; lost: number; duplicates: number }> {
  const calls = Array.from({ length: n }, (_, i) => reportFor(`${rec.url}/rec/bench-${i}.wav?seconds=30&rate=8000`));
  const ids = new Set(calls.map((c) => c.callId));
  const accepted = new Map<string, number>();
  const signed = new Map<string, number>();
  const sub = s.store.subscribe(await s.store.headPosition());
  const watching = (async () => {
    for await (const e of sub) {
      if (e.type !== 'UrlSigned') continue;
      const id = (e.data as { callId: string }).callId;
      if (ids.has(id) && !signed.has(id)) signed.set(id, performance.now());
      if (signed.size === n) break;
    }
  })();

  const t0 = performance.now();
  await Promise.all(
    calls.map(async (c) => {
      const res = await fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
      accepted.set(c.callId, performance.now());
    }),
  );
  const deadline = setTimeout(() => void sub.close(), 10 * 60_000);
  await watching;
  clearTimeout(deadline);
  const ms = performance.now() - t0;
  await sub.close();

  let uploads = 0;
  let duplicates = 0;
  for (const c of calls) {
    const count = (await s.store.readStream(callStream(c.callId))).filter((e) => e.type === 'RecordingUploaded').length;
    uploads += Math.min(count, 1);
    if (count > 1) duplicates++;
  }
  const latencies = calls.filter((c) => signed.has(c.callId)).map((c) => signed.get(c.callId)! - accepted.get(c.callId)!).sort((a, b) => a - b);
  return { ms, latencies, done: signed.size, lost: n - uploads, duplicates };
}

async function throughput(kind: 'pglite' | 'postgres'): Promise<void> {
  const rec = await startRecordingServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'callrec-bench-pipeline-'));
  const db = await openBenchDb(kind);
  const s = await startBenchService(db, dataDir);
  try {
    for (const n of [100, 1000]) {
      const r = await runCalls(s, rec, n);
      const label = `${kind}: ${fmt(n)} concurrent calls, 30 s 8 kHz WAV each`;
      row(label, `${fmt(r.ms / 1000, 2)} s`, `${fmt((r.done / r.ms) * 1000, 1)} calls/s · p50 ${fmt(percentile(r.latencies, 50))} ms · p99 ${fmt(percentile(r.latencies, 99))} ms · signed ${r.done}/${n} · lost ${r.lost} · duplicated ${r.duplicates}`);
    }
  } finally {
    await s.stop();
    await db.close();
    await rec.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function bigRecording(): Promise<void> {
  const rec = await startRecordingServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'callrec-bench-big-'));
  const db = await openBenchDb('pglite');
  const s = await startBenchService(db, dataDir, { RECORDING_MAX_BYTES: String(600 * 1024 * 1024), RECORDING_DOWNLOAD_TIMEOUT_MS: '600000' });
  try {
    // warm up every code path once with a small call, then measure idle
    await runCalls(s, rec, 1);
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const idle = process.memoryUsage().rss;
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    const bytes = 500 * 1024 * 1024;
    const c = reportFor(`${rec.url}/big.wav?bytes=${bytes}&rate=8000`);
    const t0 = performance.now();
    const res = await s.store.headPosition().then(async (head) => {
      const sub = s.store.subscribe(head);
      const post = await fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body) });
      if (post.status !== 200) throw new Error(`webhook answered ${post.status}`);
      for await (const e of sub) {
        if ((e.data as { callId?: string }).callId !== c.callId) continue;
        if (e.type === 'UrlSigned' || e.type === 'UploadAbandoned' || e.type === 'UploadRetryScheduled') {
          await sub.close();
          return e.type;
        }
      }
      return 'closed';
    });
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const extra = (peak - idle) / 1024 / 1024;
    row(
      'one 500 MB recording through the whole pipeline (pglite, local storage)',
      `${fmt(extra, 1)} MB`,
      `peak RSS above idle (target < 64 MB) · ${res} · ${fmt(ms / 1000, 1)} s · ${fmt(bytes / 1024 / 1024 / (ms / 1000), 0)} MB/s`,
    );
  } finally {
    await s.stop();
    await db.close();
    await rec.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchPipeline(): Promise<void> {
  console.log(`  (RECORDING_CONCURRENCY=${CONCURRENCY}; latency = webhook accepted → UrlSigned committed)`);
  await throughput('pglite');
  if (await postgresAvailable()) await throughput('postgres');
  else console.log('  postgres: not reachable, skipped');
  await bigRecording();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchPipeline();
  process.exit(0);
}
