import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { signToken } from '../../src/auth/tokens.ts';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { pgliteBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';

// Hostile input, one row each: a clear 4xx (or a clear, non-retryable pipeline refusal) and nothing stored.
const SECRET = 'hostile-webhook-secret';
const HMAC = 'hostile-hmac-secret';
const JWT = 'hostile-jwt-secret-0123456789abcdef';

const test = suite<{ s: TestService; rec: Awaited<ReturnType<typeof startRecordingServer>>; dir: string }>('hostile input');

test.before(async (ctx) => {
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'callrec-hostile-'));
  ctx.rec = await startRecordingServer();
  ctx.s = await startTestService(
    pgliteBackend,
    {
      DATA_DIR: ctx.dir,
      VAPI_WEBHOOK_SECRET: SECRET,
      VAPI_WEBHOOK_HMAC_SECRET: HMAC,
      AUTH_JWT_SECRET: JWT,
      // Hosts pass the host list, so the address policy is what must refuse them; only the fixture
      // server's loopback address is allowed. Refused addresses are never connected to.
      RECORDING_ALLOWED_HOSTS: '127.0.0.1,169.254.169.254,10.1.2.3,192.168.7.7,localhost',
      RECORDING_ALLOWED_ADDRESSES: '',
      RECORDING_DOWNLOAD_TIMEOUT_MS: '5000',
    },
    { recordingPipeline: true, background: false },
  );
});
test.after(async (ctx) => {
  await ctx.s.close();
  await ctx.rec.close();
  await rm(ctx.dir, { recursive: true, force: true });
});

const post = (s: TestService, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-vapi-secret': SECRET, ...headers }, body: body as BodyInit });

async function expectError(res: Response, status: number, code: string) {
  assert.is(res.status, status, `${code}: status`);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, code);
  assert.ok(body.error.message.length > 5, 'the message names the problem');
}

test('webhooks: bad secret, bad HMAC, stale timestamp, 10 MB, malformed, deeply nested, hostile call ids', async ({ s }) => {
  const before = await s.store.headPosition();
  const body = JSON.stringify(loadVapiFixture('status-update.ringing'));
  await expectError(await post(s, body, { 'x-vapi-secret': 'guess' }), 401, 'invalid_signature');
  const ts = String(Date.now());
  await expectError(
    await fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', 'wrong').update(`${ts}.${body}`).digest('hex'), 'x-timestamp': ts }, body }),
    401,
    'invalid_signature',
  );
  const old = String(Date.now() - 3_600_000);
  await expectError(
    await fetch(`${s.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', HMAC).update(`${old}.${body}`).digest('hex'), 'x-timestamp': old }, body }),
    401,
    'stale_timestamp',
  );
  await expectError(await post(s, new Uint8Array(10 * 1024 * 1024).fill(0x20)), 413, 'payload_too_large');
  await expectError(await post(s, '{"message": {"type": "end-of-call-report", '), 400, 'invalid_json');
  await expectError(await post(s, `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`), 400, 'invalid_body');
  for (const id of ['../../etc/passwd', "1'; drop table events; --", 'a/b', '%2e%2e', 'x'.repeat(500), '']) {
    const m = loadVapiFixture('end-of-call-report.no-recording');
    m.message.call.id = id;
    const res = await post(s, JSON.stringify(m));
    assert.ok(res.status === 400, `call id ${JSON.stringify(id)} → ${res.status}`);
  }
  assert.is(await s.store.headPosition(), before, 'nothing stored');
  assert.is((await fetch(`${s.url}/health`)).status, 200);
});

test('recording URLs at loopback, metadata, private ranges or redirecting there are refused, nothing stored', async ({ s, rec }) => {
  const targets: Array<[string, string]> = [
    ['http://127.0.0.1:9/x.wav', 'address_not_allowed'],
    ['http://169.254.169.254/latest/meta-data/', 'address_not_allowed'],
    ['http://10.1.2.3/rec.wav', 'address_not_allowed'],
    ['http://192.168.7.7/rec.wav', 'address_not_allowed'],
    ['http://evil.example.com/rec.wav', 'host_not_allowed'],
    [`${rec.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/')}`, 'address_not_allowed'],
  ];
  const ids: Array<[string, string]> = [];
  for (const [url, code] of targets) {
    const m = withRecordingUrl(loadVapiFixture('end-of-call-report.current'), url);
    m.message.call.id = randomUUID();
    assert.is((await post(s, JSON.stringify(m))).status, 200);
    ids.push([m.message.call.id, code]);
  }
  for (let i = 0; i < 20; i++) {
    await s.runner.catchUp();
    const n = await s.pipeline.runDue();
    await s.runner.catchUp();
    if (n === 0 && s.pipeline.inFlight() === 0) break;
  }
  for (const [callId, code] of ids) {
    const row = await s.database.db.selectFrom('call_logs').selectAll().where('id', '=', callId).executeTakeFirstOrThrow();
    assert.is(row.recording_status, 'abandoned', `${callId}: ${row.recording_error}`);
    assert.is(row.transcript_only_fallback, true);
    assert.is(row.recording_storage_path, null);
    const events = await s.store.readStream(`call-${callId}`);
    const failed = events.find((e) => e.type === 'UploadFailed')!.data as { code: string; retryable: boolean };
    assert.is(failed.retryable, false);
    assert.match(`${failed.code} ${row.recording_error_code}`, code === 'host_not_allowed' ? /host_not_allowed/ : /address_not_allowed/);
  }
  // The loopback fixture server itself is not in RECORDING_ALLOWED_ADDRESSES: only the redirect hop was asked for.
  assert.ok(rec.requests.every((r) => r.path.startsWith('/redirect')));
  const objects: string[] = [];
  for await (const o of s.storage.list('')) objects.push(o.path);
  assert.equal(objects, []);
});

test('API: alg none, another org, forged and expired tokens; tampered and expired signed URLs', async ({ s }) => {
  await setOrgMapping(s.database.db, 'assistant', 'asst-hostile', 'org-a');
  s.orgResolver.invalidate();
  const m = loadVapiFixture('end-of-call-report.no-recording');
  const callId = randomUUID();
  m.message.call.id = callId;
  m.message.call.assistantId = 'asst-hostile';
  m.message.artifact = { transcript: '<img src=x onerror="alert(1)"><script>alert(2)</script>' };
  assert.is((await post(s, JSON.stringify(m))).status, 200);
  await s.runner.catchUp();
  const get = (p: string, token: string) => fetch(`${s.url}${p}`, { headers: { authorization: `Bearer ${token}` } });

  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', org_id: 'org-a', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.`;
  await expectError(await get(`/api/calls/${callId}`, none), 401, 'invalid_token');
  const forged = await new SignJWT({ org_id: 'org-a' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('10m').sign(new TextEncoder().encode('not-the-secret-0123456789abcdef'));
  await expectError(await get(`/api/calls/${callId}`, forged), 401, 'invalid_token');
  const expired = await signToken({ secret: JWT, orgId: 'org-a', userId: 'u', ttlSeconds: 1, now: new Date(Date.now() - 3_600_000) });
  await expectError(await get(`/api/calls/${callId}`, expired), 401, 'invalid_token');
  const other = await signToken({ secret: JWT, orgId: 'org-b', userId: 'u' });
  await expectError(await get(`/api/calls/${callId}`, other), 404, 'not_found');
  const mine = await signToken({ secret: JWT, orgId: 'org-a', userId: 'u' });
  const ok = await get(`/api/calls/${callId}`, mine);
  assert.is(ok.status, 200);
  const { call } = (await ok.json()) as { call: { transcript: string } };
  assert.is(call.transcript, '<img src=x onerror="alert(1)"><script>alert(2)</script>', 'stored verbatim, as data');
  assert.match(ok.headers.get('content-type') ?? '', /application\/json/);
  for (const bad of ['..%2F..%2Fetc%2Fpasswd', "x'%20or%201=1--"]) {
    const res = await get(`/api/calls/${bad}`, mine);
    assert.ok(res.status === 400 || res.status === 404, `${bad} → ${res.status}`);
  }

  // Signed URLs of local storage: tampered and expired are 403 with a specific code.
  const file = path.join(tmpdir(), `hostile-${randomUUID()}.wav`);
  await (await import('node:fs/promises')).writeFile(file, Buffer.alloc(2048, 1));
  assert.ok((await s.storage.put('org-a/2026/11/25/x.wav', file, { contentType: 'audio/wav' })).ok);
  const signed = await s.storage.createSignedUrl('org-a/2026/11/25/x.wav', 60);
  assert.ok(signed.ok);
  if (!signed.ok) return;
  const u = new URL(signed.value.url);
  assert.is((await fetch(`${s.url}${u.pathname}${u.search}`)).status, 200);
  const tampered = `${s.url}${u.pathname.replace('x.wav', 'y.wav')}${u.search}`;
  await expectError(await fetch(tampered), 403, 'signed_url_invalid');
  const past = new URL(u.toString());
  past.searchParams.set('expires', String(Math.floor(Date.now() / 1000) - 10));
  const res = await fetch(`${s.url}${past.pathname}${past.search}`);
  assert.is(res.status, 403);
  assert.match(((await res.json()) as { error: { code: string } }).error.code, /signed_url_(invalid|expired)/);
});

test.run();
