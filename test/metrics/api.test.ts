import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import type { NewEvent } from '../../src/events/port.ts';
import type { Role } from '../../src/auth/roles.ts';
import { pgliteBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';

/** GET /api/metrics (JWT, org-scoped) and GET /metrics (Prometheus) through a real service on PGlite. */

const JWT_SECRET = 'metrics-test-jwt-secret-0123456789abcdef';
const METRICS_TOKEN = 'metrics-scrape-token-0123456789';

const test = suite<{ svc: TestService; dataDir: string }>('metrics HTTP');

test.before(async (ctx) => {
  ctx.dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-metrics-'));
  ctx.svc = await startTestService(
    pgliteBackend,
    { AUTH_JWT_SECRET: JWT_SECRET, METRICS_TOKEN, DATA_DIR: ctx.dataDir, RECORDING_SIGNING_SECRET: 'metrics-test-signing-secret-0123' },
    { background: false },
  );
});
test.after(async (ctx) => {
  await ctx.svc?.close();
  if (ctx.dataDir) await rm(ctx.dataDir, { recursive: true, force: true });
});

const today = () => new Date().toISOString().slice(0, 10);
const token = (orgId: string, role: Role = 'member') => signToken({ secret: JWT_SECRET, orgId, userId: `user-${orgId}`, role });

async function get(svc: TestService, p: string, bearer?: string) {
  const res = await fetch(svc.url + p, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

function ev(type: string, data: Record<string, unknown>, orgId: string): NewEvent {
  return { eventId: randomUUID(), type, data, metadata: { correlationId: 'c', causationId: null, orgId, recordedAt: new Date().toISOString(), actor: 'test' } };
}

async function seedCall(svc: TestService, orgId: string, opts: { bytes?: number; failCode?: string; download?: boolean }) {
  const callId = randomUUID();
  const now = new Date().toISOString();
  const events = [
    ev('CallEnded', {
      callId, orgId, vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null, startedAt: null, endedAt: now,
      durationSeconds: 90, endedReason: 'customer-ended-call', transcript: null, summary: null, cost: null, recordingUrl: 'https://storage.vapi.ai/r.wav',
      stereoRecordingUrl: null, messageAt: now,
    }, orgId),
  ];
  if (opts.failCode) {
    events.push(ev('UploadFailed', { callId, attempt: 1, step: 'fetch', code: opts.failCode, message: 'x', retryable: true, status: 504 }, orgId));
    events.push(ev('UploadRetryScheduled', { callId, attempt: 2, dueAt: now, delayMinutes: 5 }, orgId));
  }
  events.push(ev('RecordingUploaded', {
    callId, attempt: opts.failCode ? 2 : 1, storagePath: `${orgId}/2026/05/20/${callId}.wav`, bytes: opts.bytes ?? 1_000_000, sha256: 'b'.repeat(64), format: 'wav',
    codec: null, contentType: 'audio/wav', durationSeconds: 90, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
  }, orgId));
  if (opts.download) events.push(ev('RecordingAccessed', { callId, userId: 'u1', action: 'download', ip: null, userAgent: null }, orgId));
  const r = await svc.store.append(`call-${callId}`, events, 'no_stream');
  assert.ok(r.ok);
}

test('org-scoped success metrics and daily analytics', async ({ svc }) => {
  await seedCall(svc, 'org-a', { bytes: 2_000_000, download: true });
  await seedCall(svc, 'org-a', { bytes: 4_000_000, failCode: 'download_timeout' });
  await seedCall(svc, 'org-b', { bytes: 80 * 1024 * 1024 });
  await svc.runner.catchUp();

  const a = await get(svc, '/api/metrics', await token('org-a'));
  assert.is(a.status, 200, JSON.stringify(a.body));
  assert.is(a.body.org, 'org-a');
  assert.is(a.body.to, today());
  const m = Object.fromEntries(a.body.metrics.map((x: any) => [x.name, x]));
  assert.equal(Object.keys(m), ['upload_success_rate', 'url_expiry_errors', 'orphaned_recordings', 'average_recording_size', 'download_count', 'failed_upload_retry_rate', 'calls_recovered']);
  assert.equal({ value: m.upload_success_rate.value, target: m.upload_success_rate.target, met: m.upload_success_rate.met }, { value: 1, target: 0.999, met: true });
  assert.equal({ value: m.average_recording_size.value, met: m.average_recording_size.met }, { value: 3_000_000, met: true });
  assert.is(m.download_count.value, 1);
  assert.equal({ value: m.failed_upload_retry_rate.value, met: m.failed_upload_retry_rate.met }, { value: 0.5, met: false });
  assert.equal({ value: m.orphaned_recordings.value, met: m.orphaned_recordings.met }, { value: 0, met: true });
  assert.is(a.body.days.length, 1);
  const day = a.body.days[0];
  assert.equal(
    { day: day.day, calls: day.calls, recordedCalls: day.recordedCalls, minutes: day.minutes, bytes: day.bytes, failuresByReason: day.failuresByReason },
    { day: today(), calls: 2, recordedCalls: 2, minutes: 3, bytes: 6_000_000, failuresByReason: { download_timeout: 1 } },
  );

  const b = await get(svc, '/api/metrics', await token('org-b'));
  assert.is(b.body.totals.calls, 1);
  const bm = Object.fromEntries(b.body.metrics.map((x: any) => [x.name, x]));
  assert.is(bm.average_recording_size.met, false, '80 MB is above the 50 MB target');

  assert.is((await get(svc, '/api/metrics?org=all', await token('org-a'))).status, 403);
  assert.is((await get(svc, '/api/metrics?org=org-b', await token('org-a', 'auditor'))).status, 403);
  // An org's admin administers that org only: no other org's counts, sizes or failure reasons.
  for (const q of ['org=all', 'org=org-b']) {
    const r = await get(svc, `/api/metrics?${q}`, await token('org-a', 'admin'));
    assert.is(r.status, 403, q);
    assert.is(r.body.error.code, 'forbidden');
    assert.match(r.body.error.message, /platform-admin/);
  }
  assert.is((await get(svc, '/api/metrics?org=org-a', await token('org-a', 'admin'))).status, 200, 'its own org by name');
  // Views across orgs: the operator's platform-admin role, or METRICS_TOKEN.
  const all = await get(svc, '/api/metrics?org=all', await token('org-a', 'platform-admin'));
  assert.is(all.status, 200);
  assert.is(all.body.totals.calls, 3);
  const other = await get(svc, '/api/metrics?org=org-b', await token('org-a', 'platform-admin'));
  assert.is(other.body.totals.calls, 1);
  const scraped = await get(svc, '/api/metrics?org=all', METRICS_TOKEN);
  assert.is(scraped.status, 200);
  assert.is(scraped.body.totals.calls, 3);
  assert.is((await get(svc, '/api/metrics?org=all', `${METRICS_TOKEN}x`)).status, 401, 'a near-miss of METRICS_TOKEN is just a bad token');
  assert.is((await get(svc, '/api/calls', METRICS_TOKEN)).status, 401, 'METRICS_TOKEN opens the metrics only');
  assert.is((await get(svc, '/api/metrics')).status, 401);
});

test('validates the window', async ({ svc }) => {
  const t = await token('org-a');
  for (const q of ['from=2026-02-30', 'from=yesterday', 'to=2026-13-01', 'from=2026-05-10&to=2026-05-01', 'from=2020-01-01&to=2026-01-01', 'limit=3', 'org=a%20b']) {
    const r = await get(svc, `/api/metrics?${q}`, t);
    assert.is(r.status, 400, q);
    assert.is(r.body.error.code, 'invalid_query', q);
  }
  const ok = await get(svc, '/api/metrics?from=2026-05-01T00:00:00Z&to=2026-05-02', t);
  assert.is(ok.status, 200);
  assert.equal([ok.body.from, ok.body.to, ok.body.days], ['2026-05-01', '2026-05-02', []]);
});

test('refused recording URLs are counted as URL expiry errors', async ({ svc }) => {
  const expired = await get(svc, '/recordings/org-a/2026/05/20/x.wav?expires=1&sig=' + 'a'.repeat(64));
  const forged = await get(svc, `/recordings/org-a/2026/05/20/x.wav?expires=${Math.floor(Date.now() / 1000) + 600}&sig=${'a'.repeat(64)}`);
  assert.is(expired.status, 403);
  assert.is(forged.status, 403);
  let value = 0;
  await eventually(() => `url_expiry_errors at 2 (is ${value})`, async () => {
    const r = await get(svc, '/api/metrics', await token('org-a'));
    value = r.body.metrics.find((x: any) => x.name === 'url_expiry_errors').value;
    return value >= 2;
  }, { timeoutMs: 1000, intervalMs: 20 });
  assert.is(value, 2);
});

test('GET /metrics: Prometheus text behind METRICS_TOKEN', async ({ svc }) => {
  await svc.sweep.tick();
  assert.is((await get(svc, '/metrics')).status, 401);
  assert.is((await get(svc, '/metrics', 'wrong-token-0123456789012345')).status, 401);
  const r = await get(svc, '/metrics', METRICS_TOKEN);
  assert.is(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
  const text: string = r.body;
  assert.match(text, /callrec_http_request_duration_seconds_bucket\{[^}]*route="\/api\/metrics"/);
  assert.match(text, /callrec_http_request_duration_seconds_count\{method="GET",route="\/recordings\/\*",status="403"\} 2/);
  assert.not.match(text, /route="[^"]*\?/, 'no raw URLs as labels');
  assert.match(text, /callrec_events_appended_total\{type="CallEnded"\} 3/);
  assert.match(text, /callrec_pipeline_outcomes_total\{outcome="uploaded"\} 3/);
  assert.match(text, /callrec_pipeline_outcomes_total\{outcome="failed"\} 1/);
  assert.match(text, /callrec_upload_retries_scheduled_total 1/);
  assert.match(text, /callrec_projection_lag_events\{projector="call_logs"\} \d+/);
  assert.match(text, /callrec_projection_lag_events\{projector="recording_metrics"\} \d+/);
  assert.match(text, /callrec_sse_clients 0/);
  assert.match(text, /callrec_sweep_runs_total\{mode="delete",complete="true"\} 1/);
  assert.match(text, /callrec_signed_url_rejections_total\{reason="(expired|invalid)"\} \d/);

  // Without METRICS_TOKEN the endpoint is open.
  const saved = svc.config.METRICS_TOKEN;
  svc.config.METRICS_TOKEN = undefined;
  try {
    assert.is((await get(svc, '/metrics')).status, 200);
  } finally {
    svc.config.METRICS_TOKEN = saved;
  }
});

test.run();
