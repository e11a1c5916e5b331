import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import net from 'node:net';
import { Agent, request } from 'undici';
import { signToken } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET } from '../../src/config.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import { freePort, startCallrecProcess, type CallrecProcess } from '../support/processes.ts';

// SIGTERM during a burst of 500 webhooks on keep-alive connections, with a second instance on the same
// PostgreSQL taking over: every 2xx is stored, no request is cut after it was accepted (no event written
// for a request whose sender got no answer), nothing is lost, a request in flight finishes, SSE streams end
// cleanly, the process exits 0. Real processes; PostgreSQL only (two processes cannot share PGlite).
const N = 500;
const test = suite('SIGTERM drains: a second instance takes over with nothing lost or cut');
const postgres = (await backends()).some((b) => b.name === 'postgres');

function report(callId: string) {
  const body = loadVapiFixture('end-of-call-report.no-recording');
  body.message.call.id = callId;
  return JSON.stringify(body);
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

if (postgres) {
  test('burst of 500 on keep-alive connections, SIGTERM midway', async () => {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 2 });
    const env = { DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY, LEASE_TTL_MS: '1500', DATA_DIR: `/tmp/callrec-drain-${process.pid}` };
    let a: CallrecProcess | undefined;
    let b: CallrecProcess | undefined;
    const agent = new Agent({ connections: 40, keepAliveTimeout: 60_000, pipelining: 1 });
    try {
      a = await startCallrecProcess({ ...env, INSTANCE_ID: 'drain-a', LOG_LEVEL: 'info' }, await freePort());
      b = await startCallrecProcess({ ...env, INSTANCE_ID: 'drain-b' }, await freePort());
      const A = a;
      const B = b;
      const exited = new Promise<number | null>((r) => A.child.once('exit', (code) => r(code)));

      // A dashboard on A: its stream must end cleanly (a normal end of the response, not a reset).
      const token = await signToken({ secret: DEV_JWT_SECRET, orgId: 'default', userId: 'drain-user' });
      const sseEnd = new Promise<'clean' | string>((resolve) => {
        http.get(`${A.url}/api/events?access_token=${encodeURIComponent(token)}`, { headers: { accept: 'text/event-stream' } }, (res) => {
          res.resume();
          res.on('end', () => resolve('clean'));
          res.on('error', (e) => resolve(`error: ${e.message}`));
        }).on('error', (e) => resolve(`error: ${e.message}`));
      });

      // A webhook in flight at SIGTERM: headers and half of its body sent before, the rest after.
      const slowId = 'drain-slow-call';
      const slowBody = report(slowId);
      const slow = net.connect(Number(new URL(A.url).port), '127.0.0.1');
      let slowReply = '';
      const slowClosed = new Promise<void>((r) => slow.on('close', () => r()));
      slow.on('data', (d) => (slowReply += d));
      slow.on('error', () => {});
      await new Promise<void>((r) => slow.once('connect', () => r()));
      slow.write(`POST /webhooks/vapi HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(slowBody)}\r\nx-request-id: a-slow\r\n\r\n`);
      slow.write(slowBody.slice(0, 100));

      const ackedByA = new Set<string>();
      const answeredByA = new Set<string>(); // any HTTP answer from A (2xx or not)
      const storedVia = new Map<string, string>();
      const send = async (i: number) => {
        const id = `drain-call-${i}`;
        try {
          const res = await request(`${A.url}/webhooks/vapi`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'content-type': 'application/json', 'x-request-id': `a-${i}` },
            body: report(id),
          });
          await res.body.text();
          answeredByA.add(`a-${i}`);
          if (res.statusCode === 200) {
            ackedByA.add(`a-${i}`);
            storedVia.set(id, 'a');
            return;
          }
        } catch {
          // no answer from A (refused, or an idle keep-alive socket closed under the request): redeliver
        }
        // The sender redelivers to the other instance until it is acknowledged.
        for (let attempt = 0; ; attempt++) {
          const res = await fetch(`${B.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `b-${i}` }, body: report(id) });
          if (res.status === 200) {
            storedVia.set(id, 'b');
            return;
          }
          if (attempt > 50) throw new Error(`B refused ${id}: ${res.status}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      let next = 0;
      const workers = Array.from({ length: 40 }, async () => {
        while (next < N) await send(next++);
      });

      await until(() => ackedByA.size >= 100, 30_000, '100 webhooks acknowledged by A');
      A.child.kill('SIGTERM');
      await until(() => A.output().includes('shutting down'), 10_000, 'A to start shutting down');
      // From now on A is never "ready": /ready answers 503 or A takes no connection at all.
      const readyAfterSigterm: string[] = [];
      for (let i = 0; i < 5; i++) {
        readyAfterSigterm.push(await fetch(`${A.url}/ready`).then((r) => String(r.status), () => 'refused'));
      }
      slow.write(slowBody.slice(100));
      await Promise.all(workers);
      await slowClosed;
      const code = await exited;
      a = undefined;

      assert.is(code, 0, `A exited 0:\n${A.output().slice(-2000)}`);
      assert.match(slowReply, /^HTTP\/1\.1 200/, `the request in flight at SIGTERM finished: ${slowReply.slice(0, 200)}`);
      assert.match(slowReply.toLowerCase(), /connection: close/);
      assert.is(await sseEnd, 'clean');
      assert.ok(readyAfterSigterm.every((r) => r === '503' || r === 'refused'), readyAfterSigterm.join(','));
      assert.not.match(A.output(), /were cut/);
      assert.ok(ackedByA.size < N, `some webhooks went to B after SIGTERM (${N - ackedByA.size})`);

      // Every call is stored exactly once.
      const rows = await database.db
        .selectFrom('events')
        .select(['stream_id', 'type', 'metadata'])
        .where('type', '=', 'CallEnded')
        .execute();
      const ids = rows.map((r) => r.stream_id);
      assert.is(new Set(ids).size, ids.length, 'no call twice');
      for (let i = 0; i < N; i++) assert.ok(ids.includes(`call-drain-call-${i}`), `call ${i} stored`);
      assert.ok(ids.includes(`call-${slowId}`));
      // Nothing accepted and then cut: every event A wrote belongs to a request A answered with 2xx.
      const writtenByA = rows.map((r) => (r.metadata as { correlationId: string }).correlationId).filter((c) => c.startsWith('a-') && c !== 'a-slow');
      const cut = writtenByA.filter((c) => !ackedByA.has(c));
      assert.equal(cut, [], 'events stored for requests whose sender got no 2xx from A');
      for (const c of ackedByA) assert.ok(writtenByA.includes(c) || storedVia.get(`drain-call-${c.slice(2)}`) === 'a', c);
      console.log(`  A acknowledged ${ackedByA.size}, B took over ${N - ackedByA.size}; A answered ${answeredByA.size}`);
    } finally {
      await agent.close().catch(() => {});
      await a?.kill9().catch(() => {});
      await b?.stop().catch(() => {});
      await database.close();
      await dropTestDatabase(url);
    }
  });
}

test.run();
