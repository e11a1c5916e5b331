import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { silentLogger } from '../../src/log.ts';
import { startService, type Service } from '../../src/service.ts';
import { backends, type TestBackend } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { JWT_SECRET, openSse, sseData, startApi, type ApiHarness, type SseClient, type SseEvent } from './support.ts';

/** GET /api/events through real HTTP: live fan-out by org, event shapes, headers, resume from the log. */

const callEnded = (callId: string, orgId: string): NewEvent => ({
  eventId: randomUUID(),
  type: 'CallEnded',
  data: {
    callId, orgId, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: null, phoneNumberId: null, customerNumber: null,
    startedAt: null, endedAt: new Date().toISOString(), durationSeconds: 12, endedReason: 'customer-ended-call', transcript: 'x', summary: null,
    cost: null, recordingUrl: null, stereoRecordingUrl: null, messageAt: null,
  },
  metadata: { correlationId: randomUUID(), causationId: null, orgId, recordedAt: new Date().toISOString(), actor: 'vapi' },
});

/** A pipeline event for a call no projection knows: the fan-out sends it, nothing else reacts to it. */
const transcriptOnly = (callId: string, orgId: string): NewEvent => ({
  eventId: randomUUID(),
  type: 'TranscriptOnlyFallback',
  data: { callId, reason: 'no_recording_url' },
  metadata: { correlationId: randomUUID(), causationId: null, orgId, recordedAt: new Date().toISOString(), actor: 'system:test' },
});

const ids = (events: SseEvent[]) => events.map((e) => Number(e.id));
const ofCall = (callId: string) => (e: SseEvent) => sseData(e).callId === callId;
/**
 * Appends a sentinel for `orgId` and waits until `client` has it: the fan-out sends in log order, so whatever
 * was appended before the sentinel and was going to reach this client has reached it by then.
 */
async function sentinel(store: EventStore, client: SseClient, orgId: string): Promise<void> {
  const id = `sentinel-${randomUUID()}`;
  await store.append(`call-${id}`, [transcriptOnly(id, orgId)], 'any');
  await client.waitFor(ofCall(id));
}

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`SSE live [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend, { SSE_HEARTBEAT_SECONDS: '1' });
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('headers, retry, heartbeat', async ({ h }) => {
    const c = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token('org-hb')}` });
    try {
      assert.is(c.status, 200);
      assert.match(String(c.headers['content-type']), /^text\/event-stream/);
      assert.is(c.headers['cache-control'], 'no-cache, no-transform');
      assert.is(c.headers['x-accel-buffering'], 'no');
      await eventually(() => `a heartbeat comment: ${JSON.stringify(c.raw)}`, () => c.raw.split('\n').includes(':'), { timeoutMs: 1300 });
      assert.match(c.raw, /retry: 3000\n/);
      assert.ok(c.raw.split('\n').filter((l) => l === ':').length >= 1, `a heartbeat comment within 1.3 s: ${JSON.stringify(c.raw)}`);
    } finally {
      c.close();
    }
    const noToken = await openSse(`${h.service.url}/api/events`);
    try {
      assert.is(noToken.status, 401);
    } finally {
      noToken.close();
    }
  });

  test('each org hears only its own calls; ids are log positions; recording_ready carries no URL', async ({ h }) => {
    const a = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token('org-a')}` });
    const b = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token('org-b')}` });
    try {
      const callA = await h.endCall('org-a', { endedReason: 'customer-ended-call' });
      const [ended] = await a.waitFor((e) => e.event === 'call_ended' && ofCall(callA)(e));
      const d = sseData(ended!);
      assert.is(d.endedReason, 'customer-ended-call');
      const stream = await h.service.store.readStream(`call-${callA}`);
      assert.is(Number(ended!.id), stream[0]!.position, 'SSE id = global log position');

      const { positions } = await h.uploadRecording(callA, 'org-a', { bytes: 5555, durationSeconds: 9.5 });
      const [ready] = await a.waitFor((e) => e.event === 'recording_ready' && ofCall(callA)(e));
      const r = sseData(ready!);
      assert.is(r.bytes, 5555);
      assert.is(r.durationSeconds, 9.5);
      assert.type(r.expiresAt, 'string');
      assert.is(Number(ready!.id), positions[1], 'sent for the UrlSigned that follows RecordingUploaded');
      assert.not.ok(ready!.data.includes('http'), 'no URL in the event');

      const callB = await h.endCall('org-b');
      await b.waitFor(ofCall(callB));
      await sentinel(h.service.store, a, 'org-a');
      assert.not.ok(a.events.some(ofCall(callB)), 'org a never hears of org b');
      assert.not.ok(b.events.some(ofCall(callA)), 'org b never hears of org a');
      // A user's refresh signs a URL too, but it is no news for the org.
      const before = a.events.length;
      assert.is((await h.post(`/api/calls/${callA}/recording/refresh`, await h.token('org-a'))).status, 200);
      await sentinel(h.service.store, a, 'org-a');
      assert.is(a.events.filter((e) => e.event === 'recording_ready').length, 1);
      assert.ok(a.events.length - before <= 0 || a.events.slice(before).every((e) => !ofCall(callA)(e) || e.event !== 'recording_ready'));
    } finally {
      a.close();
      b.close();
    }
  });

  test('failure, abandonment and transcript-only events; a callId filter', async ({ h }) => {
    const org = 'org-e';
    const all = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token(org)}` });
    const c1 = await h.endCall(org);
    const c2 = await h.endCall(org);
    await h.settle(); // a callId filter needs the call in call_logs
    const one = await openSse(`${h.service.url}/api/events?callId=${c1}`, { authorization: `Bearer ${await h.token(org)}` });
    try {
      assert.is(one.status, 200);
      await h.append(c1, org, [{ type: 'UploadFailed', data: { callId: c1, attempt: 1, step: 'fetch', code: 'fetch_timeout', message: 'secret detail', retryable: true, status: null } }]);
      await h.append(c1, org, [{ type: 'UploadAbandoned', data: { callId: c1, attempts: 4, code: 'fetch_timeout', reason: 'gave up after 4 attempts' } }]);
      await h.append(c2, org, [{ type: 'TranscriptOnlyFallback', data: { callId: c2, reason: 'no_recording_url' } }]);
      const [failed] = await all.waitFor((e) => e.event === 'recording_failed' && ofCall(c1)(e));
      assert.equal({ ...sseData(failed!), at: undefined }, { callId: c1, attempt: 1, step: 'fetch', code: 'fetch_timeout', retryable: true, at: undefined });
      const [abandoned] = await all.waitFor((e) => e.event === 'recording_abandoned');
      assert.is(sseData(abandoned!).reason, 'gave up after 4 attempts');
      const [only] = await all.waitFor((e) => e.event === 'transcript_only' && ofCall(c2)(e));
      assert.is(sseData(only!).reason, 'no_recording_url');
      await one.waitFor((e) => e.event === 'recording_abandoned');
      await h.append(c1, org, [{ type: 'TranscriptOnlyFallback', data: { callId: c1, reason: 'sentinel' } }]);
      await one.waitFor((e) => e.event === 'transcript_only' && ofCall(c1)(e));
      assert.ok(one.events.every(ofCall(c1)), 'the filtered stream has only its call');
    } finally {
      all.close();
      one.close();
    }
  });

  test('Last-Event-ID: catch-up from the log joins the live stream without gaps or duplicates', async ({ h }) => {
    const org = 'org-gap';
    const token = await h.token(org);
    const store = h.service.store;
    // A backlog of several catch-up pages, then a client that resumes from its start while a writer keeps appending.
    const resumeFrom = await store.headPosition();
    const bulk = Array.from({ length: 4000 }, (_, i) => transcriptOnly(`gap-bulk-${i}`, i % 2 ? org : 'org-gap-other'));
    assert.ok((await store.append('call-gap-bulk', bulk, 'any')).ok);
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const id = `gap-live-${written++}`;
        await store.append(`call-${id}`, [transcriptOnly(id, org)], 'any');
        await store.append(`call-x-${id}`, [transcriptOnly(`x-${id}`, 'org-gap-other')], 'any');
      }
    })();
    await eventually('the writer to have appended', () => written >= 2);
    const c = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${token}`, 'last-event-id': String(resumeFrom) });
    const writtenAtConnect = written;
    try {
      // Keep writing until live events written after the connection have come through.
      await c.waitFor((e) => String(sseData(e).callId).startsWith('gap-live-') && Number(String(sseData(e).callId).slice(9)) >= writtenAtConnect + 3, 1, 20_000);
      writing = false;
      await writer;
      const expected: number[] = [];
      let after = resumeFrom;
      for (;;) {
        const page = await store.readAll({ after, limit: 1000 });
        for (const e of page) if (e.type === 'TranscriptOnlyFallback' && e.metadata.orgId === org) expected.push(e.position);
        if (page.length < 1000) break;
        after = page[page.length - 1]!.position;
      }
      await c.waitFor((e) => Number(e.id) === expected[expected.length - 1], 1, 5000);
      const end = `gap-end-${randomUUID()}`;
      await store.append(`call-${end}`, [callEnded(end, org)], 'any');
      await c.waitFor(ofCall(end));
      const got = ids(c.events.filter((e) => e.event === 'transcript_only'));
      assert.equal(got, expected, 'every missed and live event exactly once, in log order');
    } finally {
      writing = false;
      c.close();
    }
  });

  test('a bad Last-Event-ID is refused; one from the future starts at the present', async ({ h }) => {
    const token = await h.token('org-f');
    const bad = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${token}`, 'last-event-id': 'abc' });
    try {
      assert.is(bad.status, 400);
    } finally {
      bad.close();
    }
    const future = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${token}`, 'last-event-id': '999999999' });
    try {
      assert.is(future.status, 200);
      const id = await h.endCall('org-f');
      await future.waitFor(ofCall(id));
    } finally {
      future.close();
    }
  });

  test('delivery is fast: commit to receipt', async ({ h }) => {
    const org = 'org-fast';
    const c = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token(org)}` });
    try {
      const lat: number[] = [];
      for (let i = 0; i < 20; i++) {
        const id = `fast-${i}-${randomUUID()}`;
        await h.service.store.append(`call-${id}`, [callEnded(id, org)], 'any');
        const committed = performance.now();
        await c.waitFor(ofCall(id), 1, 2000);
        lat.push(performance.now() - committed);
      }
      lat.sort((x, y) => x - y);
      // bench/sse.ts measures the real figures; this only catches a fan-out that waits for a poll.
      assert.ok(lat[Math.floor(lat.length / 2)]! < 300, `median ${lat[Math.floor(lat.length / 2)]} ms`);
    } finally {
      c.close();
    }
  });

  test.run();

  const restart = suite(`SSE resume across a restart [${backend.name}]`);
  restart('a client reconnecting with Last-Event-ID after a restart gets every missed event exactly once', async () => {
    await resumeAcrossRestart(backend);
  });
  restart.run();
}

async function resumeAcrossRestart(backend: TestBackend) {
  const t = await backend.open();
  const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: `/tmp/callrec-test-${process.pid}`, LOG_LEVEL: 'silent', AUTH_JWT_SECRET: JWT_SECRET };
  const start = () => startService(loadConfig(env), { logger: silentLogger, database: t.database, leaseMs: 2000 });
  const org = 'org-restart';
  const token = await signToken({ secret: JWT_SECRET, orgId: org, userId: 'u' });
  let service: Service | undefined;
  let side: EventStore | undefined;
  const clients: SseClient[] = [];
  try {
    service = await start();
    const first = await openSse(`${service.url}/api/events`, { authorization: `Bearer ${token}` });
    clients.push(first);
    await service.store.append('call-r1', [callEnded('r1', org)], 'any');
    const [e1] = await first.waitFor(ofCall('r1'));
    const lastSeen = e1!.id!;
    first.close();
    await service.stop();
    service = undefined;

    // While no server runs, the log moves on (another instance, or the pipeline of one).
    side = createPostgresEventStore(t.database);
    const missed: RecordedEvent[] = [];
    for (const id of ['r2', 'r3', 'r4']) {
      await side.append(`call-${id}`, [callEnded(id, org)], 'any');
      await side.append(`call-o-${id}`, [callEnded(`o-${id}`, 'org-elsewhere')], 'any');
    }
    // Only the reports: the first server's pipeline may also have recorded r1's transcript-only fallback.
    for (const e of await side.readAll({ after: Number(lastSeen), limit: 100 })) if (e.metadata.orgId === org && e.type === 'CallEnded') missed.push(e);
    await side.close();
    side = undefined;

    service = await start();
    const again = await openSse(`${service.url}/api/events`, { authorization: `Bearer ${token}`, 'last-event-id': lastSeen });
    clients.push(again);
    await again.waitFor(ofCall('r4'));
    await service.store.append('call-r5', [callEnded('r5', org)], 'any');
    await again.waitFor(ofCall('r5'));
    await sentinel(service.store, again, org);
    const got = again.events.filter((e) => e.event === 'call_ended');
    assert.equal(got.map((e) => sseData(e).callId), ['r2', 'r3', 'r4', 'r5'], 'missed ones once, in order, then live');
    assert.equal(ids(got).slice(0, 3), missed.map((e) => e.position));
    assert.ok(ids(got).every((id, i, all) => i === 0 || id > all[i - 1]!));
  } finally {
    for (const c of clients) c.close();
    await side?.close().catch(() => {});
    await service?.stop().catch(() => {});
    await t.close();
  }
}
