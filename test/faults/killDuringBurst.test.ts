import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signToken } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import { eventually } from '../support/eventually.ts';
import { freePort, startCallrecProcess, type CallrecProcess } from '../support/processes.ts';

// kill -9 of a real callrec process while webhooks arrive and recordings are being uploaded. After a
// restart (and Vapi's redelivery of what was not acknowledged) every accepted webhook is an event, every
// call reaches a terminal recording state, and nothing is duplicated: one object and one upload per call.
const N = 40;
/** The process is killed once this many webhooks have been acknowledged (the rest are still arriving). */
const K = N / 2;

for (const backend of await backends()) {
  const test = suite(`kill -9 during a burst of webhooks and uploads [${backend.name}]`);

  test('nothing lost, nothing duplicated', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'callrec-kill-'));
    const url = backend.name === 'postgres' ? await createTestDatabase() : undefined;
    const rec = await startRecordingServer();
    const env: Record<string, string> = {
      DATA_DIR: dir,
      ...(url ? { DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY } : {}),
      RECORDING_ALLOWED_HOSTS: '127.0.0.1',
      RECORDING_ALLOWED_ADDRESSES: '127.0.0.1',
      RECORDING_CONCURRENCY: '6',
      LEASE_TTL_MS: '1000',
      UPLOAD_RETRY_POLL_SECONDS: '1',
    };
    const calls = Array.from({ length: N }, () => randomUUID());
    // Slow recordings (about a second each) so uploads are in flight when the process dies.
    const bodies = calls.map((id, i) => {
      const b = withRecordingUrl(loadVapiFixture('end-of-call-report.current'), `${rec.url}/rec/${id}.wav?seconds=3&paceBytes=8192&paceMs=${20 + (i % 5) * 5}`);
      b.message.call.id = id;
      return JSON.stringify(b);
    });
    let proc: CallrecProcess | undefined;
    let database: Database | undefined;
    try {
      proc = await startCallrecProcess(env, await freePort());
      const accepted = new Set<string>();
      const send = async (p: CallrecProcess, i: number) => {
        try {
          const res = await fetch(`${p.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i] });
          if (res.status === 200) accepted.add(calls[i]!);
        } catch {
          // connection died with the process: not acknowledged, so Vapi redelivers it
        }
      };
      const first = proc;
      const burst = calls.map(async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 40));
        await send(first, i);
      });
      await eventually(() => `${K} acknowledged webhooks (have ${accepted.size})`, () => accepted.size >= K, { timeoutMs: 30_000, intervalMs: 2 });
      await first.kill9();
      await Promise.all(burst);
      assert.ok(accepted.size > 0 && accepted.size < N, `some but not all webhooks were acknowledged before the kill (${accepted.size})`);

      proc = await startCallrecProcess(env, await freePort());
      // Vapi redelivers what was not acknowledged — and, to be hard on idempotency, everything again.
      await Promise.all(calls.map((_, i) => send(proc!, i)));
      assert.is(accepted.size, N);

      // Wait until the API (org-scoped, through the projection) shows every call uploaded.
      const token = await signToken({ secret: DEV_JWT_SECRET, orgId: 'default', userId: 'fault-test', role: 'admin' });
      let uploaded = 0;
      await eventually(() => `${N} uploaded calls (have ${uploaded})`, async () => {
        const r = await fetch(`${proc!.url}/api/calls?recording_status=uploaded&limit=200`, { headers: { authorization: `Bearer ${token}` } });
        if (r.ok) uploaded = ((await r.json()) as { data: unknown[] }).data.length;
        return uploaded === N;
      }, { timeoutMs: 120_000, intervalMs: 500 });
      assert.is(uploaded, N, 'every call reached the uploaded state');
      await proc.stop();
      proc = undefined;
      database ??= await connectDatabase(url ? { databaseUrl: url, poolSize: 2 } : { pgliteDir: path.join(dir, 'pg') });
      const store = createPostgresEventStore(database);
      try {
        let objects = 0;
        for (const id of calls) {
          const events = await store.readStream(`call-${id}`);
          const types = events.map((e) => e.type);
          assert.is(types.filter((t) => t === 'CallEnded').length, 1, `${id}: one CallEnded`);
          assert.is(types.filter((t) => t === 'RecordingUploaded').length, 1, `${id}: one upload (${types.join(', ')})`);
          assert.is(types.filter((t) => t === 'UrlSigned').length, 1, `${id}: one signed URL`);
          const up = events.find((e) => e.type === 'RecordingUploaded')!.data as { storagePath: string; sha256: string };
          const bytes = await readFile(path.join(dir, 'recordings', up.storagePath));
          assert.is(createHash('sha256').update(bytes).digest('hex'), up.sha256);
          objects++;
        }
        assert.is(objects, N);
        const ids = await database.db.selectFrom('events').select('event_id').execute();
        assert.is(new Set(ids.map((r) => r.event_id)).size, ids.length, 'no event twice');
      } finally {
        await store.close();
      }
    } finally {
      await proc?.kill9().catch(() => {});
      await database?.close();
      await rec.close();
      if (url) await dropTestDatabase(url);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
