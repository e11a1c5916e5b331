import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { openRows } from '../../src/privacy/openRows.ts';
import { appendBatch } from '../../src/events/postgres/appendBatch.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { backends } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';

// Webhook hardening: text Postgres cannot store (NUL, lone surrogates) is stored replaced, never a 5xx;
// the shared secret is checked before the body is read; a stalled body gets 408 and its socket closed;
// a full append queue answers 503 with Retry-After at once.
const SECRET = 'webhook-secret-for-hardening';
const HMAC_SECRET = 'hmac-secret-for-hardening';
const BODY_TIMEOUT_MS = 600;

interface RawReply {
  status: number;
  head: string;
  closed: boolean;
  ms: number;
}

/** Sends raw bytes on a fresh socket and waits for the reply and for the server to close the socket. */
function rawRequest(url: string, head: string, body: string, opts: { waitClose?: number } = {}): Promise<RawReply> {
  const { port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    let data = '';
    let status = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ status, head: data.split('\r\n\r\n')[0] ?? '', closed, ms: Date.now() - started });
    };
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) status = Number(m[1]);
      if (status && !done) setTimeout(() => finish(false), opts.waitClose ?? 3000).unref();
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (status ? finish(true) : reject(e)));
    sock.write(head + body);
  });
}

const blockerEvent = () => ({
  eventId: randomUUID(),
  type: 'CallStatusChanged',
  data: { callId: 'blocker', orgId: 'default', status: 'ringing', at: null, endedReason: null },
  metadata: { correlationId: 'test', causationId: null, orgId: 'default', recordedAt: new Date().toISOString(), actor: 'test' },
});

for (const backend of await backends()) {
  const test = suite<{ s: TestService }>(`webhook hardening [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.s = await startTestService(
      backend,
      { VAPI_WEBHOOK_SECRET: SECRET, VAPI_WEBHOOK_HMAC_SECRET: HMAC_SECRET, WEBHOOK_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) },
      { background: false },
    );
  });
  test.after(async (ctx) => ctx.s.close());

  test('NUL and lone surrogates: stored with U+FFFD and listed in the event metadata, redelivery is a duplicate', async ({ s }) => {
    const body = loadVapiFixture('end-of-call-report.current');
    body.message.call.id = `poison-${backend.name}`;
    body.message.artifact.transcript = 'AI: x\u0000y';
    body.message.analysis.summary = 'lone \ud800 high and \udc00 low, pair \ud83d\ude00 kept';
    const text = JSON.stringify(body);
    assert.match(text, /\\u0000/);
    assert.match(text, /\\ud800/);
    const res = await s.post('/webhooks/vapi', text, { 'x-vapi-secret': SECRET });
    assert.is(res.status, 200, await res.clone().text());
    assert.is(((await res.json()) as { stored: boolean }).stored, true);
    const again = await s.post('/webhooks/vapi', text, { 'x-vapi-secret': SECRET });
    assert.is(again.status, 200);
    assert.is(((await again.json()) as { duplicate: boolean }).duplicate, true);

    const events = await s.store.readStream(`call-${body.message.call.id}`);
    assert.is(events.length, 1);
    const d = events[0]!.data as { transcript: string; summary: string };
    assert.is(d.transcript, 'AI: x\ufffdy');
    assert.is(d.summary, 'lone \ufffd high and \ufffd low, pair \ud83d\ude00 kept');
    const meta = events[0]!.metadata.sanitized as { replacedWith: string; fields: string[] };
    assert.is(meta.replacedWith, 'U+FFFD');
    assert.equal(meta.fields.sort(), ['analysis.summary', 'artifact.transcript']);
    await s.runner.catchUp();
    const stored = await s.database.db.selectFrom('call_logs').select(['id', 'transcript']).where('id', '=', body.message.call.id).executeTakeFirstOrThrow();
    const [row] = await openRows(s.keyring, 'call_logs', [stored], (r) => r.id);
    assert.is(row?.transcript, 'AI: x\ufffdy');

    const status = loadVapiFixture('status-update.ringing');
    status.message.call.id = `poison-status-${backend.name}`;
    status.message.status = 'ringing\u0000';
    const st = await s.post('/webhooks/vapi', status, { 'x-vapi-secret': SECRET });
    assert.is(st.status, 200);
  });

  test('a wrong shared secret is refused before the body is read, and the socket is closed', async ({ s }) => {
    // Headers promise 1 MB; no body byte is ever sent. A server that read the body first would wait.
    const head = `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nx-vapi-secret: wrong\r\n\r\n`;
    const r = await rawRequest(s.url, head, '');
    assert.is(r.status, 401);
    assert.ok(r.ms < BODY_TIMEOUT_MS, `answered before any body deadline (${r.ms} ms)`);
    assert.match(r.head.toLowerCase(), /connection: close/);
    assert.ok(r.closed, 'the server closed the socket');
  });

  for (const [name, authHeader] of [
    ['a secret', `x-vapi-secret: ${SECRET}`],
    ['HMAC headers (unproven until the body is read)', `x-signature: ${'0'.repeat(64)}\r\nx-timestamp: ${Math.floor(Date.now() / 1000)}`],
  ] as const) {
    test(`a body that stalls gets 408 after WEBHOOK_BODY_TIMEOUT_MS and its socket closed (${name})`, async ({ s }) => {
      const head = `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${authHeader}\r\n\r\n`;
      const r = await rawRequest(s.url, head, '{"message": {"type": "end-of-call-report", "pad": "' + 'x'.repeat(50_000));
      assert.is(r.status, 408);
      assert.ok(r.ms >= BODY_TIMEOUT_MS - 50, `not before the deadline (${r.ms} ms)`);
      assert.match(r.head.toLowerCase(), /connection: close/);
      assert.ok(r.closed, 'the server closed the socket');
      assert.is((await fetch(`${s.url}/health`)).status, 200);
    });
  }

  test('many stalled unauthenticated connections are answered and closed at once', async ({ s }) => {
    const head = `POST /webhooks/vapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`;
    const replies = await Promise.all(Array.from({ length: 100 }, () => rawRequest(s.url, head, '{"message": ' + 'x'.repeat(900_000))));
    assert.ok(replies.every((r) => r.status === 401 && r.closed), JSON.stringify(replies.filter((r) => r.status !== 401 || !r.closed).slice(0, 3)));
  });

  test('a full append queue answers 503 with Retry-After at once; redelivery stores everything', async () => {
    const t = await startTestService(backend, { APPEND_QUEUE_MAX: '1' }, { background: false });
    try {
      let refusedSoFar = 0;
      const ids = Array.from({ length: 60 }, (_, i) => `flood-${backend.name}-${i}`);
      const body = (id: string) => {
        const b = loadVapiFixture('end-of-call-report.current');
        b.message.call.id = id;
        return b;
      };
      // Warm the org mapping cache first (on PGlite the held connection would stall its lookup too).
      assert.is((await t.post('/webhooks/vapi', body(`warm-${backend.name}`))).status, 200);
      // Hold the append lock in an open transaction (on PGlite: its only connection), so the writer
      // stalls and the queue fills, as it would with a slow database under a flood.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let holding!: () => void;
      const held = new Promise<void>((r) => (holding = r));
      const blocker = t.database.db.transaction().execute(async (trx) => {
        await appendBatch(trx, [{ streamId: `blocker-${backend.name}`, expected: 'any', events: [blockerEvent()] }]);
        holding();
        await gate;
      });
      await held;
      const started = Date.now();
      const firstP = Promise.all(
        ids.map(async (id) => {
          const res = await t.post('/webhooks/vapi', body(id));
          if (res.status === 503) refusedSoFar++;
          return { id, res };
        }),
      );
      // The refusals come back while the writer is still stuck.
      const deadline = Date.now() + 10_000;
      let first: Array<{ id: string; res: Response }> = [];
      const settled = firstP.then((v) => (first = v));
      while (Date.now() < deadline && refusedSoFar < 50) await new Promise((r) => setTimeout(r, 20));
      const refusedWhileStuck = refusedSoFar;
      const stuckMs = Date.now() - started;
      release();
      await blocker;
      await settled;
      assert.ok(refusedWhileStuck >= 50, `503s came while the writer was stuck (${refusedWhileStuck} after ${stuckMs} ms)`);
      const refused = first.filter((x) => x.res.status === 503);
      assert.ok(refused.length > 0, 'some were refused');
      let overloaded = 0;
      for (const x of refused) {
        const code = ((await x.res.json()) as { error: { code: string } }).error.code;
        assert.ok(code === 'overloaded' || code === 'database_unavailable', code);
        assert.is(x.res.headers.get('retry-after'), code === 'overloaded' ? '1' : '5');
        if (code === 'overloaded') overloaded++;
      }
      assert.ok(overloaded >= 50, `${overloaded} overloaded`);
      assert.ok(first.every((x) => x.res.status === 200 || x.res.status === 503));
      // The senders come back later (one at a time here: the tiny queue holds one).
      let pending = refused.map((x) => x.id);
      for (let round = 0; pending.length > 0 && round < 20; round++) {
        const again: string[] = [];
        for (const id of pending) if ((await t.post('/webhooks/vapi', body(id))).status !== 200) again.push(id);
        pending = again;
      }
      assert.is(pending.length, 0);
      for (const id of ids) assert.is((await t.store.readStream(`call-${id}`)).length, 1, id);
    } finally {
      await t.close();
    }
  });

  test.run();
}
