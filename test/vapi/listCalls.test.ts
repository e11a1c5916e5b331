import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { callToReport } from '../../src/vapi/calls.ts';
import { getCall, listCalls, listCallsPage } from '../../src/vapi/listCalls.ts';
import { createVapiClient } from '../../src/vapi/restClient.ts';
import { withFakeVapiApi } from '../fakes/vapiApi.ts';
import { makeFakeCall, type FakeCall } from '../fakes/vapiCalls.ts';

/** GET /call and GET /call/:id through the REST client's retrying HTTP part, against the local fake. */
const test = suite('Vapi call listing');
const KEY = 'vapi-key-list-calls';
const fast = { baseDelayMs: 1, maxDelayMs: 2, maxRetries: 3 };

async function all(client: ReturnType<typeof createVapiClient>, filters = {}, pageSize?: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of listCalls(client, filters, pageSize)) {
    if (!page.ok) throw new Error(page.error.message);
    ids.push(...page.calls.map((c) => c.id));
  }
  return ids;
}

test('pages by createdAtLt without skipping calls that share the boundary millisecond, each call once', async () => {
  const t = Date.parse('2026-03-01T10:00:00.000Z');
  // 25 calls, 6 of them in one millisecond that falls on a page boundary for pages of 10
  const calls: FakeCall[] = Array.from({ length: 25 }, (_, i) => makeFakeCall({ createdAt: new Date(i >= 10 && i < 16 ? t + 10_000 : t + i * 1000) }));
  await withFakeVapiApi({ apiKey: KEY, calls }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, ...fast });
    const ids = await all(client, {}, 10);
    assert.is(ids.length, 25);
    assert.is(new Set(ids).size, 25);
    const lists = fake.requests.filter((r) => r.path === '/call');
    assert.ok(lists.every((r) => r.query.limit === '10'));
    assert.ok(lists.some((r) => r.query.createdAtGe && r.query.createdAtLt), 'a tie lookup was made');
  });
});

test('filters by updatedAt (the reconcile window) and by createdAt; limit over 1000 is a 400', async () => {
  const t = Date.now() - 3600_000;
  const calls = Array.from({ length: 12 }, (_, i) => makeFakeCall({ createdAt: new Date(t + i * 60_000) }));
  await withFakeVapiApi({ apiKey: KEY, calls }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, ...fast });
    const mid = calls[6]!.updatedAt;
    assert.equal((await all(client, { updatedAtGe: mid })).sort(), calls.slice(6).map((c) => c.id).sort());
    assert.equal((await all(client, { createdAtLt: calls[3]!.createdAt })).sort(), calls.slice(0, 3).map((c) => c.id).sort());
    const res = await fetch(`${fake.url}/call?limit=1001`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.is(res.status, 400);
    const bad = await listCallsPage(client, { updatedAtGe: 'yesterday' });
    assert.is(bad.ok, false);
    if (!bad.ok) assert.is(bad.error.code, 'bad_request');
  });
});

test('429 with Retry-After and 5xx are retried; a failure that outlasts the retries ends the listing with its error', async () => {
  const calls = Array.from({ length: 5 }, () => makeFakeCall());
  await withFakeVapiApi({ apiKey: KEY, calls }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, ...fast });
    fake.rateLimitNext(2, 0, { path: '/call' });
    fake.failNext(1, 502, { path: '/call' });
    assert.is((await all(client)).length, 5);
    fake.failNext(Infinity, 500, { path: '/call' });
    const pages = [];
    for await (const p of listCalls(client, {})) pages.push(p);
    assert.is(pages.length, 1);
    assert.is(pages[0]!.ok, false);
    if (!pages[0]!.ok) assert.is(pages[0]!.error.code, 'server_error');
    fake.clearFaults();
    const one = await getCall(client, calls[0]!.id);
    assert.ok(one.ok);
    const missing = await getCall(client, 'no-such-call');
    assert.is(missing.ok ? 'ok' : missing.error.code, 'not_found');
  });
});

test('a Call object becomes the same report a webhook gives (recording, transcript, summary, times, cost, customer)', () => {
  const call = makeFakeCall({ recordingUrl: 'https://storage.vapi.ai/a.wav', durationSeconds: 30 });
  const r = callToReport(call as never)!;
  assert.is(r.callId, call.id);
  assert.is(r.recordingUrl, 'https://storage.vapi.ai/a.wav');
  assert.is(r.summary, 'The caller booked a table.');
  assert.is(r.durationSeconds, 30);
  assert.is(r.customerNumber, '+14155550123');
  assert.is(r.callType, 'inboundPhoneCall');
  assert.is(r.messageAt, call.endedAt);
  // the oldest shape: top-level recordingUrl and no artifact
  const old = { ...call, artifact: undefined, recordingUrl: 'https://storage.vapi.ai/old.wav' };
  assert.is(callToReport(old as never)!.recordingUrl, 'https://storage.vapi.ai/old.wav');
  assert.is(callToReport({ ...call, id: 'bad id!' } as never), null);
});

test.run();
