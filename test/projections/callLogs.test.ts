import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { decideCallEnded, decideStatusChanged } from '../../src/commands/callIngest.ts';
import type { EventStore, RecordedEvent } from '../../src/events/port.ts';
import type { Keyring } from '../../src/privacy/keyring.ts';
import type { Projector } from '../../src/projections/projector.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { evolveCallLog } from '../../src/projections/callLogs/evolve.ts';
import { createCallLogsProjector } from '../../src/projections/callLogs/projector.ts';
import { blindToken } from '../../src/privacy/crypto.ts';
import { testKeyring } from '../support/keyring.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { createProjectionRunner, type ProjectionRunner } from '../../src/projections/runner.ts';
import { EndOfCallReport, normaliseReport, normaliseStatus, StatusUpdate } from '../../src/vapi/messages.ts';
import { loadVapiFixture, listVapiFixtures } from '../fixtures/vapi/index.ts';
import { backends, type TestDb } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { meta } from '../support/events.ts';

const FIXED = new Date('2026-11-20T10:00:00.000Z');

/** Appends every fixture (reports and status updates) for `copies` distinct calls, deterministically. */
async function seed(store: EventStore, copies: number) {
  const names = listVapiFixtures().filter((n) => n.startsWith('end-of-call-report') || n.startsWith('status-update'));
  for (let i = 0; i < copies; i++) {
    for (const name of names) {
      const m = loadVapiFixture(name).message;
      const callId = `${m.call.id}-${i}`;
      const ctx = { orgId: i % 2 ? 'org-a' : 'org-b', correlationId: `seed-${i}`, now: FIXED };
      const d =
        m.type === 'end-of-call-report'
          ? decideCallEnded(normaliseReport(EndOfCallReport.parse(m), callId), ctx)
          : decideStatusChanged(normaliseStatus(StatusUpdate.parse(m), callId), ctx);
      const r = await store.append(d.streamId, [d.event]);
      assert.ok(r.ok);
    }
  }
}

// Every suite is queued before uvu starts running (an await between suites would start a second run, which
// prints the first suite's leftover entry as a stray line).
const BACKENDS = await backends();
test_pure();

function test_pure() {
  const test = suite('evolveCallLog (pure)');
  const ev = (type: string, data: object, position: number): RecordedEvent => ({
    eventId: `e${position}`, type, data, position, revision: position, streamId: 'call-x', storedAt: FIXED,
    metadata: { correlationId: 'c', causationId: null, orgId: 'org', recordedAt: FIXED.toISOString(), actor: 't' },
  });
  test('statuses only move forward; the report ends the call', () => {
    let r = evolveCallLog(undefined, ev('CallStatusChanged', { callId: 'x', orgId: 'org', status: 'in-progress', at: null, endedReason: null }, 1));
    assert.is(r!.status, 'in-progress');
    r = evolveCallLog(r, ev('CallStatusChanged', { callId: 'x', orgId: 'org', status: 'ringing', at: null, endedReason: null }, 2));
    assert.is(r!.status, 'in-progress');
    r = evolveCallLog(r, ev('CallStatusChanged', { callId: 'x', orgId: 'org', status: 'ended', at: null, endedReason: 'customer-ended-call' }, 3));
    assert.is(r!.status, 'ended');
    assert.is(r!.ended_reason, 'customer-ended-call');
    assert.is(r!.first_position, 1);
    assert.is(r!.last_position, 3);
  });
  test('pipeline outcomes set the recording state', () => {
    let r = evolveCallLog(undefined, ev('CallEnded', { callId: 'x', orgId: 'org', recordingUrl: 'https://x/y.wav', stereoRecordingUrl: null, endedAt: null, messageAt: null }, 1));
    assert.is(r!.recording_status, 'pending');
    r = evolveCallLog(r, ev('UploadFailed', { callId: 'x', attempt: 1, step: 'fetch', code: 'timeout', message: 'slow', retryable: true, status: null }, 2));
    assert.is(r!.recording_status, 'failed');
    r = evolveCallLog(r, ev('UploadRetryScheduled', { callId: 'x', attempt: 2, dueAt: '2026-11-20T10:05:00.000Z', delayMinutes: 5 }, 3));
    assert.is(r!.recording_status, 'retry_scheduled');
    assert.is(r!.recording_next_retry_at, '2026-11-20T10:05:00.000Z');
    r = evolveCallLog(r, ev('UploadAbandoned', { callId: 'x', attempts: 4, code: 'timeout', reason: 'gave up' }, 4));
    assert.is(r!.recording_status, 'abandoned');
    assert.is(r!.transcript_only_fallback, true);
    assert.is(evolveCallLog(undefined, ev('UrlSigned', { callId: 'nobody' }, 9)), undefined);
  });
  test.run();
}

/** The table's indexes, each as `name definition` (the definition without its name and schema), sorted. */
async function indexesOf(t: TestDb, table: string): Promise<string[]> {
  const r = await sql<{ ix: string }>`
    select c.relname || ' ' || substr(pg_get_indexdef(i.indexrelid), strpos(pg_get_indexdef(i.indexrelid), ' USING ')) as ix
      from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = ${`${t.database.schema}.${table}`}::regclass order by 1`.execute(t.database.db);
  return r.rows.map((x) => x.ix);
}

for (const backend of BACKENDS) {
  const test = suite(`call_logs projection [${backend.name}]`);

  /** A fresh database with the log, a keyring, the call_logs projector and one runner of it; closed after `fn`. */
  const withProjection = async (
    fn: (h: { t: TestDb; store: EventStore; keyring: Keyring; callLogsProjector: Projector; runner: ProjectionRunner }) => Promise<void>,
    runnerOpts: { batchSize?: number } = {},
  ) => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    const keyring = testKeyring(t.database);
    const callLogsProjector = createCallLogsProjector(keyring);
    const runner = createProjectionRunner({ database: t.database, store, projectors: [callLogsProjector], instanceId: 'test', ...runnerOpts });
    try {
      await fn({ t, store, keyring, callLogsProjector, runner });
    } finally {
      await runner.stop();
      await store.close();
      await t.close();
    }
  };

  test('live projection equals a rebuild from zero, and rebuilding twice gives the same checksum', () =>
    withProjection(async ({ t, store, keyring, callLogsProjector, runner }) => {
      await seed(store, 20);
      runner.start();
      const head = await store.headPosition();
      await eventually(`call_logs at ${head}`, async () => (await runner.positions()).call_logs >= head, { timeoutMs: 20_000, intervalMs: 50 });
      await runner.stop();
      const live = await tableChecksum(t.database.db, 'call_logs');
      assert.ok(live.rows > 0);
      const liveRows = await t.database.db.selectFrom('call_logs').selectAll().orderBy('id').execute();
      const liveIndexes = await indexesOf(t, 'call_logs');
      assert.ok(liveIndexes.some((i) => i.startsWith('call_logs_org_ended_idx ')), JSON.stringify(liveIndexes));
      const r1 = await rebuildProjection(t.database.db, store, callLogsProjector, { batchSize: 50 });
      assert.is(r1.position, head);
      const rebuilt = await tableChecksum(t.database.db, 'call_logs');
      assert.equal(rebuilt, live);
      assert.equal(await t.database.db.selectFrom('call_logs').selectAll().orderBy('id').execute(), liveRows);
      await rebuildProjection(t.database.db, store, callLogsProjector);
      assert.equal(await tableChecksum(t.database.db, 'call_logs'), live);
      // The swapped-in table has the live table's indexes under their names (migrations refer to them by name),
      // and stores sealed text and the search vector uncompressed as the live one did (migration 017).
      assert.equal(await indexesOf(t, 'call_logs'), liveIndexes);
      // It has planner statistics as it is swapped in (the rebuild analyses the copy first; autovacuum would come later).
      const stats = await sql<{ columns: number; tuples: number }>`
        select (select count(*) from pg_stats where schemaname = ${t.database.schema} and tablename = 'call_logs')::int as columns,
               (select reltuples from pg_class where oid = ${`${t.database.schema}.call_logs`}::regclass)::int as tuples`.execute(t.database.db);
      assert.ok(stats.rows[0]!.columns > 0, 'the swapped-in call_logs has no column statistics');
      assert.is(stats.rows[0]!.tuples, live.rows);
      const storage = await sql<{ attname: string; attstorage: string }>`
        select attname, attstorage from pg_attribute
         where attrelid = ${`${t.database.schema}.call_logs`}::regclass and attname in ('transcript', 'summary', 'search') order by attname`.execute(t.database.db);
      assert.equal(storage.rows.map((r) => `${r.attname}:${r.attstorage}`), ['search:e', 'summary:e', 'transcript:e']);
      // Indexes survive the swap: search still works through the GIN index's column (a blind index: tokens, not words).
      const hits = await t.database.db.selectFrom('call_logs').select('id').where(sql<boolean>`search @@ ${blindToken(keyring.searchKey, 'wednesday')}::tsquery`).execute();
      assert.ok(hits.length > 0);
    }, { batchSize: 37 }),
  );

  test('text with quotes, backslashes, newlines and non-ASCII reaches the row as it was in the event', () =>
    withProjection(async ({ t, store, runner }) => {
      const m = loadVapiFixture('end-of-call-report.no-recording').message;
      const d = decideCallEnded(normaliseReport(EndOfCallReport.parse(m), 'call-text'), { orgId: 'org-a', correlationId: 'text', now: FIXED });
      assert.ok((await store.append(d.streamId, [d.event])).ok);
      const message = 'storage said "no" \\ C:\\tmp\\x \u00e9t\u00e9 \u2713 \u{1F4DE}\nsecond line\ttab';
      const failed = { eventId: crypto.randomUUID(), type: 'UploadFailed', data: { callId: 'call-text', attempt: 1, step: 'fetch', code: 'http_500', message, retryable: true, status: 500 }, metadata: meta({ correlationId: 'text', orgId: 'org-a', recordedAt: FIXED.toISOString(), actor: 'system:pipeline' }) };
      assert.ok((await store.append(d.streamId, [failed])).ok);
      await runner.catchUp();
      const row = await t.database.db.selectFrom('call_logs').select(['recording_error', 'recording_error_code']).where('id', '=', 'call-text').executeTakeFirstOrThrow();
      assert.is(row.recording_error, `fetch: ${message}`);
      assert.is(row.recording_error_code, 'http_500');
    }),
  );

  test('a pipeline update keeps the stored transcript (its out-of-line chunks are not written again)', () =>
    withProjection(async ({ t, store, runner }) => {
      const m = loadVapiFixture('end-of-call-report.no-recording').message;
      m.artifact = { transcript: 'AI: Harbor Dental, how can I help?\nUser: I would like to move my cleaning.\n'.repeat(80) };
      const d = decideCallEnded(normaliseReport(EndOfCallReport.parse(m), 'call-toast'), { orgId: 'org-a', correlationId: 'toast', now: FIXED });
      assert.ok((await store.append(d.streamId, [d.event])).ok);
      await runner.catchUp();
      const toast = await sql<{ schema: string; name: string }>`
        select n.nspname as schema, c.relname as name
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.oid = (select reltoastrelid from pg_class where oid = ${`${t.database.schema}.call_logs`}::regclass)`.execute(t.database.db);
      const { schema, name } = toast.rows[0]!;
      const chunks = async () =>
        (await sql<{ id: string }>`select distinct chunk_id::text as id from ${sql.id(schema, name)} order by 1`.execute(t.database.db)).rows.map((r) => r.id);
      const before = await chunks();
      assert.ok(before.length > 0, 'the sealed transcript is stored out of line');
      const path = 'org-a/2026/11/20/call-toast.wav';
      const upload = { callId: 'call-toast', attempt: 1, storagePath: path, bytes: 4, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav', durationSeconds: 1, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null };
      const metadata = meta({ correlationId: 'toast', orgId: 'org-a', recordedAt: FIXED.toISOString(), actor: 'system:pipeline' });
      assert.ok((await store.append(d.streamId, [{ eventId: crypto.randomUUID(), type: 'RecordingUploaded', data: upload, metadata }])).ok);
      await runner.catchUp();
      const row = await t.database.db.selectFrom('call_logs').select(['recording_status', 'transcript']).where('id', '=', 'call-toast').executeTakeFirstOrThrow();
      assert.is(row.recording_status, 'uploaded');
      assert.ok(row.transcript);
      assert.equal(await chunks(), before);
    }),
  );

  test('a rebuild while new events arrive misses nothing', () =>
    withProjection(async ({ t, store, callLogsProjector, runner }) => {
      await seed(store, 5);
      runner.start();
      const more = seed(store, 8);
      await rebuildProjection(t.database.db, store, callLogsProjector, { batchSize: 20 });
      await more;
      const head = await store.headPosition();
      await eventually(`call_logs at ${head}`, async () => (await runner.positions()).call_logs >= head, { timeoutMs: 20_000, intervalMs: 50 });
      await runner.stop();
      const afterLive = await tableChecksum(t.database.db, 'call_logs');
      await rebuildProjection(t.database.db, store, callLogsProjector);
      assert.equal(await tableChecksum(t.database.db, 'call_logs'), afterLive);
    }),
  );

  test('a rebuild that fails in one lane rejects with its error and leaves the live table as it was', () =>
    withProjection(async ({ t, store, callLogsProjector, runner }) => {
      await seed(store, 10);
      await runner.catchUp();
      const live = await tableChecksum(t.database.db, 'call_logs');
      const checkpoint = (await runner.positions()).call_logs;
      let batches = 0;
      const failing = {
        ...callLogsProjector,
        async apply(...args: Parameters<typeof callLogsProjector.apply>) {
          if (++batches === 5) throw new Error('disk full in lane');
          return callLogsProjector.apply(...args);
        },
      };
      try {
        await rebuildProjection(t.database.db, store, failing, { batchSize: 10 });
        assert.unreachable('the rebuild went on past a failed batch');
      } catch (err) {
        assert.match((err as Error).message, /disk full in lane/);
      }
      assert.ok(batches >= 5);
      assert.equal(await tableChecksum(t.database.db, 'call_logs'), live);
      assert.is((await runner.positions()).call_logs, checkpoint);
      // The next rebuild starts over and completes.
      await rebuildProjection(t.database.db, store, callLogsProjector, { batchSize: 10 });
      assert.equal(await tableChecksum(t.database.db, 'call_logs'), live);
    }),
  );

  test('two runners on one database: each event applied exactly once', async () => {
    const t = await backend.open();
    const store = createPostgresEventStore(t.database);
    const keyring = testKeyring(t.database);
    const callLogsProjector = createCallLogsProjector(keyring);
    const a = createProjectionRunner({ database: t.database, store, projectors: [callLogsProjector], instanceId: 'a', leaseMs: 500 });
    const b = createProjectionRunner({ database: t.database, store, projectors: [callLogsProjector], instanceId: 'b', leaseMs: 500 });
    try {
      a.start();
      b.start();
      await seed(store, 6);
      const head = await store.headPosition();
      await eventually(`call_logs at ${head}`, async () => (await a.positions()).call_logs >= head, { timeoutMs: 20_000, intervalMs: 50 });
      await a.stop();
      await b.stop();
      const live = await tableChecksum(t.database.db, 'call_logs');
      await rebuildProjection(t.database.db, store, callLogsProjector);
      assert.equal(await tableChecksum(t.database.db, 'call_logs'), live);
    } finally {
      await a.stop();
      await b.stop();
      await store.close();
      await t.close();
    }
  });

  test.run();
}

export const checksumsForCrossBackend = { seed, FIXED };
