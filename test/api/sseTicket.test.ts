import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { startService, type Service } from '../../src/service.ts';
import { backends } from '../support/databases.ts';
import { JWT_SECRET, openSse, startApi, type ApiHarness } from './support.ts';
import { signToken } from '../../src/auth/tokens.ts';

// SSE without a JWT in the URL: POST /api/events/ticket (bearer) → a single-use ticket valid 60 s →
// GET /api/events?ticket=…. Used, expired or unknown tickets are a 401; a ticket works once even across
// two instances sharing PostgreSQL. The old ?access_token= still works, with a warning in the log.
for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`SSE tickets [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
  });
  test.after(async (ctx) => ctx.h.close());

  test('a ticket opens the stream once, scoped to its org', async ({ h }) => {
    assert.is((await h.post('/api/events/ticket')).status, 401);
    const token = await h.token('org-t', 'tina');
    const r = await h.post('/api/events/ticket', token);
    assert.is(r.status, 201);
    assert.is(r.headers.get('cache-control'), 'no-store');
    assert.match(r.body.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.is(r.body.expiresIn, 60);
    assert.is(Date.parse(r.body.expiresAt) - h.clock.now().getTime(), 60_000);

    const sse = await openSse(`${h.service.url}/api/events?ticket=${r.body.ticket}`);
    try {
      assert.is(sse.status, 200);
      const other = await h.endCall('org-other');
      const mine = await h.endCall('org-t');
      const [got] = await sse.waitFor((e) => e.event === 'call_ended');
      assert.is(JSON.parse(got!.data).callId, mine);
      assert.not.ok(sse.events.some((e) => e.data.includes(other)));
    } finally {
      sse.close();
    }
    const again = await h.get(`/api/events?ticket=${r.body.ticket}`);
    assert.is(again.status, 401);
    assert.is(again.body.error.code, 'invalid_token');
    assert.match(again.body.error.message, /already used/);
    assert.is((await h.get(`/api/events?ticket=${'A'.repeat(43)}`)).status, 401);
    assert.is((await h.get('/api/events?ticket=short')).status, 401);
  });

  test('an expired ticket is refused', async ({ h }) => {
    const token = await h.token('org-t');
    const r = await h.post('/api/events/ticket', token);
    h.clock.advance(61_000);
    const late = await h.get(`/api/events?ticket=${r.body.ticket}`);
    assert.is(late.status, 401);
    assert.match(late.body.error.message, /expired/);
  });

  test.run();
}

const postgres = (await backends()).find((b) => b.name === 'postgres');
const shared = suite('SSE tickets across two instances on one PostgreSQL; the deprecated access_token');
if (postgres) {
  shared('a ticket redeemed on both instances at once opens exactly one stream; access_token logs a warning', async () => {
    const t = await postgres.open();
    const lines: string[] = [];
    const capture = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const services: Service[] = [];
    const extra = await connectDatabase({ databaseUrl: t.url!, poolSize: 5 });
    try {
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: `/tmp/callrec-ticket-${process.pid}`, AUTH_JWT_SECRET: JWT_SECRET, LOG_LEVEL: 'silent' });
      services.push(await startService(config, { logger: capture, database: t.database, background: false }));
      services.push(await startService(config, { logger: capture, database: extra, background: false }));
      const [a, b] = services as [Service, Service];
      const token = await signToken({ secret: JWT_SECRET, orgId: 'org-x', userId: 'xavier' });
      for (let round = 0; round < 10; round++) {
        const res = await fetch(`${a.url}/api/events/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        const { ticket } = (await res.json()) as { ticket: string };
        const opened = await Promise.all([a, b].map((s) => openSse(`${s.url}/api/events?ticket=${ticket}`)));
        try {
          assert.equal(opened.map((o) => o.status).sort(), [200, 401], `round ${round}`);
        } finally {
          for (const o of opened) o.close();
        }
      }
      const legacy = await openSse(`${b.url}/api/events?access_token=${encodeURIComponent(token)}`);
      legacy.close();
      assert.is(legacy.status, 200);
      assert.ok(lines.some((l) => /access_token= is deprecated/.test(l)), 'a warning names the deprecated parameter');
      assert.not.ok(lines.some((l) => l.includes(token)), 'the token itself is never logged');
    } finally {
      for (const s of services) await s.stop();
      await extra.close();
      await t.close();
    }
  });
}
shared.run();
