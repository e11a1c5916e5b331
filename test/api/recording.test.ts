import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { verifyLocalSignature } from '../../src/storage/local.ts';
import { backends } from '../support/databases.ts';
import { SIGNING_SECRET, startApi, type ApiHarness } from './support.ts';

/** Recording URLs and their audit through real HTTP: handout, re-signing, refresh, fail-closed, audit trail. */

const eventsOf = async (h: ApiHarness, callId: string) => h.service.store.readStream(`call-${callId}`);

function checkUrl(url: string, storagePath: string, now: Date) {
  const u = new URL(url);
  assert.is(decodeURIComponent(u.pathname), `/recordings/${storagePath}`);
  return verifyLocalSignature({ signingSecret: SIGNING_SECRET, path: storagePath, expires: u.searchParams.get('expires'), sig: u.searchParams.get('sig'), now });
}

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`recording URLs [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('a download hands out the stored URL and is audited before the answer', async ({ h }) => {
    const id = await h.endCall('org-r');
    const { storagePath } = await h.uploadRecording(id, 'org-r', { bytes: 1234, durationSeconds: 7 });
    await h.settle();
    const t = await h.token('org-r', 'user-7');
    const r = await h.get(`/api/calls/${id}/recording`, t, { 'user-agent': 'dashboard-test/1.0' });
    assert.is(r.status, 200);
    assert.is(r.headers.get('cache-control'), 'no-store');
    assert.is(r.body.callId, id);
    assert.is(r.body.resigned, false);
    assert.is(r.body.bytes, 1234);
    assert.is(r.body.durationSeconds, 7);
    assert.is(r.body.contentType, 'audio/wav');
    assert.ok(r.body.expiresIn > 3500 && r.body.expiresIn <= 3600, String(r.body.expiresIn));
    assert.is(Date.parse(r.body.expiresAt) - h.clock.now().getTime() >= 3500_000, true);
    assert.ok(checkUrl(r.body.url, storagePath, h.clock.now()).ok, 'a genuine signed URL of the object');
    // The audit event was committed before the answer came back (no waiting needed).
    const events = await eventsOf(h, id);
    const accessed = events.filter((e) => e.type === 'RecordingAccessed');
    assert.is(accessed.length, 1);
    assert.equal(accessed[0]!.data, { callId: id, userId: 'user-7', action: 'download', ip: '127.0.0.1', userAgent: 'dashboard-test/1.0' });
    assert.is(accessed[0]!.metadata.actor, 'user:user-7');
    assert.is(accessed[0]!.metadata.orgId, 'org-r');
    assert.is(events.filter((e) => e.type === 'UrlSigned').length, 1, 'the stored URL was reused, nothing new signed');
  });

  test('a URL expiring within 5 minutes is re-signed (UrlSigned by the user), then reused', async ({ h }) => {
    const id = await h.endCall('org-r');
    const { storagePath } = await h.uploadRecording(id, 'org-r');
    await h.settle();
    h.clock.advance((3600 - 299) * 1000);
    const t = await h.token('org-r', 'user-8');
    const r = await h.get(`/api/calls/${id}/recording`, t);
    assert.is(r.status, 200);
    assert.is(r.body.resigned, true);
    assert.ok(r.body.expiresIn >= 3599, String(r.body.expiresIn));
    assert.ok(checkUrl(r.body.url, storagePath, h.clock.now()).ok);
    const events = await eventsOf(h, id);
    const signed = events.filter((e) => e.type === 'UrlSigned');
    assert.is(signed.length, 2);
    assert.is((signed[1]!.data as { by: string }).by, 'user:user-8');
    assert.is((signed[1]!.data as { url: string }).url, r.body.url);
    assert.ok(events.findIndex((e) => e.type === 'RecordingAccessed') > events.indexOf(signed[1]!));
    await h.settle();
    const again = await h.get(`/api/calls/${id}/recording`, t);
    assert.is(again.body.resigned, false);
    assert.is(again.body.url, r.body.url);
  });

  test('refresh signs a fresh URL now, as the user, audited as a refresh', async ({ h }) => {
    const id = await h.endCall('org-r');
    await h.uploadRecording(id, 'org-r');
    await h.settle();
    const t = await h.token('org-r', 'user-9');
    h.clock.advance(10_000);
    const r = await h.post(`/api/calls/${id}/recording/refresh`, t);
    assert.is(r.status, 200);
    assert.equal(Object.keys(r.body).sort(), ['callId', 'expiresAt', 'expiresIn', 'url']);
    assert.ok(r.body.expiresIn >= 3599 && r.body.expiresIn <= 3600, String(r.body.expiresIn));
    const events = await eventsOf(h, id);
    const last2 = events.slice(-2);
    assert.equal(last2.map((e) => e.type), ['UrlSigned', 'RecordingAccessed']);
    assert.is((last2[0]!.data as { by: string }).by, 'user:user-9');
    assert.is((last2[1]!.data as { action: string }).action, 'refresh');
    assert.is(last2[1]!.metadata.causationId, last2[0]!.eventId);
  });

  test('a call without audio gets the transcript; one still on its way gets 409', async ({ h }) => {
    const t = await h.token('org-r');
    const none = await h.endCall('org-r', { transcript: 'AI: nobody answered' });
    const abandoned = await h.endCall('org-r');
    const waiting = await h.endCall('org-r');
    await h.append(abandoned, 'org-r', [{ type: 'UploadAbandoned', data: { callId: abandoned, attempts: 4, code: 'fetch_timeout', reason: 'timed out 4 times' } }]);
    await h.append(waiting, 'org-r', [
      { type: 'UploadFailed', data: { callId: waiting, attempt: 1, step: 'fetch', code: 'fetch_timeout', message: 'slow', retryable: true, status: null } },
      { type: 'UploadRetryScheduled', data: { callId: waiting, attempt: 2, dueAt: new Date(h.clock.now().getTime() + 86_400_000).toISOString(), delayMinutes: 1440 } },
    ]);
    await h.settle();
    const r = await h.get(`/api/calls/${none}/recording`, t);
    assert.is(r.status, 200);
    assert.equal(r.body, { callId: none, transcriptOnly: true, transcript: 'AI: nobody answered', summary: 'A short test call.', reason: 'no_recording_url' });
    const a = await h.get(`/api/calls/${abandoned}/recording`, t);
    assert.is(a.body.transcriptOnly, true);
    assert.is(a.body.reason, 'fetch_timeout');
    const w = await h.get(`/api/calls/${waiting}/recording`, t);
    assert.is(w.status, 409);
    assert.is(w.body.error.code, 'recording_not_ready');
    const rf = await h.post(`/api/calls/${none}/recording/refresh`, t);
    assert.is(rf.status, 409);
    assert.not.ok((await eventsOf(h, none)).some((e) => e.type === 'RecordingAccessed'), 'no URL, nothing to audit');
  });

  test('an object gone from storage is 410, and nothing is audited', async ({ h }) => {
    const id = await h.endCall('org-r');
    const { storagePath } = await h.uploadRecording(id, 'org-r');
    await h.settle();
    await h.storage.remove([storagePath]);
    const t = await h.token('org-r');
    const r = await h.post(`/api/calls/${id}/recording/refresh`, t);
    assert.is(r.status, 410);
    assert.is(r.body.error.code, 'recording_missing');
    assert.not.ok((await eventsOf(h, id)).some((e) => e.type === 'RecordingAccessed'));
  });

  test('fail closed: when the audit event cannot be stored, no URL is handed out', async ({ h }) => {
    const id = await h.endCall('org-r');
    await h.uploadRecording(id, 'org-r');
    await h.settle();
    const t = await h.token('org-r', 'user-x');
    const db = h.service.database.db;
    await sql`create or replace function test_refuse_access() returns trigger language plpgsql as $$
      begin raise exception 'audit storage down'; end $$`.execute(db);
    await sql`create trigger test_refuse_access before insert on ${sql.table('events')} for each row when (new.type = 'RecordingAccessed') execute function test_refuse_access()`.execute(db);
    try {
      const before = (await eventsOf(h, id)).length;
      const r = await h.get(`/api/calls/${id}/recording`, t);
      assert.is(r.status, 503);
      assert.is(r.body.error.code, 'audit_failed');
      assert.not.ok(JSON.stringify(r.body).includes('http'), 'no URL in the answer');
      h.clock.advance(3400 * 1000); // now a re-sign is needed: the new URL must not leak either
      const t2 = await h.token('org-r', 'user-x');
      const r2 = await h.get(`/api/calls/${id}/recording`, t2);
      assert.is(r2.status, 503);
      assert.not.ok(JSON.stringify(r2.body).includes('sig='));
      const rf = await h.post(`/api/calls/${id}/recording/refresh`, t2);
      assert.is(rf.status, 503);
      assert.is(rf.body.error.code, 'audit_failed');
      assert.not.ok(JSON.stringify(rf.body).includes('sig='));
      assert.is((await eventsOf(h, id)).length, before, 'neither UrlSigned nor RecordingAccessed was stored');
    } finally {
      await sql`drop trigger test_refuse_access on ${sql.table('events')}`.execute(db);
    }
    const t3 = await h.token('org-r', 'user-x');
    const ok = await h.get(`/api/calls/${id}/recording`, t3);
    assert.is(ok.status, 200);
  });

  test('GET /api/audit/downloads: auditors only, org-scoped, filters and paging', async ({ h }) => {
    const org = 'org-audit';
    const c1 = await h.endCall(org);
    const c2 = await h.endCall(org);
    const other = await h.endCall('org-audit-2');
    await h.uploadRecording(c1, org);
    await h.uploadRecording(c2, org);
    await h.uploadRecording(other, 'org-audit-2');
    await h.settle();
    const u1 = await h.token(org, 'u1');
    const t0 = h.clock.now().toISOString();
    assert.is((await h.get(`/api/calls/${c1}/recording`, u1)).status, 200);
    assert.is((await h.get(`/api/calls/${c2}/recording`, u1)).status, 200);
    h.clock.advance(60_000);
    const t1 = h.clock.now().toISOString();
    assert.is((await h.post(`/api/calls/${c1}/recording/refresh`, await h.token(org, 'u2'))).status, 200);
    assert.is((await h.get(`/api/calls/${other}/recording`, await h.token('org-audit-2', 'u9'))).status, 200);
    await h.settle();

    const member = await h.get('/api/audit/downloads', u1);
    assert.is(member.status, 403);
    assert.is(member.body.error.code, 'forbidden');
    const auditor = await h.token(org, 'aud', 'auditor');
    const all = await h.get('/api/audit/downloads', auditor);
    assert.is(all.status, 200);
    assert.is(all.body.data.length, 3);
    assert.equal(all.body.data.map((d: { call_id: string; user_id: string; action: string }) => [d.call_id, d.user_id, d.action]), [
      [c1, 'u2', 'refresh'],
      [c2, 'u1', 'download'],
      [c1, 'u1', 'download'],
    ]);
    assert.is(all.body.data[0].ip, '127.0.0.1');
    assert.type(all.body.data[0].user_agent, 'string');
    const ids = async (q: string) => (await h.get(`/api/audit/downloads?${q}`, auditor)).body.data.map((d: { call_id: string; action: string }) => `${d.call_id}:${d.action}`);
    assert.equal(await ids(`call_id=${c1}`), [`${c1}:refresh`, `${c1}:download`]);
    assert.equal(await ids('user_id=u1'), [`${c2}:download`, `${c1}:download`]);
    assert.equal(await ids('action=refresh'), [`${c1}:refresh`]);
    assert.equal(await ids(`from=${encodeURIComponent(t1)}`), [`${c1}:refresh`]);
    assert.equal(await ids(`from=${encodeURIComponent(t0)}&to=${encodeURIComponent(t1)}`), [`${c2}:download`, `${c1}:download`]);
    const p1 = await h.get('/api/audit/downloads?limit=2', auditor);
    assert.is(p1.body.data.length, 2);
    const p2 = await h.get(`/api/audit/downloads?limit=2&cursor=${p1.body.nextCursor}`, auditor);
    assert.is(p2.body.data.length, 1);
    assert.is(p2.body.nextCursor, null);
    const admin = await h.get('/api/audit/downloads', await h.token(org, 'root', 'admin'));
    assert.is(admin.status, 200);
    const bad = await h.get('/api/audit/downloads?call_id=a%27b', auditor);
    assert.is(bad.status, 400);
  });

  test('call history: auditors only, every event in order, signed URLs redacted', async ({ h }) => {
    const id = await h.endCall('org-r');
    await h.uploadRecording(id, 'org-r');
    const t = await h.token('org-r', 'user-h');
    await h.settle();
    assert.is((await h.get(`/api/calls/${id}/recording`, t)).status, 200);
    const member = await h.get(`/api/calls/${id}/history`, t);
    assert.is(member.status, 403);
    const r = await h.get(`/api/calls/${id}/history`, await h.token('org-r', 'aud', 'auditor'));
    assert.is(r.status, 200);
    const types = r.body.events.map((e: { type: string }) => e.type);
    assert.equal(types.slice(0, 1), ['CallEnded']);
    assert.ok(types.includes('RecordingUploaded') && types.includes('UrlSigned') && types.includes('RecordingAccessed'));
    const positions = r.body.events.map((e: { position: number }) => e.position);
    assert.equal(positions, [...positions].sort((a: number, b: number) => a - b));
    const text = JSON.stringify(r.body);
    assert.not.ok(text.includes('sig='), 'signature redacted');
    assert.ok(text.includes('[signature redacted]'));
  });

  test.run();

  const proxied = suite<{ h: ApiHarness }>(`client IP and TRUST_PROXY [${backend.name}]`);
  proxied.before(async (ctx) => {
    ctx.h = await startApi(backend, { TRUST_PROXY: 'true' });
  });
  proxied.after(async (ctx) => {
    await ctx.h?.close();
  });
  proxied('with TRUST_PROXY the audited IP comes from X-Forwarded-For', async ({ h }) => {
    const id = await h.endCall('org-ip');
    await h.uploadRecording(id, 'org-ip');
    await h.settle();
    const r = await h.get(`/api/calls/${id}/recording`, await h.token('org-ip'), { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' });
    assert.is(r.status, 200);
    const accessed = (await eventsOf(h, id)).find((e) => e.type === 'RecordingAccessed')!;
    assert.is((accessed.data as { ip: string }).ip, '203.0.113.9');
  });
  proxied.run();
}

// Without TRUST_PROXY a forged X-Forwarded-For is ignored (checked on the first backend only).
const untrusted = suite<{ h: ApiHarness }>('client IP without TRUST_PROXY');
untrusted.before(async (ctx) => {
  ctx.h = await startApi((await backends())[0]!);
});
untrusted.after(async (ctx) => {
  await ctx.h?.close();
});
untrusted('a forged X-Forwarded-For does not change the audited IP', async ({ h }) => {
  const id = await h.endCall('org-ip');
  await h.uploadRecording(id, 'org-ip');
  await h.settle();
  const r = await h.get(`/api/calls/${id}/recording`, await h.token('org-ip'), { 'x-forwarded-for': '203.0.113.9' });
  assert.is(r.status, 200);
  const accessed = (await eventsOf(h, id)).find((e) => e.type === 'RecordingAccessed')!;
  assert.is((accessed.data as { ip: string }).ip, '127.0.0.1');
});
untrusted.run();
