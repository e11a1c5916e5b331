import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { openSse, sseData } from '../api/support.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { transactionPooler } from '../support/pgbouncer.ts';
import { eventually } from '../support/eventually.ts';
import { callLog, freshDataDir, report, startOn } from './support.ts';

// The whole path through a transaction-mode pooler (PgBouncer; Supabase's port 6543 behaves alike), with
// DATABASE_POOLER=transaction: no LISTEN, so instances learn of each other's appends by polling. Instance A
// serves HTTP only (webhook, SSE); instance B runs projections and the recording pipeline. A dashboard on A
// hears recording_ready for the recording B stored.

const JWT = 'pooler-test-jwt-secret-0123456789abcdef';
const postgres = (await backends()).some((b) => b.name === 'postgres');
const pooler = postgres ? await transactionPooler() : undefined;

if (pooler) {
  const test = suite('webhook → stored recording → SSE through a transaction-mode pooler');
  test('two instances, polling only: the dashboard on the HTTP instance hears recording_ready', async () => {
    const direct = await createTestDatabase();
    const rec = await startRecordingServer();
    const open = async () => {
      const database = await connectDatabase({ databaseUrl: pooler.urlFor(direct), pooler: 'transaction', poolSize: 8 });
      return { database, close: () => database.close() };
    };
    const dbA = await open();
    const dbB = await open();
    const env = { AUTH_JWT_SECRET: JWT, DATA_DIR: freshDataDir(), DATABASE_POOLER: 'transaction' };
    let a: Awaited<ReturnType<typeof startOn>> | undefined;
    let b: Awaited<ReturnType<typeof startOn>> | undefined;
    try {
      assert.is(dbA.database.wakeups, 'poll');
      a = await startOn(dbA, { ...env, BACKGROUND_WORK: 'false' }, { background: false });
      b = await startOn(dbB, env);
      const token = await signToken({ secret: JWT, orgId: 'default', userId: 'u1', role: 'member' });
      const sse = await openSse(`${a.url}/api/events`, { authorization: `Bearer ${token}` });
      try {
        assert.is(sse.status, 200);
        const { body, callId } = report(`${rec.url}/rec/pooled.wav?seconds=5`);
        const res = await a.post('/webhooks/vapi', body);
        assert.is(res.status, 200);
        const [ready] = await sse.waitFor((e) => e.event === 'recording_ready' && sseData(e).callId === callId, 1, 20_000);
        assert.ok(ready);
        const row = await eventually('uploaded row', async () => {
          const r = await callLog(b!, callId);
          return r?.recording_status === 'uploaded' ? r : undefined;
        });
        assert.ok(row.recording_storage_path);
        const url = await fetch(`${a.url}/api/calls/${callId}/recording`, { headers: { authorization: `Bearer ${token}` } });
        assert.is(url.status, 200);
        const signed = (await url.json()) as { url: string };
        assert.is((await fetch(signed.url)).status, 200);
      } finally {
        sse.close();
      }
    } finally {
      await a?.stop();
      await b?.stop();
      await dbA.close();
      await dbB.close();
      await rec.close();
      await dropTestDatabase(direct);
    }
  });
  test.run();
}

process.once('beforeExit', () => void pooler?.stop());
