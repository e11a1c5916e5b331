import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../support/databases.ts';
import { openSse, sseData, startApi, type ApiHarness } from './support.ts';

/**
 * What users see of personal data through real HTTP on both databases: the caller's number per role, the
 * assistant, erasure / hold / expiry facts and texts, SSE messages for them, and every route scoped by org.
 */

const NUMBER = '+15551234567';
const MASKED = '+1 ••• ••• 4567';

async function send(h: ApiHarness, method: 'DELETE' | 'POST', p: string, token: string, body: unknown) {
  const res = await fetch(h.service.url + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`calls API, privacy view [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('customerNumber: masked for members, full for auditors and admins, in the list, the call and the fallback; assistantId', async ({ h }) => {
    const org = 'org-mask';
    const id = await h.endCall(org, { customerNumber: NUMBER, assistantId: 'asst-mask-1', transcript: 'AI: Hi.', summary: 'Short call.' });
    await h.settle();
    for (const [role, expected] of [['member', MASKED], ['auditor', NUMBER], ['admin', NUMBER], ['platform-admin', NUMBER]] as const) {
      const t = await h.token(org, `u-${role}`, role);
      const list = await h.get('/api/calls', t);
      assert.is(list.status, 200);
      const item = list.body.data.find((c: { id: string }) => c.id === id);
      assert.is(item.customerNumber, expected, `${role}: list`);
      assert.is(item.customer_number, expected, `${role}: list, snake_case`);
      assert.is(item.assistantId, 'asst-mask-1');
      assert.is(item.erased, null);
      assert.is(item.held, null);
      assert.is(item.recordingExpiredAt, null);
      assert.is(item.transcriptExpiredAt, null);
      const one = await h.get(`/api/calls/${id}`, t);
      assert.is(one.body.call.customerNumber, expected, `${role}: detail`);
      assert.is(one.body.call.assistantId, 'asst-mask-1');
      assert.is(one.body.call.transcript, 'AI: Hi.');
      const asOf = await h.get(`/api/calls/${id}?asOf=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, t);
      assert.is(asOf.body.call.customerNumber, expected, `${role}: asOf`);
      if (role === 'member') {
        const fallback = await h.get(`/api/calls/${id}/recording`, t);
        assert.is(fallback.status, 200);
        for (const r of [list, one, asOf, fallback]) assert.not.ok(JSON.stringify(r.body).includes('5551234567'), 'a member never gets the full number');
      }
    }
  });

  test('an erased call (DELETE /api/calls/:id): erased {at, by, reason}, [erased] texts and number for every role, recording erased', async ({ h }) => {
    const org = 'org-erase';
    const id = await h.endCall(org, { customerNumber: NUMBER, transcript: 'User: my name is Jane Roe', summary: 'Jane Roe booked a crown.' });
    await h.uploadRecording(id, org);
    await h.settle();
    const admin = await h.token(org, 'erin', 'admin');
    const erased = await send(h, 'DELETE', `/api/calls/${id}`, admin, { reason: 'caller asked (ticket 42)' });
    assert.ok(erased.status === 200 || erased.status === 202, `DELETE answered ${erased.status} ${JSON.stringify(erased.body)}`);
    await h.settle();
    for (const role of ['member', 'auditor', 'admin'] as const) {
      const t = await h.token(org, `u-${role}`, role);
      const { body } = await h.get(`/api/calls/${id}`, t);
      assert.is(body.call.transcript, '[erased]', role);
      assert.is(body.call.summary, '[erased]');
      assert.is(body.call.customerNumber, '[erased]');
      assert.is(body.call.customer_number, '[erased]');
      assert.is(body.call.erased.by, 'user:erin');
      assert.is(body.call.erased.reason, 'caller asked (ticket 42)');
      assert.ok(Number.isFinite(Date.parse(body.call.erased.at)));
      assert.is(body.call.recording_status, 'erased');
      assert.is(body.recording.status, 'erased');
      assert.is(body.recording.available, false);
      const item = (await h.get('/api/calls', t)).body.data.find((c: { id: string }) => c.id === id);
      assert.is(item.summary, '[erased]');
      assert.is(item.customerNumber, '[erased]');
      assert.equal(item.erased, body.call.erased);
      const text = JSON.stringify(body) + JSON.stringify(item);
      assert.not.ok(text.includes('Jane Roe') || text.includes('5551234567'), 'nothing personal is left in the answer');
    }
    const rec = await h.get(`/api/calls/${id}/recording`, admin);
    assert.is(rec.status, 200);
    assert.equal({ transcriptOnly: rec.body.transcriptOnly, transcript: rec.body.transcript, summary: rec.body.summary, reason: rec.body.reason }, { transcriptOnly: true, transcript: '[erased]', summary: '[erased]', reason: 'erased' });
    const filtered = await h.get('/api/calls?recording_status=erased', admin);
    assert.equal(filtered.body.data.map((c: { id: string }) => c.id), [id]);
  });

  test('a held call: held {at, by, reason}; released → null; members see the hold but cannot set it', async ({ h }) => {
    const org = 'org-hold';
    const id = await h.endCall(org);
    await h.settle();
    const admin = await h.token(org, 'al', 'admin');
    const member = await h.token(org, 'mo', 'member');
    const auditor = await h.token(org, 'au', 'auditor');
    for (const t of [member, auditor]) assert.is((await send(h, 'POST', `/api/calls/${id}/hold`, t, { reason: 'x' })).status, 403);
    assert.is((await send(h, 'POST', `/api/calls/${id}/hold`, admin, { reason: 'dispute #7' })).status, 200);
    await h.settle();
    const held = await h.get(`/api/calls/${id}`, auditor);
    assert.is(held.body.call.held.by, 'user:al');
    assert.is(held.body.call.held.reason, 'dispute #7');
    assert.ok(Number.isFinite(Date.parse(held.body.call.held.at)));
    assert.equal((await h.get(`/api/calls/${id}`, member)).body.call.held, held.body.call.held);
    assert.is((await send(h, 'DELETE', `/api/calls/${id}/hold`, admin, { reason: 'settled' })).status, 200);
    await h.settle();
    assert.is((await h.get(`/api/calls/${id}`, auditor)).body.call.held, null);
  });

  test('expiry: recordingExpiredAt and recording status expired; an expired transcript reads [expired]', async ({ h }) => {
    const org = 'org-exp';
    const id = await h.endCall(org, { customerNumber: NUMBER, transcript: 'User: old call', summary: 'An old call.' });
    const { storagePath } = await h.uploadRecording(id, org);
    await h.append(id, org, [
      { type: 'RecordingExpired', data: { callId: id, orgId: org, storagePath, policyDays: 30 }, actor: 'system:retention' },
      { type: 'TranscriptExpired', data: { callId: id, orgId: org, policyDays: 90 }, actor: 'system:retention' },
    ]);
    await h.settle();
    const { body } = await h.get(`/api/calls/${id}`, await h.token(org, 'mo', 'member'));
    assert.is(body.call.recording_status, 'expired');
    assert.is(body.recording.status, 'expired');
    assert.is(body.recording.available, false);
    assert.type(body.call.recordingExpiredAt, 'string');
    assert.type(body.call.transcriptExpiredAt, 'string');
    assert.is(body.call.transcript, '[expired]');
    assert.is(body.call.summary, '[expired]');
    assert.is(body.call.customerNumber, MASKED);
    assert.is(body.call.erased, null);
    const rec = await h.get(`/api/calls/${id}/recording`, await h.token(org, 'mo', 'member'));
    assert.is(rec.body.reason, 'expired');
  });

  test("another org's call: not listed, 404 on read, erase and hold, and nothing changes", async ({ h }) => {
    const id = await h.endCall('org-own', { customerNumber: NUMBER, summary: 'Mine.' });
    await h.settle();
    const stranger = await h.token('org-other', 'eve', 'admin');
    assert.not.ok((await h.get('/api/calls?limit=200', stranger)).body.data.some((c: { id: string }) => c.id === id));
    assert.is((await h.get(`/api/calls/${id}`, stranger)).status, 404);
    for (const [method, p] of [['DELETE', `/api/calls/${id}`], ['POST', `/api/calls/${id}/hold`], ['DELETE', `/api/calls/${id}/hold`]] as const) {
      const r = await send(h, method, p, stranger, { reason: 'not mine' });
      assert.is(r.status, 404, `${method} ${p}`);
      assert.is(r.body.error.code, 'not_found');
    }
    await h.settle();
    const own = await h.get(`/api/calls/${id}`, await h.token('org-own', 'o', 'auditor'));
    assert.is(own.body.call.erased, null);
    assert.is(own.body.call.held, null);
    assert.is(own.body.call.summary, 'Mine.');
    assert.is(own.body.call.customerNumber, NUMBER);
  });

  test('SSE: erasure, hold, release and expiries reach the call\'s org live (and no other org)', async ({ h }) => {
    const org = 'org-sse';
    const id = await h.endCall(org);
    const { storagePath } = await h.uploadRecording(id, org);
    await h.settle();
    const mine = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token(org, 'mo', 'member')}` });
    const other = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token('org-sse-other', 'x', 'admin')}` });
    try {
      const admin = await h.token(org, 'al', 'admin');
      assert.is((await send(h, 'POST', `/api/calls/${id}/hold`, admin, { reason: 'dispute' })).status, 200);
      assert.is((await send(h, 'DELETE', `/api/calls/${id}/hold`, admin, { reason: 'settled' })).status, 200);
      await h.append(id, org, [
        { type: 'RecordingExpired', data: { callId: id, orgId: org, storagePath, policyDays: 30 }, actor: 'system:retention' },
        { type: 'TranscriptExpired', data: { callId: id, orgId: org, policyDays: 90 }, actor: 'system:retention' },
      ]);
      const erased = await send(h, 'DELETE', `/api/calls/${id}`, admin, { reason: 'caller asked' });
      assert.ok(erased.status === 200 || erased.status === 202);
      const names = ['call_held', 'call_released', 'recording_expired', 'transcript_expired', 'call_erased'];
      await mine.waitFor((e) => names.includes(e.event ?? '') && sseData(e).callId === id, names.length);
      const got = mine.events.filter((e) => names.includes(e.event ?? ''));
      assert.equal(got.map((e) => e.event), names, 'in log order');
      const stream = await h.service.store.readStream(`call-${id}`);
      for (const e of got) {
        const d = sseData(e);
        assert.equal(Object.keys(d).sort(), ['at', 'callId'], 'the call and the time only: no reason, no actor');
        assert.ok(stream.some((x) => x.position === Number(e.id)), 'the SSE id is the log position');
      }
      // a dashboard that reconnects after the first of them is caught up from the log
      const resumed = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${await h.token(org, 'mo', 'member')}`, 'last-event-id': got[0]!.id! });
      try {
        await resumed.waitFor((e) => e.event === 'call_erased' && sseData(e).callId === id);
        assert.equal(resumed.events.filter((e) => names.includes(e.event ?? '')).map((e) => e.event), names.slice(1));
      } finally {
        resumed.close();
      }
      assert.not.ok(other.events.some((e) => sseData(e).callId === id), 'another org hears nothing of it');
    } finally {
      mine.close();
      other.close();
    }
  });

  test.run();
}
