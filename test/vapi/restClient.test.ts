import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createVapiClient, parseRetryAfter, VapiApiError, type Assistant } from '../../src/vapi/restClient.ts';
import { makeFakeAssistants, startFakeVapiApi, withFakeVapiApi, type FakeVapiApi } from '../fakes/vapiApi.ts';

const KEY = 'vapi-private-key-for-tests';

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

async function collect(it: AsyncIterable<Assistant>): Promise<Assistant[]> {
  const out: Assistant[] = [];
  for await (const a of it) out.push(a);
  return out;
}

test('lists 2,500 assistants over several pages of 1000, newest first, each once', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 2500 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY });
    const all = await collect(client.listAssistants());
    assert.is(all.length, 2500);
    assert.is(new Set(all.map((a) => a.id)).size, 2500);
    for (let i = 1; i < all.length; i++) {
      assert.ok(Date.parse(all[i - 1]!.createdAt) > Date.parse(all[i]!.createdAt), `order at ${i}`);
    }
    const pages = fake.requests.filter((r) => r.path === '/assistant' && !('createdAtGe' in r.query));
    assert.is(pages.length, 3);
    assert.equal(pages.map((p) => p.query.limit), ['1000', '1000', '1000']);
    assert.is(pages[0]!.query.createdAtLt, undefined);
    assert.is(pages[1]!.query.createdAtLt, all[999]!.createdAt);
    assert.is(pages[2]!.query.createdAtLt, all[1999]!.createdAt);
    // unknown fields pass through validation untouched
    assert.equal(all[0]!.model, { provider: 'openai', model: 'gpt-4o', temperature: 0.3 });
  });
});

test('a page exactly at the limit is followed by an empty page, not an endless loop', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 20 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, pageSize: 10 });
    const all = await collect(client.listAssistants());
    assert.is(all.length, 20);
    const pages = fake.requests.filter((r) => r.path === '/assistant' && !('createdAtGe' in r.query));
    assert.is(pages.length, 3);
  });
});

test('assistants sharing the boundary createdAt are not skipped', async () => {
  const list = makeFakeAssistants(25);
  // indexes 10..16 share one millisecond; with pages of 10 (newest first) the boundary falls inside the tie
  const tie = list[13]!.createdAt;
  for (let i = 10; i <= 16; i++) list[i]!.createdAt = tie;
  await withFakeVapiApi({ apiKey: KEY, assistants: list }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, pageSize: 10 });
    const all = await collect(client.listAssistants());
    assert.is(all.length, 25);
    assert.is(new Set(all.map((a) => a.id)).size, 25);
  });
});

test('a server that ignores createdAtLt makes listing stop with pagination_stalled instead of looping', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 30 }, async (fake) => {
    const ignoringCursor: typeof fetch = (input, init) => {
      const u = new URL(String(input));
      u.searchParams.delete('createdAtLt');
      return fetch(u, init);
    };
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, pageSize: 10, fetch: ignoringCursor });
    let seen = 0;
    try {
      for await (const _ of client.listAssistants()) seen++;
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, VapiApiError);
      assert.is((err as VapiApiError).code, 'pagination_stalled');
    }
    assert.is(seen, 10);
    assert.ok(fake.requests.length < 10, `stopped after ${fake.requests.length} requests`);
  });
});

test('page size above 1000 is clamped to 1000 (Vapi rejects more)', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 3 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, pageSize: 5000 });
    const page = await client.listAssistantsPage({ limit: 5000 });
    assert.ok(page.ok);
    assert.is(fake.requests[0]!.query.limit, '1000');
    assert.is((await collect(client.listAssistants())).length, 3);
  });
});

test('429 with Retry-After in seconds is waited out through the injected sleep, then succeeds', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 4 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep });
    fake.rateLimitNext(2, 7);
    const res = await client.getAssistant(makeFakeAssistants(1)[0]!.id);
    assert.ok(res.ok);
    assert.equal(waits, [7000, 7000]);
    assert.equal(fake.requests.map((r) => r.status), [429, 429, 200]);
  });
});

test('429 with Retry-After as an HTTP date is honoured', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const now = Date.parse('2026-05-12T14:00:00.000Z');
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep, now: () => now });
    fake.rateLimitNext(1, new Date(now + 12_000).toUTCString());
    const res = await client.listAssistantsPage();
    assert.ok(res.ok);
    assert.equal(waits, [12_000]);
  });
});

test('429 without Retry-After backs off exponentially with jitter', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep, baseDelayMs: 100, maxDelayMs: 1000 });
    fake.rateLimitNext(5);
    const res = await client.listAssistantsPage();
    assert.ok(res.ok);
    assert.is(waits.length, 5);
    const steps = [100, 200, 400, 800, 1000];
    waits.forEach((w, i) => assert.ok(w >= steps[i]! / 2 && w <= steps[i]!, `wait ${i} = ${w} within [${steps[i]! / 2}, ${steps[i]}]`));
    assert.ok(new Set(waits.map((w, i) => w / steps[i]!)).size > 1, 'jitter varies the waits');
  });
});

test('429 beyond maxRetries ends as rate_limited after maxRetries + 1 attempts', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep, maxRetries: 3 });
    fake.rateLimitNext(Infinity, 1);
    const res = await client.listAssistantsPage();
    assert.not.ok(res.ok);
    if (res.ok) return;
    assert.is(res.error.code, 'rate_limited');
    assert.is(res.error.status, 429);
    assert.is(res.error.attempts, 4);
    assert.is(fake.requests.length, 4);
    assert.equal(waits, [1000, 1000, 1000]);
  });
});

test('a Retry-After longer than maxRetryAfterMs fails fast instead of sleeping', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep, maxRetryAfterMs: 60_000 });
    fake.rateLimitNext(1, 3600);
    const res = await client.listAssistantsPage();
    assert.not.ok(res.ok);
    if (!res.ok) assert.is(res.error.code, 'rate_limited');
    assert.equal(waits, []);
  });
});

test('5xx is retried; when it persists the result is server_error', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 2 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep, maxRetries: 2 });
    fake.failNext(2, 503);
    const ok = await client.listAssistantsPage();
    assert.ok(ok.ok);
    assert.is(waits.length, 2);

    fake.failNext(Infinity, 500);
    const bad = await client.listAssistantsPage();
    assert.not.ok(bad.ok);
    if (!bad.ok) {
      assert.is(bad.error.code, 'server_error');
      assert.is(bad.error.status, 500);
      assert.is(bad.error.retryable, true);
    }
  });
});

test('401 is surfaced at once: a result from getAssistant, a VapiApiError from listAssistants', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 3 }, async (fake) => {
    const { waits, sleep } = recordingSleep();
    const client = createVapiClient({ baseUrl: fake.url, apiKey: 'not-the-key', sleep });
    const res = await client.getAssistant(makeFakeAssistants(1)[0]!.id);
    assert.not.ok(res.ok);
    if (!res.ok) {
      assert.is(res.error.code, 'unauthorized');
      assert.is(res.error.status, 401);
      assert.is(res.error.retryable, false);
      assert.not.match(res.error.message, 'not-the-key');
    }
    try {
      await collect(client.listAssistants());
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, VapiApiError);
      assert.is((err as VapiApiError).status, 401);
      assert.is((err as VapiApiError).code, 'unauthorized');
    }
    assert.equal(waits, []);
    assert.is(fake.requests.length, 2);
  });
});

test('getAssistant of an unknown id is not_found; ids are URL-encoded', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY });
    const res = await client.getAssistant('no such/assistant');
    assert.not.ok(res.ok);
    if (!res.ok) assert.is(res.error.code, 'not_found');
    assert.is(fake.requests[0]!.path, '/assistant/no%20such%2Fassistant');
  });
});

test('updateAssistant PATCHes JSON with the Bearer key and returns the updated assistant', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 2 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url + '/', apiKey: KEY });
    const id = makeFakeAssistants(2)[1]!.id;
    const res = await client.updateAssistant(id, { artifactPlan: { recordingEnabled: true, recordingFormat: 'mp3' } });
    assert.ok(res.ok);
    if (res.ok) assert.equal(res.value.artifactPlan, { recordingEnabled: true, recordingFormat: 'mp3' });
    const patch = fake.requests.find((r) => r.method === 'PATCH')!;
    assert.is(patch.authorized, true);
    assert.equal(patch.body, { artifactPlan: { recordingEnabled: true, recordingFormat: 'mp3' } });
    assert.is(fake.patchCount, 1);

    const rejected = await client.updateAssistant(id, { id: 'other' });
    assert.not.ok(rejected.ok);
    if (!rejected.ok) {
      assert.is(rejected.error.code, 'bad_request');
      assert.match(rejected.error.message, 'property id should not exist');
    }
  });
});

test('a 2xx body that is not an assistant is invalid_response', async () => {
  const junk: typeof fetch = async () => new Response(JSON.stringify([{ name: 'no id' }]), { status: 200, headers: { 'content-type': 'application/json' } });
  const client = createVapiClient({ apiKey: KEY, fetch: junk });
  const res = await client.listAssistantsPage();
  assert.not.ok(res.ok);
  if (!res.ok) assert.is(res.error.code, 'invalid_response');
});

test('recordingUrl gives the authenticated mono/stereo URL; the API redirects with the key and refuses without it', async () => {
  const callId = 'b6f0c2a4-3c1e-4d0a-9a51-2f7e8c9d1a01';
  await withFakeVapiApi(
    {
      apiKey: KEY,
      recordings: { [callId]: { mono: 'https://storage.example/mono.wav?sig=1', stereo: 'https://storage.example/stereo.wav?sig=2' } },
    },
    async (fake) => {
      const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY });
      const mono = client.recordingUrl(callId, 'mono');
      assert.is(mono.url, `${fake.url}/call/${callId}/mono-recording`);
      assert.equal(mono.headers, { authorization: `Bearer ${KEY}` });
      assert.is(client.recordingUrl('a/b?c', 'stereo').url, `${fake.url}/call/a%2Fb%3Fc/stereo-recording`);

      const r1 = await fetch(mono.url, { headers: mono.headers, redirect: 'manual' });
      assert.is(r1.status, 302);
      assert.is(r1.headers.get('location'), 'https://storage.example/mono.wav?sig=1');
      const stereo = client.recordingUrl(callId, 'stereo');
      const r2 = await fetch(stereo.url, { headers: stereo.headers, redirect: 'manual' });
      assert.is(r2.headers.get('location'), 'https://storage.example/stereo.wav?sig=2');

      const r3 = await fetch(mono.url, { redirect: 'manual' });
      assert.is(r3.status, 401);
      await r3.arrayBuffer();
      const unknown = client.recordingUrl('00000000-0000-4000-8000-000000000000');
      const r4 = await fetch(unknown.url, { headers: unknown.headers, redirect: 'manual' });
      assert.is(r4.status, 404);
      await r4.arrayBuffer();
    },
  );
});

test('parseRetryAfter reads delta seconds and HTTP dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.is(parseRetryAfter('3', now), 3000);
  assert.is(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.is(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  assert.is(parseRetryAfter('soon', now), undefined);
  assert.is(parseRetryAfter(null, now), undefined);
});

test('createVapiClient refuses an empty API key', () => {
  assert.throws(() => createVapiClient({ apiKey: '' }));
});

test.run();
