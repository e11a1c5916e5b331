import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadVapiFixture } from '../test/fixtures/vapi/index.ts';
import { createTestDatabase, dropTestDatabase } from '../test/support/databases.ts';
import { freePort, startCallrecProcess } from '../test/support/processes.ts';
import { fmt, percentile, postgresAvailable, row } from './support.ts';

/**
 * Webhook ingest at 100 concurrent end-of-call-reports (~10 KB), against a real callrec process (projections
 * and processes running) and, in the same run, a bare koa process that parses the JSON and stores nothing.
 * The load comes from this process, so server and client do not share an event loop.
 */
function report(i: number): string {
  const body = loadVapiFixture('end-of-call-report.no-recording');
  body.message.call.id = `ingest-${i}-${Math.random().toString(36).slice(2, 8)}`;
  const line = 'AI: Thank you for calling Harbor Dental, how can I help?\nUser: I would like to move my cleaning to next week.\n';
  body.message.artifact = { transcript: line.repeat(Math.ceil(9500 / line.length)).slice(0, 9500) };
  return JSON.stringify(body);
}

async function load(url: string, total: number, concurrency: number) {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const bodies = Array.from({ length: total }, (_, i) => report(i));
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const body = bodies[next++]!;
        const s = performance.now();
        const res = await pool.request({ path: '/webhooks/vapi', method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.body.dump();
        if (res.statusCode >= 300) errors++;
        latencies.push(performance.now() - s);
      }
    }),
  );
  const ms = performance.now() - t0;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { rps: (total / ms) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

async function bareKoa(port: number, storeUrl?: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bareKoaServer.ts', import.meta.url))], {
    env: { ...process.env, PORT: String(port), ...(storeUrl ? { STORE_URL: storeUrl } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGKILL'))) };
}

export async function benchIngest(total = Number(process.env.BENCH_INGEST_REQUESTS || 10_000)) {
  console.log(`\nwebhook ingest: ${fmt(total)} end-of-call-reports (~10 KB), 100 concurrent keep-alive connections, server in its own process`);
  const bare = await bareKoa(await freePort());
  await load(bare.url, 1000, 100);
  const base = await load(bare.url, total, 100);
  await bare.stop();
  row('baseline: bare koa, parse JSON, answer 202', `${fmt(base.rps)} req/s`, `p50 ${base.p50.toFixed(1)} ms, p99 ${base.p99.toFixed(1)} ms`);

  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  if (kinds.includes('postgres')) {
    // A floor for a handler that stores each report before it answers: the bare handler plus one plain INSERT and
    // commit per report (unsealed, so PostgreSQL may compress it; no ids, checks or batching), on the same cores.
    const url = await createTestDatabase();
    const stored = await bareKoa(await freePort(), url);
    try {
      await load(stored.url, 1000, 100);
      const r = await load(stored.url, total, 100);
      row('floor: bare koa + plain INSERT of the report, postgres', `${fmt(r.rps)} req/s`, `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${(r.rps / base.rps).toFixed(2)}x baseline, ${r.errors} errors`);
    } finally {
      await stored.stop();
      await dropTestDatabase(url);
    }
  }
  // Two shapes of deployment: an HTTP-only instance (BACKGROUND_WORK=false; projections and the pipeline on
  // another instance), and one instance doing everything on the same two cores (the projection indexes each
  // 10 KB transcript for full-text search as it goes).
  const variants = kinds.flatMap((kind): Array<{ kind: 'postgres' | 'pglite'; background: boolean }> =>
    kind === 'postgres' ? [{ kind, background: false }, { kind, background: true }] : [{ kind, background: true }],
  );
  for (const { kind, background } of variants) {
    const url = kind === 'postgres' ? await createTestDatabase() : undefined;
    const dir = `/tmp/callrec-bench-ingest-${process.pid}-${kind}`;
    const p = await startCallrecProcess({ LOG_LEVEL: 'silent', DATA_DIR: dir, BACKGROUND_WORK: String(background), ...(url ? { DATABASE_URL: url } : {}) }, await freePort());
    try {
      await load(p.url, 1000, 100);
      const r = await load(p.url, total, 100);
      const label = `callrec POST /webhooks/vapi, ${kind}, ${background ? 'one instance doing everything' : 'HTTP-only instance'}`;
      row(label, `${fmt(r.rps)} req/s`, `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${(r.rps / base.rps).toFixed(2)}x baseline, ${r.errors} errors`);
    } finally {
      await p.stop();
      if (url) await dropTestDatabase(url);
      await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchIngest();
