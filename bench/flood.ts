import net from 'node:net';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { loadVapiFixture } from '../test/fixtures/vapi/index.ts';
import { createTestDatabase, dropTestDatabase } from '../test/support/databases.ts';
import { freePort, startCallrecProcess, type CallrecProcess } from '../test/support/processes.ts';
import { fmt, postgresAvailable, row } from './support.ts';

/**
 * Memory under floods, measured as the RSS of a real callrec process (PostgreSQL) sampled every 20 ms:
 *   1. 5,000 concurrent webhook connections (one ~10 KB end-of-call-report each) while the database is slow
 *      (the append lock is held for STALL_MS), with the append queue effectively unbounded
 *      (APPEND_QUEUE_MAX=1000000, the old behaviour: the baseline) and with the default bound;
 *   2. 150 unauthenticated connections that send 900 KB of a 1 MB body and stall (the secret is now checked
 *      before the body is read, and bodies have a deadline).
 */
const FLOOD = Number(process.env.BENCH_FLOOD_CONNECTIONS || 5000);
const STALL_MS = Number(process.env.BENCH_FLOOD_STALL_MS || 3000);
const APPEND_LOCK = 7310002; // callrec_append's advisory lock class, keyed by hashtext(schema) (db/migrations/006_append_head.sql)

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};

function sampler(pid: number) {
  let peak = 0;
  const t = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
  return { stop: () => (clearInterval(t), peak) };
}

function report(i: number): string {
  const body = loadVapiFixture('end-of-call-report.no-recording');
  body.message.call.id = `flood-${i}-${Math.random().toString(36).slice(2, 8)}`;
  const line = 'AI: Thank you for calling Harbor Dental, how can I help?\nUser: I would like to move my cleaning to next week.\n';
  body.message.artifact = { transcript: line.repeat(Math.ceil(9500 / line.length)).slice(0, 9500) };
  return JSON.stringify(body);
}

/** One request per connection; resolves with the status code (0 = no answer). */
function send(port: number, head: string, body: string, stallAfter?: number): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.on('connect', () => s.write(head + (stallAfter === undefined ? body : body.slice(0, stallAfter))));
    s.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', () => resolve(0));
    s.on('close', () => resolve(0));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settleRss(pid: number) {
  await sleep(1500);
  return rssMb(pid);
}

async function flood(url: string, queueMax: string) {
  const dbUrl = await createTestDatabase();
  let proc: CallrecProcess | undefined;
  const admin = new pg.Client({ connectionString: dbUrl });
  try {
    proc = await startCallrecProcess({ DATABASE_URL: dbUrl, DATA_DIR: `/tmp/callrec-flood-${process.pid}`, APPEND_QUEUE_MAX: queueMax, LOG_LEVEL: 'error' }, await freePort());
    const pid = proc.child.pid!;
    const port = Number(new URL(proc.url).port);
    const bodies = Array.from({ length: FLOOD }, (_, i) => report(i));
    // warm up
    await Promise.all(bodies.slice(0, 200).map((b) => send(port, `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n`, b)));
    const before = await settleRss(pid);
    await admin.connect();
    await admin.query('begin');
    await admin.query('select pg_advisory_xact_lock($1, hashtext($2))', [APPEND_LOCK, 'callrec']);
    const s = sampler(pid);
    const t0 = performance.now();
    const statuses = Promise.all(
      bodies.map((b) => send(port, `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\nConnection: close\r\n\r\n`, b)),
    );
    await sleep(STALL_MS);
    await admin.query('commit');
    const codes = await statuses;
    const ms = performance.now() - t0;
    const peak = s.stop();
    const after = await settleRss(pid);
    const count = (c: number) => codes.filter((x) => x === c).length;
    return { before, peak, after, ok: count(200), busy: count(503), other: codes.length - count(200) - count(503), ms };
  } finally {
    await admin.end().catch(() => {});
    await proc?.stop();
    await dropTestDatabase(dbUrl);
  }
}

async function stalledBodies() {
  const dbUrl = await createTestDatabase();
  let proc: CallrecProcess | undefined;
  try {
    proc = await startCallrecProcess({ DATABASE_URL: dbUrl, DATA_DIR: `/tmp/callrec-flood-${process.pid}`, VAPI_WEBHOOK_SECRET: 'bench-secret', LOG_LEVEL: 'error' }, await freePort());
    const pid = proc.child.pid!;
    const port = Number(new URL(proc.url).port);
    const before = await settleRss(pid);
    const body = '{"message":{"type":"end-of-call-report","pad":"' + 'x'.repeat(1_000_000) + '"}}';
    const head = `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const s = sampler(pid);
    const t0 = performance.now();
    const codes = await Promise.all(Array.from({ length: 150 }, () => send(port, head, body, 900_000)));
    const ms = performance.now() - t0;
    await sleep(500);
    const peak = s.stop();
    const after = await settleRss(pid);
    return { before, peak, after, refused: codes.filter((c) => c === 401).length, ms };
  } finally {
    await proc?.stop();
    await dropTestDatabase(dbUrl);
  }
}

export async function benchFlood() {
  if (!(await postgresAvailable())) {
    console.log('flood: PostgreSQL not reachable, skipped');
    return;
  }
  console.log(`\nflood: ${fmt(FLOOD)} concurrent webhook connections (~10 KB each), database stalled ${STALL_MS} ms (append lock held); RSS of the callrec process`);
  const unbounded = await flood('', '1000000');
  const bounded = await flood('', '2000');
  const line = (r: Awaited<ReturnType<typeof flood>>) =>
    `RSS before ${fmt(r.before)} MB, peak ${fmt(r.peak)} MB (+${fmt(r.peak - r.before)}), after ${fmt(r.after)} MB; ${fmt(r.ok)} × 200, ${fmt(r.busy)} × 503, ${fmt(r.other)} other, ${fmt(r.ms)} ms`;
  row('baseline: unbounded queue (APPEND_QUEUE_MAX=1000000)', line(unbounded));
  row('bounded queue (APPEND_QUEUE_MAX=2000, default)', line(bounded));
  row('peak growth bounded / unbounded', `${fmt((bounded.peak - bounded.before) / Math.max(1, unbounded.peak - unbounded.before), 2)}×`);

  console.log('\n150 unauthenticated connections send 900 KB of a 1 MB body and stall (VAPI_WEBHOOK_SECRET set)');
  const st = await stalledBodies();
  row('stalled unauthenticated bodies', `RSS before ${fmt(st.before)} MB, peak ${fmt(st.peak)} MB (+${fmt(st.peak - st.before)}), after ${fmt(st.after)} MB; ${st.refused}/150 refused with 401 in ${fmt(st.ms)} ms`);
}
