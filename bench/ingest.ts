import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';
import { loadVapiFixture } from '../test/fixtures/vapi/index.ts';
import { fmt, openBenchDb, percentile, postgresAvailable, row } from './support.ts';

/** A ~10 KB end-of-call-report with a unique call id. */
function report(i: number): string {
  const body = loadVapiFixture('end-of-call-report.current');
  body.message.call.id = `ingest-${i}-${Math.random().toString(36).slice(2, 8)}`;
  const t = body.message.artifact.transcript as string;
  body.message.artifact.transcript = t.repeat(Math.max(1, Math.ceil(9000 / t.length))).slice(0, 9000);
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

/** Webhook ingest at 100 concurrent end-of-call-reports, beside a bare koa handler that stores nothing. */
export async function benchIngest(total = Number(process.env.BENCH_INGEST_REQUESTS || 5000)) {
  console.log(`\nwebhook ingest: ${fmt(total)} end-of-call-reports (~10 KB), 100 concurrent keep-alive connections`);
  const bare = new Koa();
  bare.use(async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    ctx.status = 202;
    ctx.body = { ok: true };
  });
  const server = createServer(bare.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await load(bareUrl, 500, 100);
  const base = await load(bareUrl, total, 100);
  server.closeAllConnections();
  server.close();
  row('baseline: bare koa, parse JSON, answer 202', `${fmt(base.rps)} req/s`, `p50 ${base.p50.toFixed(1)} ms, p99 ${base.p99.toFixed(1)} ms`);

  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  for (const kind of kinds) {
    const b = await openBenchDb(kind, 20);
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: `/tmp/callrec-bench-${process.pid}` });
    // HTTP only: projections and processes would compete for the same CPU; ingest is what is measured.
    const service = await startService(config, { logger: silentLogger, database: b.database, background: false });
    try {
      await load(service.url, 500, 100);
      const r = await load(service.url, total, 100);
      row(`callrec POST /webhooks/vapi on ${kind} (append each)`, `${fmt(r.rps)} req/s`, `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${(r.rps / base.rps).toFixed(2)}x baseline, ${r.errors} errors`);
      const stored = await b.database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      row('  events stored / requests sent', `${stored.n} / ${total + 500}`);
    } finally {
      await service.stop();
      await b.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchIngest();
