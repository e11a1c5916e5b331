import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import { openRows } from '../../src/privacy/openRows.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { backends } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';

const SECRET = 'webhook-secret-for-tests';
const HMAC_SECRET = 'hmac-secret-for-tests';

/** The call's call_logs row, its personal columns opened (they are stored sealed). */
async function row(s: TestService, id: string) {
  await s.runner.catchUp();
  const r = await s.database.db.selectFrom('call_logs').selectAll().where('id', '=', id).executeTakeFirst();
  return r && (await openRows(s.keyring, 'call_logs', [r as Record<string, unknown>], () => id))[0];
}

for (const backend of await backends()) {
  const test = suite<{ s: TestService }>(`POST /webhooks/vapi [${backend.name}]`);
  test.before(async (ctx) => {
    // Ingest only: no pipeline or other process appends behind the test's back (projections are caught
    // up explicitly with runner.catchUp()).
    ctx.s = await startTestService(backend, { VAPI_WEBHOOK_SECRET: SECRET, VAPI_WEBHOOK_HMAC_SECRET: HMAC_SECRET, WEBHOOK_MAX_BODY_BYTES: '65536' }, { background: false });
  });
  test.after(async (ctx) => ctx.s.close());
  const auth = { 'x-vapi-secret': SECRET };

  test('every recording-URL shape, old and new transcript places, and odd timestamps are accepted', async ({ s }) => {
    const cases: Array<[string, Partial<Record<string, unknown>>]> = [
      ['end-of-call-report.current', { recording_status: 'pending', transcript_only_fallback: false }],
      ['end-of-call-report.deprecated', { recording_status: 'pending' }],
      ['end-of-call-report.oldest', { recording_status: 'pending' }],
      ['end-of-call-report.no-recording', { recording_status: 'none', transcript_only_fallback: true, recording_source_url: null }],
      ['end-of-call-report.empty-urls', { recording_status: 'none', transcript_only_fallback: true, recording_source_url: null }],
      ['end-of-call-report.iso-timestamp', { started_at: null }],
      ['end-of-call-report.unknown-ended-reason', { ended_reason: 'call.in-progress.error-vapifault-holographic-transport-desync' }],
    ];
    for (const [name, expected] of cases) {
      const body = loadVapiFixture(name);
      const res = await s.post('/webhooks/vapi', body, auth);
      assert.is(res.status, 200, name);
      const json = (await res.json()) as { stored: boolean };
      assert.is(json.stored, true, name);
      const r = (await row(s, body.message.call.id)) as Record<string, unknown>;
      assert.ok(r, `${name}: row exists`);
      assert.is(r.status, 'ended');
      assert.is(r.org_id, 'default');
      for (const [k, v] of Object.entries(expected)) assert.equal(r[k], v, `${name}: ${k}`);
    }
    const current = loadVapiFixture('end-of-call-report.current').message;
    const r = (await row(s, current.call.id))!;
    assert.is(r.recording_source_url, current.artifact.recording.mono.combinedUrl);
    assert.is(r.recording_stereo_source_url, current.artifact.recording.stereoUrl);
    assert.is(r.transcript, current.artifact.transcript);
    assert.is(r.summary, current.analysis.summary);
    assert.is(r.customer_number, current.call.customer.number);
    const oldest = loadVapiFixture('end-of-call-report.oldest').message;
    const o = (await row(s, oldest.call.id))!;
    assert.is(o.recording_source_url, oldest.recordingUrl);
    assert.is(o.summary, oldest.summary);
    const deprecated = loadVapiFixture('end-of-call-report.deprecated').message;
    assert.is((await row(s, deprecated.call.id))!.recording_source_url, deprecated.artifact.recordingUrl);
  });

  test('non-ASCII text survives byte for byte', async ({ s }) => {
    const body = loadVapiFixture('end-of-call-report.non-ascii');
    assert.is((await s.post('/webhooks/vapi', body, auth)).status, 200);
    const r = (await row(s, body.message.call.id))!;
    const transcript = body.message.artifact?.transcript ?? body.message.transcript;
    assert.is(r.transcript, transcript);
    assert.match(String(r.transcript), /[^\x00-\x7f]/);
  });

  test('other message types get 2xx and are not stored', async ({ s }) => {
    const before = await s.store.headPosition();
    for (const name of ['conversation-update', 'speech-update', 'transcript', 'transcript-final-only', 'hang', 'user-interrupted']) {
      const res = await s.post('/webhooks/vapi', loadVapiFixture(name), auth);
      assert.is(res.status, 200, name);
      assert.is(((await res.json()) as { stored: boolean }).stored, false);
    }
    assert.is(await s.store.headPosition(), before);
  });

  test('a redelivered report, even concurrently, is one event', async ({ s }) => {
    const body = loadVapiFixture('end-of-call-report.current');
    body.message.call.id = 'redelivered-call-1';
    const results = await Promise.all(Array.from({ length: 12 }, () => s.post('/webhooks/vapi', body, auth)));
    assert.ok(results.every((r) => r.status === 200));
    const events = await s.store.readStream('call-redelivered-call-1');
    assert.is(events.length, 1);
    const again = await s.post('/webhooks/vapi', body, auth);
    assert.is(((await again.json()) as { duplicate: boolean }).duplicate, true);
    assert.is((await s.store.readStream('call-redelivered-call-1')).length, 1);
  });

  test('a status-update after the report does not move the call backwards', async ({ s }) => {
    const report = loadVapiFixture('end-of-call-report.current');
    report.message.call.id = 'late-status-call';
    const ringing = loadVapiFixture('status-update.ringing');
    ringing.message.call.id = 'late-status-call';
    const inProgress = loadVapiFixture('status-update.in-progress');
    inProgress.message.call.id = 'late-status-call';
    assert.is((await s.post('/webhooks/vapi', inProgress, auth)).status, 200);
    assert.is((await row(s, 'late-status-call'))!.status, 'in-progress');
    assert.is((await s.post('/webhooks/vapi', report, auth)).status, 200);
    assert.is((await s.post('/webhooks/vapi', ringing, auth)).status, 200);
    const r = (await row(s, 'late-status-call'))!;
    assert.is(r.status, 'ended');
    assert.is(r.recording_status, 'pending');
    assert.equal((await s.store.readStream('call-late-status-call')).map((e) => e.type), ['CallStatusChanged', 'CallEnded', 'CallStatusChanged']);
  });

  test('authentication: secret header, bearer, HMAC; wrong or stale proof is 401 and stores nothing', async ({ s }) => {
    const body = loadVapiFixture('status-update.ringing');
    body.message.call.id = 'auth-call';
    const raw = JSON.stringify(body);
    const before = await s.store.headPosition();
    for (const headers of [{}, { 'x-vapi-secret': 'wrong' }, { authorization: 'Bearer wrong' }, { 'x-signature': 'ab'.repeat(32), 'x-timestamp': String(Date.now()) }] as Array<Record<string, string>>) {
      const res = await s.post('/webhooks/vapi', raw, headers);
      assert.is(res.status, 401, JSON.stringify(headers));
      const err = (await res.json()) as { error: { code: string } };
      assert.is(err.error.code, 'invalid_signature');
    }
    const ts = String(Math.floor(Date.now() / 1000) - 3600);
    const staleSig = createHmac('sha256', HMAC_SECRET).update(`${ts}.${raw}`).digest('hex');
    const stale = await s.post('/webhooks/vapi', raw, { 'x-signature': staleSig, 'x-timestamp': ts });
    assert.is(stale.status, 401);
    assert.is(((await stale.json()) as { error: { code: string } }).error.code, 'stale_timestamp');
    // A valid signature over different bytes (re-serialised JSON) must fail: the raw body is what counts.
    const now = String(Date.now());
    const sigOfOther = createHmac('sha256', HMAC_SECRET).update(`${now}.${JSON.stringify(body, null, 2)}`).digest('hex');
    assert.is((await s.post('/webhooks/vapi', raw, { 'x-signature': sigOfOther, 'x-timestamp': now })).status, 401);
    assert.is(await s.store.headPosition(), before);

    assert.is((await s.post('/webhooks/vapi', raw, { authorization: `Bearer ${SECRET}` })).status, 200);
    const good = createHmac('sha256', HMAC_SECRET).update(`${now}.${raw}`).digest('hex');
    const inProgress = { ...body, message: { ...body.message, status: 'in-progress' } };
    const raw2 = JSON.stringify(inProgress);
    const good2 = createHmac('sha256', HMAC_SECRET).update(`${now}.${raw2}`).digest('hex');
    assert.is((await s.post('/webhooks/vapi', raw2, { 'x-signature': `sha256=${good2}`, 'x-timestamp': now })).status, 200);
    assert.ok(good.length === 64);
    assert.is((await s.store.readStream('call-auth-call')).length, 2);
  });

  test('bad input gets a specific 4xx, stores nothing, and the server keeps serving', async ({ s }) => {
    const before = await s.store.headPosition();
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body });
    const expectError = async (res: Response, status: number, code: string) => {
      assert.is(res.status, status, code);
      const json = (await res.json()) as { error: { code: string; message: string } };
      assert.is(json.error.code, code);
      assert.ok(json.error.message.length > 5);
    };
    await expectError(await post('{"message": '), 400, 'invalid_json');
    await expectError(await post('{"message": {}}', {}), 400, 'invalid_body');
    await expectError(await post('[]'), 400, 'invalid_body');
    await expectError(await post('<xml/>', { 'content-type': 'text/xml' }), 415, 'unsupported_media_type');
    await expectError(await post(JSON.stringify({ message: { type: 'end-of-call-report', call: {} } })), 400, 'missing_call_id');
    await expectError(await post(JSON.stringify({ message: { type: 'status-update', status: 'ringing' } })), 400, 'missing_call_id');
    await expectError(await post(JSON.stringify({ message: { type: 'end-of-call-report', call: { id: '../../etc/passwd' } } })), 400, 'invalid_id');
    await expectError(await post(JSON.stringify({ message: { type: 'end-of-call-report', call: { id: "x'; drop table events; --" } } })), 400, 'invalid_id');
    await expectError(await post(JSON.stringify({ message: { type: 'status-update', call: { id: 'no-status' } } })), 400, 'invalid_body');
    await expectError(await post(JSON.stringify({ message: { type: 'hang', pad: 'x'.repeat(70_000) } })), 413, 'payload_too_large');
    await expectError(await post('['.repeat(20_000) + ']'.repeat(20_000)), 400, 'invalid_body');
    assert.is(await s.store.headPosition(), before);
    assert.is((await fetch(`${s.url}/health`)).status, 200);
    const ok = loadVapiFixture('status-update.ringing');
    ok.message.call.id = 'after-bad-input';
    assert.is((await s.post('/webhooks/vapi', ok, auth)).status, 200);
  });

  test('the org comes from the assistant / phone number / Vapi org mapping, else the default', async ({ s }) => {
    const body = loadVapiFixture('end-of-call-report.current');
    body.message.call.id = 'mapped-call';
    await setOrgMapping(s.database.db, 'phone_number', body.message.call.phoneNumberId, 'org-by-phone');
    s.orgResolver.invalidate();
    assert.is((await s.post('/webhooks/vapi', body, auth)).status, 200);
    assert.is((await row(s, 'mapped-call'))!.org_id, 'org-by-phone');
    await setOrgMapping(s.database.db, 'assistant', body.message.call.assistantId, 'org-by-assistant');
    s.orgResolver.invalidate();
    body.message.call.id = 'mapped-call-2';
    assert.is((await s.post('/webhooks/vapi', body, auth)).status, 200);
    const r = (await row(s, 'mapped-call-2'))!;
    assert.is(r.org_id, 'org-by-assistant');
    const events = await s.store.readStream('call-mapped-call-2');
    assert.is(events[0]!.metadata.orgId, 'org-by-assistant');
  });

  test('/health and /ready', async ({ s }) => {
    assert.is((await fetch(`${s.url}/health`)).status, 200);
    await s.runner.catchUp();
    const ready = await fetch(`${s.url}/ready`);
    assert.is(ready.status, 200);
    const body = (await ready.json()) as { lag: Record<string, number> };
    assert.is(body.lag.call_logs, 0);
  });

  test.run();
}
