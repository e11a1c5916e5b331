import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { deterministicEventId } from '../../src/events/ids.ts';
import type { NewEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { allProjectors } from '../../src/projections/all.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { createProjectionRunner } from '../../src/projections/runner.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { testKeyring } from '../support/keyring.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import type { CallKeysTable } from '../../src/privacy/keyring.ts';

/**
 * Replay: every read model (call_logs, recording_downloads, …) rebuilt from zero gives the same checksum as
 * the live projection, rebuilding twice gives the same again, `callrec replay` prints it, and PGlite and
 * PostgreSQL agree on every table.
 */

const T0 = Date.parse('2026-06-01T09:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

/** A fixed log: calls of two orgs with uploads, signed URLs, downloads, refreshes, failures. Same ids, same times. */
function fixedLog(): Array<[string, NewEvent[]]> {
  const out: Array<[string, NewEvent[]]> = [];
  let n = 0;
  const ev = (callId: string, orgId: string, type: string, data: Record<string, unknown>, actor = 'system:pipeline'): NewEvent => ({
    eventId: deterministicEventId('replay-test', callId, type, n++),
    type,
    data: { callId, ...data },
    metadata: { correlationId: `corr-${n}`, causationId: null, orgId, recordedAt: at(n), actor },
  });
  for (let i = 0; i < 24; i++) {
    const orgId = i % 3 === 0 ? 'org-two' : 'org-one';
    const callId = `replay-call-${i}`;
    const events: NewEvent[] = [
      ev(callId, orgId, 'CallStatusChanged', { orgId, status: 'in-progress', at: at(n), endedReason: null }, 'vapi'),
      ev(callId, orgId, 'CallEnded', {
        orgId, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: `asst-${i % 4}`, phoneNumberId: null, customerNumber: '+15550100',
        startedAt: at(n - 60), endedAt: at(n), durationSeconds: 60 + i, endedReason: i % 5 ? 'customer-ended-call' : 'silence-timed-out',
        transcript: `AI: call number ${i}`, summary: `summary ${i}`, cost: 0.01 * i, recordingUrl: i % 4 ? `https://storage.vapi.ai/${i}.wav` : null,
        stereoRecordingUrl: null, messageAt: at(n),
      }, 'vapi'),
    ];
    if (i % 4 === 1) {
      events.push(ev(callId, orgId, 'UploadFailed', { attempt: 1, step: 'fetch', code: 'fetch_timeout', message: 'timed out', retryable: true, status: null }));
      events.push(ev(callId, orgId, 'UploadRetryScheduled', { attempt: 2, dueAt: at(n + 300), delayMinutes: 5 }));
    }
    if (i % 4 !== 0 && i % 7 !== 3) {
      const storagePath = `${orgId}/2026/06/01/${callId}.wav`;
      events.push(ev(callId, orgId, 'RecordingUploaded', {
        attempt: 1, storagePath, bytes: 1000 + i, sha256: 'a'.repeat(64), format: 'wav', codec: 'pcm_s16le', contentType: 'audio/wav',
        durationSeconds: 60 + i, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
      }));
      events.push(ev(callId, orgId, 'UrlSigned', { storagePath, url: `https://example.test/r/${i}?sig=x`, expiresAt: at(n + 3600), by: 'system:pipeline' }));
      for (let d = 0; d < (i % 3) + 1; d++) {
        events.push(ev(callId, orgId, 'RecordingAccessed', { userId: `user-${d}`, action: 'download', ip: `10.0.0.${d}`, userAgent: 'test-agent' }, `user:user-${d}`));
      }
      if (i % 2) {
        events.push(ev(callId, orgId, 'UrlSigned', { storagePath, url: `https://example.test/r/${i}?sig=y`, expiresAt: at(n + 3600), by: 'user:user-9' }, 'user:user-9'));
        events.push(ev(callId, orgId, 'RecordingAccessed', { userId: 'user-9', action: 'refresh', ip: null, userAgent: null }, 'user:user-9'));
      }
    } else if (i % 7 === 3) {
      events.push(ev(callId, orgId, 'UploadAbandoned', { attempts: 4, code: 'fetch_timeout', reason: 'gave up' }));
    }
    out.push([`call-${callId}`, events]);
  }
  return out;
}

type Sums = Record<string, string>;

async function checksums(database: Database): Promise<Sums> {
  const out: Sums = {};
  for (const p of allProjectors(testKeyring(database))) for (const t of p.tables) {
    const c = await tableChecksum(database.db, t);
    out[t] = `${c.md5} (${c.rows} rows)`;
  }
  return out;
}

function cliReplay(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'replay'], { env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const parseCliSums = (out: string): Sums => Object.fromEntries([...out.matchAll(/checksum (\S+): ([0-9a-f]{32} \(\d+ rows\))/g)].map((m) => [m[1]!, m[2]!]));

const results: Record<string, Sums> = {};
/**
 * The data keys of the first backend's calls, given to the second: personal columns are sealed with a random key
 * per call, so the two backends agree byte for byte only when their calls have the same keys.
 */
let sharedKeys: CallKeysTable[] | undefined;
const test = suite('replay checksums');

for (const backend of await backends()) {
  test(`[${backend.name}] live projection = rebuild = rebuild again = callrec replay`, async () => {
    let dir: string | undefined;
    let url: string | undefined;
    let database: Database | undefined;
    try {
      if (backend.name === 'pglite') {
        dir = await mkdtemp(path.join(tmpdir(), 'callrec-replay-'));
        database = await connectDatabase({ pgliteDir: path.join(dir, 'pg') });
      } else {
        url = await createTestDatabase();
        database = await connectDatabase({ databaseUrl: url, poolSize: 5 });
      }
      await migrate(database);
      const store = createPostgresEventStore(database);
      for (const [stream, events] of fixedLog()) {
        const r = await store.append(stream, events, 'no_stream');
        assert.ok(r.ok);
      }
      if (sharedKeys) await database.db.insertInto('call_keys').values(sharedKeys).execute();
      const keyring = testKeyring(database);
      await createProjectionRunner({ database, store, projectors: allProjectors(keyring), instanceId: 'replay-test' }).catchUp();
      sharedKeys ??= await database.db.selectFrom('call_keys').selectAll().execute();
      assert.ok(sharedKeys.length > 0, 'the projection made the calls\' keys');
      const live = await checksums(database);
      assert.ok(live.recording_downloads && !live.recording_downloads.endsWith('(0 rows)'), 'recording_downloads has rows');
      assert.ok(live.call_logs!.endsWith('(24 rows)'));
      for (const round of [1, 2]) {
        for (const p of allProjectors(keyring)) await rebuildProjection(database.db, store, p);
        assert.equal(await checksums(database), live, `rebuild ${round}`);
      }
      await store.close();
      await database.close();
      database = undefined;
      const cli = await cliReplay({ PII_MASTER_KEY: TEST_PII_MASTER_KEY, ...(dir ? { DATA_DIR: dir } : { DATABASE_URL: url! }) });
      assert.is(cli.code, 0, cli.out);
      assert.equal(parseCliSums(cli.out), live, cli.out);
      results[backend.name] = live;
    } finally {
      await database?.close().catch(() => {});
      if (dir) await rm(dir, { recursive: true, force: true });
      if (url) await dropTestDatabase(url);
    }
  });
}

// Without PostgreSQL there is nothing to compare: backends() has said so loudly (and fails under CI=true).
if ((await backends()).length === 2) {
  test('PGlite and PostgreSQL agree on every table', () => {
    assert.equal(Object.keys(results).sort(), ['pglite', 'postgres']);
    assert.equal(results.pglite, results.postgres);
  });
}

test.run();
