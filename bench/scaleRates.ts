import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { Pool } from 'undici';
import type { Service } from '../src/service.ts';
import { encodeCursor, pipelineCandidates, referencedPaths } from '../src/projections/callLogs/queries.ts';
import { loadVapiFixture } from '../test/fixtures/vapi/index.ts';
import { percentile, runConcurrent } from './support.ts';
import { ORGS } from './scaleLog.ts';

// Every rate of the scale benchmark, measured at one size of the log on the service's own long-lived
// pool (and, for the baseline, a plain pg pool of its own that is kept for the whole run too).

export interface Rate {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface RateContext {
  service: Service;
  /** The service's base URL; tokens for a member and an auditor of org-0. */
  member: string;
  auditor: string;
  /** Plain pg pool for the baseline (postgres only). */
  baselinePool?: pg.Pool;
  /** A run-unique counter for stream names. */
  seq: { n: number };
}

const WINDOW = 10_000;

function statusEvent(i: number) {
  return {
    eventId: randomUUID(),
    type: 'CallStatusChanged',
    data: { callId: `w-${i}`, orgId: 'org-0', status: 'in-progress', at: '2026-11-20T10:00:00.000Z', endedReason: null },
    metadata: { correlationId: randomUUID(), causationId: null, orgId: 'org-0', recordedAt: '2026-11-20T10:00:00.000Z', actor: 'bench' },
  };
}

function webhookBody(i: number): string {
  const body = loadVapiFixture('end-of-call-report.no-recording');
  body.message.call.id = `ingest-${i}-${randomUUID().slice(0, 8)}`;
  const line = 'AI: Thank you for calling Harbor Dental, how can I help?\nUser: I would like to move my cleaning to next week.\n';
  body.message.artifact = { transcript: line.repeat(Math.ceil(9500 / line.length)).slice(0, 9500) };
  return JSON.stringify(body);
}

/** `total` requests over `concurrency` keep-alive connections: requests/s and latency percentiles. */
export async function httpLoad(url: string, total: number, concurrency: number, request: (i: number) => { path: string; method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }) {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const ms = await runConcurrent(total, concurrency, async (i) => {
    const r = request(i);
    const s = performance.now();
    const res = await pool.request({ path: r.path, method: r.method ?? 'GET', headers: r.headers, body: r.body });
    await res.body.dump();
    if (res.statusCode >= 300) errors++;
    latencies.push(performance.now() - s);
  });
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { rps: (total / ms) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

/** Time until the SSE stream has delivered the message with id `until` (resuming after `from`). */
async function sseResume(url: string, token: string, from: number, until: number): Promise<number> {
  const ac = new AbortController();
  const t0 = performance.now();
  const res = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': String(from) }, signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('SSE stream ended before the catch-up did');
      text += decoder.decode(value, { stream: true });
      if (text.includes(`id: ${until}\n`)) return performance.now() - t0;
      text = text.slice(-64);
    }
  } finally {
    ac.abort();
  }
}

export async function measureRates(ctx: RateContext): Promise<Rate[]> {
  const { service } = ctx;
  const { store, database, runner } = service;
  const db = database.db;
  const out: Rate[] = [];
  const add = (name: string, value: number, unit: string, note?: string) => out.push({ name, value, unit, note });

  // --- appends ---------------------------------------------------------------------------------------
  if (ctx.baselinePool) {
    const pool = ctx.baselinePool;
    const ms = await runConcurrent(2000, 20, async (i) => {
      const e = statusEvent(i);
      await pool.query('insert into baseline_events (stream_id, stream_revision, event_id, type, data, metadata) values ($1, 0, $2, $3, $4, $5)', [
        `base-${ctx.seq.n}-${i}`, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata),
      ]);
    });
    add('baseline: plain pg INSERT, 20 writers', (2000 / ms) * 1000, 'ev/s');
  }
  const run = ctx.seq.n++;
  let ms = await runConcurrent(2000, 20, async (i) => {
    const r = await store.append(`call-one-${run}-${i}`, [statusEvent(i)], 'no_stream');
    if (!r.ok) throw new Error(r.error.message);
  });
  add('append, single events, 20 writers', (2000 / ms) * 1000, 'ev/s');
  ms = await runConcurrent(40, 20, async (i) => {
    const r = await store.append(`call-batch-${run}-${i}`, Array.from({ length: 100 }, (_, k) => statusEvent(k)), 'no_stream');
    if (!r.ok) throw new Error(r.error.message);
  });
  add('append, 100-event batches, 20 writers', (4000 / ms) * 1000, 'ev/s');

  // --- webhook ingest (HTTP-only instance in this process; load from this process too) ------------------
  const ingest = await httpLoad(service.url, 1000, 100, (i) => ({
    path: '/webhooks/vapi', method: 'POST', body: webhookBody(run * 100_000 + i), headers: { 'content-type': 'application/json' },
  }));
  add('webhook ingest, 100 connections', ingest.rps, 'req/s', `p99 ${ingest.p99.toFixed(0)} ms, ${ingest.errors} errors`);

  // --- reads of the log ------------------------------------------------------------------------------
  const head = await store.headPosition();
  const from = Math.max(0, head - WINDOW);
  if (ctx.baselinePool) {
    const client = await ctx.baselinePool.connect();
    try {
      const t0 = performance.now();
      let after = from;
      for (;;) {
        const r = await client.query('select position, stream_id, stream_revision, event_id, type, data, metadata, recorded_at from callrec.events where position > $1 order by position limit 1000', [after]);
        if (r.rows.length < 1000) break;
        after = Number(r.rows[r.rows.length - 1].position);
      }
      add('baseline: plain paged SELECT of the last 10k events', ((head - from) / (performance.now() - t0)) * 1000, 'ev/s');
    } finally {
      client.release();
    }
  }
  let t0 = performance.now();
  for (let after = from; ; ) {
    const page = await store.readAll({ after, limit: 1000 });
    if (page.length < 1000) break;
    after = page[page.length - 1]!.position;
  }
  add('readAll, pages of 1000, last 10k events', ((head - from) / (performance.now() - t0)) * 1000, 'ev/s');
  t0 = performance.now();
  const sub = store.subscribe(from, { batchSize: 1000 });
  let seen = 0;
  for await (const e of sub) {
    seen++;
    if (e.position >= head) break;
  }
  await sub.close();
  add('subscription catch-up, last 10k events', (seen / (performance.now() - t0)) * 1000, 'ev/s');

  // Projection catch-up over what this round appended (appends, ingest): the runner of the service.
  const before = Math.min(...Object.values(await runner.positions()));
  t0 = performance.now();
  await runner.catchUp();
  const caught = (await store.headPosition()) - before;
  add('projection catch-up (all projectors)', (caught / (performance.now() - t0)) * 1000, 'ev/s', `${caught} events`);

  // --- the calls API ---------------------------------------------------------------------------------
  const api = async (name: string, path: (i: number) => string, token = ctx.member) => {
    const r = await httpLoad(service.url, 200, 4, (i) => ({ path: path(i), headers: { authorization: `Bearer ${token}` } }));
    if (r.errors) throw new Error(`${name}: ${r.errors} errors`);
    add(name, r.rps, 'req/s', `p50 ${r.p50.toFixed(1)} ms`);
  };
  await api('GET /api/calls, first page', () => '/api/calls?limit=50');
  // 90% down the org's realistic calls (the grown log's; the bench's own status-only calls sort last, without an end).
  const orgCalls = Number((await sql<{ n: string }>`select count(*) as n from ${sql.table('call_logs')} where org_id = 'org-0' and id like 'scale-%'`.execute(db)).rows[0]!.n);
  const deep = (await sql<{ e: string; id: string }>`select ended_at::text as e, id from ${sql.table('call_logs')} where org_id = 'org-0' and id like 'scale-%'
      order by ended_at desc nulls last, id desc offset ${Math.floor(orgCalls * 0.9)} limit 1`.execute(db)).rows[0];
  if (deep) await api('GET /api/calls, cursor page 90% deep', () => `/api/calls?limit=50&cursor=${encodeCursor({ e: deep.e, i: deep.id })}`);
  await api('GET /api/calls, filters (type, recording)', () => '/api/calls?limit=50&call_type=outboundPhoneCall&has_recording=true');
  // The bench's 2,000 status-only calls (no end yet: last in the list's order), beside every ended call of the org.
  await api('GET /api/calls, filter status=in-progress', () => '/api/calls?limit=50&status=in-progress');
  await api('GET /api/calls?q=, common word', () => '/api/calls?limit=50&q=appointment');
  // A word in 1 call of 1,000: its matches (and the cost of ordering them) grow with the log until a page is full.
  await api('GET /api/calls?q=, rare word (1 call in 1,000)', (i) => `/api/calls?limit=50&q=word${(i * 5) % 1000}`);
  const oldCalls = (await sql<{ id: string }>`select id from ${sql.table('call_logs')} where org_id = 'org-0' order by id limit 200`.execute(db)).rows.map((r) => r.id);
  if (oldCalls.length) {
    await api('GET /api/calls/:id/history (auditor)', (i) => `/api/calls/${oldCalls[i % oldCalls.length]}/history`, ctx.auditor);
    await api('GET /api/calls/:id?asOf=', (i) => `/api/calls/${oldCalls[i % oldCalls.length]}?asOf=${new Date().toISOString()}`);
  }

  // --- SSE resume from a Last-Event-ID 10k events back ----------------------------------------------
  const last = (await sql<{ p: string }>`select max(position) as p from ${sql.table('events')} where position > ${from} and position <= ${head} and type = 'CallEnded' and metadata->>'orgId' = 'org-0'`.execute(db)).rows[0]?.p;
  if (last) {
    const times: number[] = [];
    for (let k = 0; k < 3; k++) times.push(await sseResume(service.url, ctx.member, from, Number(last)));
    times.sort((a, b) => a - b);
    add('SSE resume, Last-Event-ID 10k events back', ((Number(last) - from) / times[1]!) * 1000, 'ev/s', `log events caught up per second; median of 3: ${times[1]!.toFixed(0)} ms`);
  }

  // --- the recording pipeline's and the sweep's queries ---------------------------------------------
  t0 = performance.now();
  for (let i = 0; i < 50; i++) await pipelineCandidates(db, new Date(), 20);
  // No pipeline runs here, so the webhook calls of each round stay on its to-do list (~1,000 more a round); a poll
  // reads the first entries of that list's partial index (migration 015), whatever its length.
  add('pipeline: candidate query', (50 / (performance.now() - t0)) * 1000, 'q/s', 'to-do list grows each round');
  // The same 100 paths at every size (the seed's calls, present from the smallest size on) and one that never is.
  const paths = Array.from({ length: 100 }, (_, i) => `${ORGS[(i * 7) % ORGS.length]}/2026/11/20/scale-${i * 7}.wav`);
  t0 = performance.now();
  for (let i = 0; i < 50; i++) await referencedPaths(db, [...paths, `org-0/none-${i}.wav`]);
  add('sweep: referenced-paths query (100 paths)', (50 / (performance.now() - t0)) * 1000, 'q/s');
  return out;
}
