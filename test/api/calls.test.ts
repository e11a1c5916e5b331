import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../support/databases.ts';
import { startApi, type ApiHarness } from './support.ts';

/** The calls API through real HTTP on both databases: listing, filters, search, paging, ids, asOf, isolation. */

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`calls API [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('every org sees only its own calls, on every route', async ({ h }) => {
    const a = await h.endCall('org-a', { transcript: 'AI: Harbor Dental. User: I need a root canal appointment.' });
    const b = await h.endCall('org-b', { transcript: 'AI: Harbor Dental. User: root canal please.' });
    await h.uploadRecording(a, 'org-a');
    await h.uploadRecording(b, 'org-b');
    await h.settle();
    const ta = await h.token('org-a', 'alice', 'admin');
    const tb = await h.token('org-b', 'bob', 'admin');

    const listA = await h.get('/api/calls?limit=200', ta);
    assert.is(listA.status, 200);
    const idsA = listA.body.data.map((c: { id: string }) => c.id);
    assert.ok(idsA.includes(a));
    assert.not.ok(idsA.includes(b));
    assert.ok(listA.body.data.every((c: { org_id: string }) => c.org_id === 'org-a'));
    const searchA = await h.get('/api/calls?q=root%20canal', ta);
    assert.equal(searchA.body.data.map((c: { id: string }) => c.id), [a]);

    // Another org's call is a plain 404 everywhere, exactly like a call that does not exist.
    for (const p of [`/api/calls/${b}`, `/api/calls/${b}?asOf=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, `/api/calls/${b}/recording`, `/api/calls/${b}/history`, `/api/events?callId=${b}`]) {
      const r = await h.get(p, ta);
      assert.is(r.status, 404, p);
      assert.is(r.body.error.code, 'not_found', p);
      const none = await h.get(p.replace(b, 'no-such-call'), ta);
      assert.is(none.status, 404);
    }
    const refresh = await h.post(`/api/calls/${b}/recording/refresh`, ta);
    assert.is(refresh.status, 404);
    const audit = await h.get(`/api/audit/downloads?call_id=${b}`, ta);
    assert.is(audit.status, 200);
    assert.equal(audit.body.data, []);

    // …while its own org gets it.
    const own = await h.get(`/api/calls/${b}`, tb);
    assert.is(own.status, 200);
    assert.is(own.body.call.id, b);
    assert.is(own.body.call.org_id, 'org-b');
  });

  test('GET /api/calls/:id returns the row (no URLs) and its recording state', async ({ h }) => {
    const id = await h.endCall('org-d', { transcript: 'AI: hello there', summary: 'greeting only' });
    await h.uploadRecording(id, 'org-d', { bytes: 2048, durationSeconds: 3.5 });
    await h.settle();
    const t = await h.token('org-d');
    const r = await h.get(`/api/calls/${id}`, t);
    assert.is(r.status, 200);
    assert.is(r.body.call.id, id);
    assert.is(r.body.call.transcript, 'AI: hello there');
    assert.is(r.body.call.summary, 'greeting only');
    assert.is(r.body.call.status, 'ended');
    assert.is(r.body.call.recording_status, 'uploaded');
    assert.is(r.body.call.recording_bytes, 2048);
    assert.is(r.body.recording.available, true);
    assert.is(r.body.recording.durationSeconds, 3.5);
    assert.type(r.body.recording.urlExpiresAt, 'string');
    assert.is(r.body.asOf, null);
    const text = JSON.stringify(r.body);
    assert.not.ok(text.includes('sig='), 'no signed URL in a call');
    assert.not.ok('recording_signed_url' in r.body.call);
    assert.not.ok('search' in r.body.call);
  });

  test('ids and query parameters are validated before SQL', async ({ h }) => {
    const t = await h.token('org-v');
    for (const bad of ["x'%20or%201=1--", '%20', 'a'.repeat(129), '..%2Fetc']) {
      const r = await h.get(`/api/calls/${bad}`, t);
      assert.ok(r.status === 400 || r.status === 404, `${bad}: ${r.status}`);
      if (r.status === 400) assert.is(r.body.error.code, 'invalid_id');
    }
    const quote = await h.get(`/api/calls/x'y`, t);
    assert.is(quote.status, 400);
    assert.is(quote.body.error.code, 'invalid_id');
    for (const q of ['limit=0', 'limit=abc', 'limit=1000', 'from=yesterday', 'has_recording=maybe', 'recording_status=bogus', 'cursor=zzz', 'limit=1&limit=2', `q=${'x'.repeat(501)}`]) {
      const r = await h.get(`/api/calls?${q}`, t);
      assert.is(r.status, 400, q);
      assert.is(r.body.error.code, 'invalid_query', q);
      assert.type(r.body.error.message, 'string');
    }
    const asOf = await h.get('/api/calls/abc?asOf=not-a-date', t);
    assert.is(asOf.status, 400);
  });

  test('filters: time range, status, recording_status, has_recording, ended_reason, call_type, assistant_id', async ({ h }) => {
    const org = 'org-f';
    const t = await h.token(org);
    const base = Date.parse('2026-03-01T10:00:00.000Z');
    const at = (h_: number) => new Date(base + h_ * 3600_000).toISOString();
    const c1 = await h.endCall(org, { endedAt: at(0), endedReason: 'customer-ended-call', callType: 'inboundPhoneCall', assistantId: 'asst-f1' });
    const c2 = await h.endCall(org, { endedAt: at(1), endedReason: 'customer-busy', callType: 'outboundPhoneCall', assistantId: 'asst-f2' });
    const c3 = await h.endCall(org, { endedAt: at(2), endedReason: 'silence-timed-out', callType: 'webCall', assistantId: 'asst-f1' });
    await h.uploadRecording(c2, org);
    await h.append(c3, org, [{ type: 'UploadAbandoned', data: { callId: c3, attempts: 4, code: 'fetch_failed', reason: 'gave up' } }]);
    await h.settle();
    const ids = async (q: string) => {
      const r = await h.get(`/api/calls?${q}`, t);
      assert.is(r.status, 200, q);
      return r.body.data.map((c: { id: string }) => c.id);
    };
    assert.equal(await ids(''), [c3, c2, c1], 'newest first');
    assert.equal(await ids(`from=${at(1)}`), [c3, c2]);
    assert.equal(await ids(`to=${at(1)}`), [c1]);
    assert.equal(await ids(`from=${at(0)}&to=${at(2)}`), [c2, c1]);
    assert.equal(await ids('status=ended'), [c3, c2, c1]);
    assert.equal(await ids('status=in-progress'), []);
    assert.equal(await ids('recording_status=uploaded'), [c2]);
    assert.equal(await ids('recording_status=abandoned,uploaded'), [c3, c2]);
    assert.equal(await ids('has_recording=true'), [c2]);
    assert.equal(await ids('has_recording=false'), [c3, c1]);
    assert.equal(await ids('ended_reason=customer-busy'), [c2]);
    assert.equal(await ids('call_type=webCall'), [c3]);
    assert.equal(await ids('assistant_id=asst-f1'), [c3, c1]);
    assert.equal(await ids('assistant_id=asst-f1&call_type=inboundPhoneCall'), [c1]);
    const one = await h.get('/api/calls?limit=1', t);
    assert.not.ok('transcript' in one.body.data[0], 'list items leave the transcript out');
  });

  test('cursor paging returns every call exactly once, newest first', async ({ h }) => {
    const org = 'org-p';
    const t = await h.token(org);
    const same = '2026-04-01T08:00:00.000Z';
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push(await h.endCall(org, { endedAt: i < 3 ? same : new Date(Date.parse(same) + i * 1000).toISOString() }));
    // A call known only from a status-update has no ended_at: it comes last.
    await h.service.post('/webhooks/vapi', { message: { type: 'status-update', status: 'in-progress', timestamp: Date.now(), call: { id: 'p-live-call', assistantId: 'asst-org-p' } } });
    await h.settle();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: any } = await h.get(`/api/calls?limit=3${cursor ? `&cursor=${cursor}` : ''}`, t);
      assert.is(r.status, 200);
      seen.push(...r.body.data.map((c: { id: string }) => c.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assert.is(pages, 3);
    assert.is(seen.length, 8);
    assert.is(new Set(seen).size, 8);
    assert.is(seen[seen.length - 1], 'p-live-call');
    const full = await h.get('/api/calls?limit=50', t);
    assert.equal(seen, full.body.data.map((c: { id: string }) => c.id));
  });

  test('q is full-text search over transcript and summary (websearch syntax)', async ({ h }) => {
    const org = 'org-s';
    const t = await h.token(org);
    const crown = await h.endCall(org, { transcript: 'User: my crown fell off yesterday', summary: 'Emergency crown repair booked.' });
    const clean = await h.endCall(org, { transcript: 'User: I want to book a cleaning', summary: 'Cleaning booked for Tuesday.' });
    const cancel = await h.endCall(org, { transcript: 'User: please cancel my cleaning', summary: 'Cancelled the Thursday appointment.' });
    const none = await h.endCall(org, { transcript: null, summary: null });
    await h.endCall('org-s2', { transcript: 'User: crown cleaning cancel everything' });
    await h.settle();
    const q = async (s: string) => {
      const r = await h.get(`/api/calls?q=${encodeURIComponent(s)}`, t);
      assert.is(r.status, 200, s);
      return new Set(r.body.data.map((c: { id: string }) => c.id));
    };
    assert.equal(await q('crown'), new Set([crown]));
    assert.equal(await q('CROWN'), new Set([crown]));
    assert.equal(await q('cleaning'), new Set([clean, cancel]));
    assert.equal(await q('Tuesday'), new Set([clean]), 'summary is searched');
    assert.equal(await q('cleaning -cancel'), new Set([clean]));
    assert.equal(await q('crown OR cancel'), new Set([crown, cancel]));
    assert.equal(await q('"book a cleaning"'), new Set([clean]));
    assert.equal(await q('"cleaning book"'), new Set());
    assert.equal(await q('root-canal & | !('), new Set(), 'operators in the text are not SQL or tsquery syntax errors');
    // Phrases, or and negation over the blind index (tokens, not words, in the database).
    assert.equal(await q('"my crown fell"'), new Set([crown]), 'phrase');
    assert.equal(await q('"crown my"'), new Set(), 'a phrase is in order');
    assert.equal(await q('cleaning -"please cancel"'), new Set([clean]), 'negated phrase');
    assert.equal(await q('"fell off" or "book a" or thursday'), new Set([crown, clean, cancel]), 'or between phrases and words');
    assert.equal(await q('booked tuesday or thursday'), new Set([clean, cancel]), 'as websearch_to_tsquery reads it: (booked & tuesday) | thursday');
    assert.equal(await q('-cleaning'), new Set([crown, none]), 'a lone negation');
    assert.equal(await q('!!!'), new Set(), 'no word, nothing found');
    assert.equal(await q('ＣＲＯＷＮ'), new Set([crown]), 'Unicode NFKC: full-width letters');
    assert.not.ok((await q('cleaning')).has(none));
    const combined = await h.get(`/api/calls?q=cleaning&recording_status=none`, t);
    assert.is(combined.status, 200);
  });

  test('asOf folds the call from its events up to that time', async ({ h }) => {
    const org = 'org-h';
    const t = await h.token(org);
    const id = await h.endCall(org, { transcript: 'AI: as of test' });
    await h.settle();
    await new Promise((r) => setTimeout(r, 30));
    const afterEnded = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 30));
    await h.uploadRecording(id, org, { bytes: 999 });
    await h.settle();
    const before = await h.get(`/api/calls/${id}?asOf=${encodeURIComponent('2000-01-01T00:00:00Z')}`, t);
    assert.is(before.status, 404, 'the call did not exist yet');
    const then = await h.get(`/api/calls/${id}?asOf=${encodeURIComponent(afterEnded)}`, t);
    assert.is(then.status, 200);
    assert.is(then.body.asOf, afterEnded);
    assert.is(then.body.call.status, 'ended');
    assert.is(then.body.call.recording_bytes, null);
    assert.is(then.body.recording.available, false);
    const now = await h.get(`/api/calls/${id}?asOf=${encodeURIComponent(new Date(Date.now() + 1000).toISOString())}`, t);
    assert.is(now.body.call.recording_bytes, 999);
    assert.is(now.body.recording.available, true);
    // Folding everything gives exactly the projected row.
    const live = await h.get(`/api/calls/${id}`, t);
    assert.equal(now.body.call, live.body.call);
  });

  test.run();
}
