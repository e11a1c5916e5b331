import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { emptyDaily, metricsDeltas } from '../../src/projections/metrics/evolve.ts';
import { recordingMetricsProjector } from '../../src/projections/metrics/projector.ts';
import { dailyMetrics, metricsReport, successMetrics } from '../../src/projections/metrics/queries.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { createProjectionRunner } from '../../src/projections/runner.ts';
import { backends } from '../support/databases.ts';

/** The recording_metrics projection: pure deltas, real database rows, and a rebuild that gives the same rows. */

const D1 = '2026-05-10T10:00:00.000Z';
const D2 = '2026-05-11T23:59:00.000Z';

function ev(type: string, data: Record<string, unknown>, orgId: string, at: string, extraMeta: Record<string, unknown> = {}): NewEvent {
  return { eventId: randomUUID(), type, data, metadata: { correlationId: 'c', causationId: null, orgId, recordedAt: at, actor: 'test', ...extraMeta } };
}

const callEnded = (callId: string, orgId: string, at: string, durationSeconds: number | null, recorded = true) =>
  ev('CallEnded', {
    callId, orgId, vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null, startedAt: null, endedAt: at,
    durationSeconds, endedReason: 'customer-ended-call', transcript: null, summary: null, cost: null,
    recordingUrl: recorded ? 'https://storage.vapi.ai/r.wav' : null, stereoRecordingUrl: null, messageAt: at,
  }, orgId, at);
const uploaded = (callId: string, orgId: string, at: string, bytes: number) =>
  ev('RecordingUploaded', {
    callId, attempt: 1, storagePath: `${orgId}/x/${callId}.wav`, bytes, sha256: 'a'.repeat(64), format: 'wav', codec: null, contentType: 'audio/wav',
    durationSeconds: 1, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
  }, orgId, at);
const failed = (callId: string, orgId: string, at: string, code: string) =>
  ev('UploadFailed', { callId, attempt: 1, step: 'fetch', code, message: 'x', retryable: true, status: null }, orgId, at);

/** 2 orgs, 2 days: a representative mix of every event the projection reads. */
function seedEvents(): Array<[string, NewEvent[]]> {
  const out: Array<[string, NewEvent[]]> = [];
  for (let i = 0; i < 12; i++) {
    const org = i % 3 === 0 ? 'org-b' : 'org-a';
    const at = i < 7 ? D1 : D2;
    const callId = `c${i}`;
    const events = [callEnded(callId, org, at, 30.123 + i, i !== 5)];
    if (i === 5) events.push(ev('TranscriptOnlyFallback', { callId, reason: 'no recording' }, org, at));
    else if (i % 4 === 1) {
      events.push(failed(callId, org, at, 'download_timeout'));
      events.push(ev('UploadRetryScheduled', { callId, attempt: 2, dueAt: at, delayMinutes: 5 }, org, at));
      if (i === 9) events.push(failed(callId, org, at, 'invalid_audio'), ev('UploadAbandoned', { callId, attempts: 2, code: 'invalid_audio', reason: 'bad' }, org, at));
      else events.push(uploaded(callId, org, at, 2_000_000 + i));
    } else events.push(uploaded(callId, org, at, 1_000_000 + i));
    if (i % 2 === 0) events.push(ev('RecordingAccessed', { callId, userId: 'u', action: i % 4 === 0 ? 'download' : 'refresh', ip: null, userAgent: null }, org, at));
    out.push([`call-${callId}`, events]);
  }
  out.push(['sweep-2026-05-11', [
    ev('OrphanDeleted', { storagePath: 'org-a/old.wav', bytes: 500, ageDays: 9, lastModified: D1 }, 'org-a', D2),
    ev('SweepCompleted', { sweepId: '2026-05-11', scanned: 20, deleted: 1, bytesFreed: 500, missingFlagged: 0, durationMs: 12.5 }, 'default', D2, {
      failed: [{ path: 'org-b/stuck.wav', orgId: 'org-b', code: 'storage_unavailable' }], failedCount: 1, complete: true,
    }),
  ]]);
  return out;
}

const pure = suite('metricsDeltas (pure)');
pure('counts every event on its org and UTC day', () => {
  let position = 0;
  const recorded: RecordedEvent[] = seedEvents().flatMap(([streamId, events]) =>
    events.map((e) => ({ ...e, streamId, revision: 0, position: ++position, storedAt: new Date() })),
  );
  const { daily, sweeps } = metricsDeltas(recorded);
  const a1 = daily.get('org-a|2026-05-10')!;
  // org-a on day 1: calls 1, 2, 4, 5 (i % 3 !== 0, i < 7)
  assert.is(a1.calls, 4);
  assert.is(a1.recorded_calls, 3);
  assert.is(a1.duration_ms, 31_123 + 32_123 + 34_123 + 35_123);
  assert.is(a1.uploads_failed, 1); // call 1 (call 5 has no recording: transcript-only)
  assert.equal(a1.failures_by_reason, { download_timeout: 1 });
  assert.is(a1.retries_scheduled, 1);
  assert.is(a1.downloads + a1.refreshes, 2); // calls 2 and 4
  const b2 = daily.get('org-b|2026-05-11')!;
  assert.equal(b2.failures_by_reason, { download_timeout: 1, invalid_audio: 1 });
  assert.is(b2.abandoned, 1);
  assert.is(a1.fallbacks, 1);
  assert.equal(sweeps.map((s) => [s.sweep_id, s.failed_by_org]), [['2026-05-11', { 'org-b': 1 }]]);
  assert.is(daily.get('org-a|2026-05-11')!.orphans_deleted, 1);
});
pure('success metrics compare with their targets', () => {
  const totals = { ...emptyDaily('o', 'd'), calls: 10, recorded_calls: 10, duration_ms: 0, bytes_uploaded: 999 * 1024 * 1024, uploads_succeeded: 999, uploads_failed: 3, retries_scheduled: 3, abandoned: 1, fallbacks: 0, downloads: 4, refreshes: 0, orphans_deleted: 0, orphan_bytes_deleted: 0, missing_flagged: 0, failures_by_reason: {} };
  const m = Object.fromEntries(successMetrics(totals, { expired: 0, invalid: 0 }, { pendingFromLastSweep: 0, missingFlagged: 1, expiredRecordings: 3, lastSweep: null }).map((x) => [x.name, x]));
  assert.is(m.upload_success_rate!.value, 0.999);
  assert.is(m.upload_success_rate!.met, true);
  assert.is(m.url_expiry_errors!.met, true);
  assert.is(m.orphaned_recordings!.value, 1, 'recordings expired by retention are neither orphaned nor missing');
  assert.is(m.orphaned_recordings!.met, false);
  assert.is(m.average_recording_size!.value, 1024 * 1024);
  assert.is(m.average_recording_size!.met, true);
  assert.is(m.download_count!.value, 4);
  assert.is(m.download_count!.met, null);
  assert.is(m.failed_upload_retry_rate!.value, 0.003);
  assert.is(m.failed_upload_retry_rate!.met, true);
});
pure.run();

async function seed(store: EventStore) {
  for (const [stream, events] of seedEvents()) {
    const r = await store.append(stream, events, 'any');
    assert.ok(r.ok);
  }
}

for (const backend of await backends()) {
  const test = suite(`recording_metrics projection [${backend.name}]`);
  test('rows per org and day; a rebuild in other batch sizes gives the same rows', async () => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    try {
      await seed(store);
      const runner = createProjectionRunner({ database: t.database, store, projectors: [recordingMetricsProjector], instanceId: 'test', batchSize: 7 });
      await runner.catchUp();
      const db = t.database.db;
      const days = await dailyMetrics(db, { orgId: 'org-a' }, { from: '2026-05-01', to: '2026-05-31' });
      assert.equal(days.map((d) => d.day), ['2026-05-10', '2026-05-11']);
      assert.is(days[0]!.calls, 4);
      assert.is(days[0]!.bytes_uploaded, 1_000_002 + 1_000_004 + 2_000_001);
      const all = await dailyMetrics(db, { orgId: 'all' }, { from: '2026-05-10', to: '2026-05-10' });
      assert.is(all.length, 1);
      assert.is(all[0]!.calls, 7);
      const report = await metricsReport(db, { orgId: 'org-b' }, { from: '2026-05-10', to: '2026-05-11' });
      assert.is(report.orphans.pendingFromLastSweep, 1, 'org-b owns the orphan the sweep could not delete');
      assert.is(report.totals.calls, 4);

      const before = [await tableChecksum(db, 'recording_metrics_daily'), await tableChecksum(db, 'recording_metrics_sweeps')];
      assert.ok(before[0]!.rows >= 4);
      await rebuildProjection(db, store, recordingMetricsProjector, { batchSize: 3 });
      const after = [await tableChecksum(db, 'recording_metrics_daily'), await tableChecksum(db, 'recording_metrics_sweeps')];
      assert.equal(after, before);
      // Applying nothing new changes nothing; re-delivering the log to a fresh checkpoint would double count,
      // which the checkpoint's compare-and-set prevents: catchUp again is a no-op.
      await runner.catchUp();
      assert.equal([await tableChecksum(db, 'recording_metrics_daily'), await tableChecksum(db, 'recording_metrics_sweeps')], before);
    } finally {
      await store.close();
      await t.close();
    }
  });
  test.run();
}
