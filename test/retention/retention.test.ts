import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setRetentionPolicy } from '../../src/commands/retention.ts';
import { ERASED, SEALED_PREFIX } from '../../src/privacy/crypto.ts';
import { createRetentionProcess, runRetention, type RetentionOptions } from '../../src/processes/retention.ts';
import { fail } from '../../src/storage/port.ts';
import { startApi, type ApiHarness } from '../api/support.ts';
import { backends } from '../support/databases.ts';

/**
 * Retention through the real service (HTTP webhooks in, local storage, the service's own retention process)
 * on a clock the test moves, on PGlite and PostgreSQL.
 */

const DAY = 86_400_000;
const ENV = { RETENTION_RECORDING_DAYS: '90', RETENTION_TRANSCRIPT_DAYS: '365' };

type Harness = ApiHarness;

const daysAgo = (h: Harness, d: number) => new Date(h.clock.now().getTime() - d * DAY).toISOString();

async function recordedCall(h: Harness, orgId: string, endedDaysAgo: number, label: string) {
  const callId = await h.endCall(orgId, { endedAt: daysAgo(h, endedDaysAgo), transcript: `AI: secret words of ${label}`, summary: `summary of ${label}` });
  const { storagePath } = await h.uploadRecording(callId, orgId);
  return { callId, storagePath, orgId };
}

const exists = async (h: Harness, p: string) => {
  const r = await h.storage.stat(p);
  if (!r.ok) throw new Error(r.error.message);
  return r.value !== null;
};

async function eventsOf(h: Harness, callId: string, type: string) {
  return (await h.service.store.readStream(`call-${callId}`)).filter((e) => e.type === type);
}

/** The result of a run that was expected to happen (not skipped for the lease or today's run). */
function ran<T>(r: T | 'skipped'): T {
  if (r === 'skipped') throw new Error('the run was skipped');
  return r;
}

function optionsOf(h: Harness): RetentionOptions {
  const s = h.service;
  return {
    database: s.database,
    store: s.store,
    storage: s.storage,
    keyring: s.keyring,
    defaults: { recordingDays: 90, transcriptDays: 365 },
    fallbackOrgId: s.config.DEFAULT_ORG_ID,
    clock: h.clock.now,
    beforeRun: () => s.runner.catchUp(),
  };
}

for (const backend of await backends()) {
  const test = suite(`retention [${backend.name}]`);

  test('recordings past their date are deleted once; held calls are kept; an org override wins over the default both ways', async () => {
    const h = await startApi(backend, ENV);
    try {
      const now = h.clock.now();
      await setRetentionPolicy(h.service.store, 'org-short', { recordingDays: 30 }, 'cli:test', now);
      await setRetentionPolicy(h.service.store, 'org-long', { recordingDays: 365 }, 'cli:test', now);
      const short40 = await recordedCall(h, 'org-short', 40, 'short40'); // 30-day override: expires
      const short20 = await recordedCall(h, 'org-short', 20, 'short20'); // kept
      const long100 = await recordedCall(h, 'org-long', 100, 'long100'); // 365-day override beats the 90-day default: kept
      const dflt100 = await recordedCall(h, 'org-dflt', 100, 'dflt100'); // default 90: expires
      const dflt80 = await recordedCall(h, 'org-dflt', 80, 'dflt80'); // kept
      const held = await recordedCall(h, 'org-dflt', 200, 'held'); // past its date but held
      await h.append(held.callId, 'org-dflt', [{ type: 'CallHeld', data: { callId: held.callId, orgId: 'org-dflt', reason: 'dispute' }, actor: 'user:admin-1' }]);
      // A call whose recording was stored twice (a WAV, then the MP3 converted from it): both objects go.
      const twice = await recordedCall(h, 'org-dflt', 120, 'twice');
      const mp3 = `org-dflt/2026/05/12/${twice.callId}.mp3`;
      const file = join(await mkdtemp(join(tmpdir(), 'callrec-retention-')), `${twice.callId}.tmp`);
      await writeFile(file, Buffer.alloc(100, 1));
      assert.ok((await h.storage.put(mp3, file, { contentType: 'audio/mpeg' })).ok);
      await rm(file);
      await h.append(twice.callId, 'org-dflt', [
        {
          type: 'RecordingUploaded',
          data: {
            callId: twice.callId, attempt: 2, storagePath: mp3, bytes: 100, sha256: 'b'.repeat(64), format: 'mp3', codec: 'mp3', contentType: 'audio/mpeg',
            durationSeconds: 12.5, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: 4096, compressionRatio: 40.96,
          },
        },
      ]);
      await h.settle();

      const r = ran(await h.service.retention.tick());
      assert.equal(r.recordings.map((x) => x.callId).sort(), [short40.callId, dflt100.callId, twice.callId].sort());
      assert.equal(r.failed, []);
      assert.is(r.recordings.find((x) => x.callId === short40.callId)!.policyDays, 30);
      assert.is(r.recordings.find((x) => x.callId === dflt100.callId)!.policyDays, 90);
      for (const gone of [short40.storagePath, dflt100.storagePath, twice.storagePath, mp3]) assert.not.ok(await exists(h, gone), `${gone} deleted`);
      for (const kept of [short20, long100, dflt80, held]) assert.ok(await exists(h, kept.storagePath), `${kept.storagePath} kept`);

      const expired = await eventsOf(h, short40.callId, 'RecordingExpired');
      assert.is(expired.length, 1);
      assert.equal(expired[0]!.data, { callId: short40.callId, orgId: 'org-short', storagePath: short40.storagePath, policyDays: 30 });
      assert.is(expired[0]!.metadata.actor, 'system:retention');
      assert.equal((await eventsOf(h, twice.callId, 'RecordingExpired'))[0]!.metadata.removedPaths, [mp3, twice.storagePath]);
      assert.is((await eventsOf(h, held.callId, 'RecordingExpired')).length, 0, 'a held call is not expired');

      // The read side: "expired", not "missing"; no URL to hand out.
      await h.settle();
      const admin = await h.token('org-dflt', 'admin-1', 'admin');
      const call = await h.get(`/api/calls/${dflt100.callId}`, admin);
      assert.is(call.status, 200);
      assert.is(call.body.call.recording_status, 'expired');
      assert.is(call.body.call.recording_missing, false);
      assert.is(call.body.recording.available, false);
      const expiredRow = await h.service.database.db.selectFrom('call_logs').select(['recording_expired_at', 'recording_storage_path']).where('id', '=', dflt100.callId).executeTakeFirstOrThrow();
      assert.ok(expiredRow.recording_expired_at);
      assert.is(expiredRow.recording_storage_path, null);
      const rec = await h.get(`/api/calls/${dflt100.callId}/recording`, admin);
      assert.equal([rec.body.transcriptOnly, rec.body.reason, rec.body.url], [true, 'expired', undefined], 'no recording URL for an expired recording');

      // The orphan sweep does not take an expired recording for a missing one.
      const sweep = ran(await h.service.sweep.tick());
      assert.is(sweep.missingFlagged, 0);
      await h.settle();
      assert.is((await eventsOf(h, dflt100.callId, 'RecordingMissing')).length, 0);

      // Metrics: expired apart from missing, in the API and in Prometheus.
      const metrics = await h.get('/api/metrics', admin);
      assert.is(metrics.status, 200, JSON.stringify(metrics.body));
      assert.is(metrics.body.totals.recordingsExpired, 2);
      assert.is(metrics.body.totals.missingFlagged, 0);
      assert.is(metrics.body.orphans.expiredRecordings, 2);
      assert.is(metrics.body.orphans.missingFlagged, 0);
      assert.is(metrics.body.metrics.find((m: { name: string }) => m.name === 'orphaned_recordings').value, 0);
      const prom = await (await fetch(`${h.service.url}/metrics`)).text();
      assert.match(prom, /^callrec_recordings_expired_total 3$/m);

      // Again: today's run is done; and a run forced on the next day finds nothing more to do.
      assert.is(await h.service.retention.tick(), 'skipped');
      const before = await h.service.store.headPosition();
      h.clock.advance(DAY);
      const again = ran(await h.service.retention.tick());
      assert.equal([again.recordings.length, again.transcripts.length, again.failed.length], [0, 0, 0]);
      const written = await h.service.store.readAll({ after: before, limit: 100 });
      assert.equal(written.map((e) => e.type), ['RetentionCompleted'], 'the second run wrote only its summary');
      assert.is((await eventsOf(h, short40.callId, 'RecordingExpired')).length, 1);

      // Released: the next run expires it.
      await h.append(held.callId, 'org-dflt', [{ type: 'CallReleased', data: { callId: held.callId, orgId: 'org-dflt', reason: 'settled' }, actor: 'user:admin-1' }]);
      h.clock.advance(DAY);
      const released = ran(await h.service.retention.tick());
      assert.equal(released.recordings.map((x) => x.callId), [held.callId]);
      assert.not.ok(await exists(h, held.storagePath));
    } finally {
      await h.close();
    }
  });

  test('an expired transcript is shredded: key destroyed, plaintext tombstoned, read model cleared; a held one is kept', async () => {
    const h = await startApi(backend, ENV);
    try {
      const old = await h.endCall('org-t', { endedAt: daysAgo(h, 400), transcript: 'AI: the words of the old call', summary: 'the summary of the old call' });
      const young = await h.endCall('org-t', { endedAt: daysAgo(h, 300), transcript: 'AI: the words of the young call', summary: 'young summary' });
      const held = await h.endCall('org-t', { endedAt: daysAgo(h, 500), transcript: 'AI: the words of the held call', summary: 'held summary' });
      await h.append(held, 'org-t', [{ type: 'CallHeld', data: { callId: held, orgId: 'org-t', reason: 'litigation' }, actor: 'user:admin-1' }]);
      await h.service.keyring.ensure(held, 'org-t', 'transcript');
      await h.settle();

      const r = ran(await h.service.retention.tick());
      assert.equal(r.transcripts.map((t) => t.callId), [old]);
      assert.equal(r.recordings, []);
      assert.is((await h.service.keyring.get(old, 'transcript')).state, 'destroyed');
      assert.is((await h.service.keyring.get(held, 'transcript')).state, 'live', 'a held call keeps its key');

      const ended = (await eventsOf(h, old, 'CallEnded'))[0]!.data as { transcript: string; summary: string; customerNumber: unknown };
      for (const v of [ended.transcript, ended.summary]) assert.ok(v === ERASED || v.startsWith(SEALED_PREFIX), `transcript/summary no longer readable in the log (got ${v})`);
      const leaks = await sql<{ n: string }>`select count(*) as n from ${sql.table('events')} where data::text like ${'%the words of the old call%'} or data::text like ${'%the summary of the old call%'}`.execute(h.service.database.db);
      assert.is(Number(leaks.rows[0]!.n), 0, 'no plaintext of the expired transcript is left in the log');
      const heldEnded = (await eventsOf(h, held, 'CallEnded'))[0]!.data as { transcript: string };
      assert.not.equal(heldEnded.transcript, ERASED);
      const expired = await eventsOf(h, old, 'TranscriptExpired');
      assert.is(expired.length, 1);
      assert.equal(expired[0]!.data, { callId: old, orgId: 'org-t', policyDays: 365 });

      await h.settle();
      const auditor = await h.token('org-t', 'aud-1', 'auditor');
      const call = await h.get(`/api/calls/${old}`, auditor);
      assert.is(call.status, 200);
      assert.is(call.body.call.transcript, '[expired]');
      assert.is(call.body.call.summary, '[expired]');
      const row = await h.service.database.db.selectFrom('call_logs').select('transcript_expired_at').where('id', '=', old).executeTakeFirstOrThrow();
      assert.ok(row.transcript_expired_at);
      assert.is((await h.get(`/api/calls/${young}`, auditor)).body.call.transcript, 'AI: the words of the young call');
      const history = await h.get(`/api/calls/${old}/history`, auditor);
      const endedView = history.body.events.find((e: { type: string }) => e.type === 'CallEnded');
      assert.is(endedView.data.transcript, ERASED);
      assert.is(endedView.data.summary, ERASED);
      const search = await h.get(`/api/calls?q=${encodeURIComponent('words')}`, auditor);
      assert.equal(search.body.data.map((c: { id: string }) => c.id).sort(), [young, held].sort(), 'the search index forgot the expired text');

      h.clock.advance(DAY);
      const again = ran(await h.service.retention.tick());
      assert.is(again.transcripts.length, 0);
      assert.is((await eventsOf(h, old, 'TranscriptExpired')).length, 1);
    } finally {
      await h.close();
    }
  });

  test('a dry run lists what would expire and changes nothing', async () => {
    const h = await startApi(backend, ENV);
    try {
      const c = await recordedCall(h, 'org-d', 400, 'dry');
      await h.settle();
      const head = await h.service.store.headPosition();
      const r = await runRetention(optionsOf(h), { dryRun: true });
      assert.equal(r.recordings.map((x) => x.callId), [c.callId]);
      assert.equal(r.transcripts.map((x) => x.callId), [c.callId]);
      assert.is(await h.service.store.headPosition(), head, 'a dry run writes no event');
      assert.ok(await exists(h, c.storagePath));
      assert.is((await h.service.keyring.get(c.callId, 'transcript')).state, 'live', 'the transcript key is kept');
      const row = await h.service.database.db.selectFrom('call_logs').select(['recording_status', 'transcript']).where('id', '=', c.callId).executeTakeFirstOrThrow();
      assert.is(row.recording_status, 'uploaded');
      assert.ok(row.transcript?.startsWith(SEALED_PREFIX), 'the transcript is still there (sealed)');
      const auditor = await h.token('org-d', 'aud-1', 'auditor');
      assert.is((await h.get(`/api/calls/${c.callId}`, auditor)).body.call.transcript, 'AI: secret words of dry');
      // --org limits it to one org.
      assert.is((await runRetention(optionsOf(h), { dryRun: true, orgId: 'org-other' })).recordings.length, 0);
    } finally {
      await h.close();
    }
  });

  test('a storage failure is recorded, never swallowed, and the next run finishes it', async () => {
    const h = await startApi(backend, ENV);
    try {
      const c = await recordedCall(h, 'org-f', 100, 'flaky');
      await h.settle();
      const real = h.service.storage;
      const broken = { ...real, remove: async () => fail<{ removed: number }>('unavailable', 'storage is down') };
      const r = await runRetention({ ...optionsOf(h), storage: broken }, { dryRun: false });
      assert.equal(r.recordings, []);
      assert.equal(r.failed.map((f) => [f.callId, f.kind, f.code]), [[c.callId, 'recording', 'storage_unavailable']]);
      assert.ok(await exists(h, c.storagePath));
      assert.is((await eventsOf(h, c.callId, 'RecordingExpired')).length, 0, 'no event for a recording still in storage');
      const day = h.clock.now().toISOString().slice(0, 10);
      const summary = (await h.service.store.readStream(`expiry-${day}`)).filter((e) => e.type === 'RetentionCompleted');
      assert.is(summary.length, 1);
      assert.is((summary[0]!.data as { failed: number }).failed, 1);
      assert.equal(summary[0]!.metadata.failed, [{ callId: c.callId, orgId: 'org-f', kind: 'recording', code: 'storage_unavailable' }]);

      const r2 = await runRetention(optionsOf(h), { dryRun: false });
      assert.equal(r2.recordings.map((x) => x.callId), [c.callId]);
      assert.not.ok(await exists(h, c.storagePath));
      assert.is((await eventsOf(h, c.callId, 'RecordingExpired')).length, 1);
      assert.is(r2.runId, `${day}.2`);
    } finally {
      await h.close();
    }
  });

  test('the lease keeps two instances from both running it', async () => {
    const h = await startApi(backend, ENV);
    const procs: Array<ReturnType<typeof createRetentionProcess>> = [];
    try {
      const c = await recordedCall(h, 'org-l', 100, 'lease');
      await h.settle();
      const mk = (instanceId: string) => {
        const p = createRetentionProcess({ ...optionsOf(h), cron: '30 3 * * *', instanceId, leaseMs: 60_000 });
        procs.push(p);
        return p;
      };
      const a = mk('instance-a');
      const b = mk('instance-b');
      const results = await Promise.all([a.tick(), b.tick()]);
      assert.is(results.filter((x) => x === 'skipped').length, 1, 'exactly one instance ran');
      assert.is((await eventsOf(h, c.callId, 'RecordingExpired')).length, 1);
      assert.is(await b.tick(), 'skipped');
      assert.is(await a.tick(), 'skipped', 'and not twice a day');
      a.start();
      const next = a.nextRun();
      assert.ok(next && next.getUTCHours() === 3 && next.getUTCMinutes() === 30, 'RETENTION_CRON schedule, in UTC');
    } finally {
      for (const p of procs) await p.stop();
      await h.close();
    }
  });

  test.run();
}
