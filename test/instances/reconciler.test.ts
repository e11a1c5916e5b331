import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTLE_MS } from '../../src/commands/reconcile.ts';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { makeFakeCall } from '../fakes/vapiCalls.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import { freePort, startCallrecProcess, type CallrecProcess } from '../support/processes.ts';

// Real callrec processes on one PostgreSQL, a fake Vapi API serving GET /call and the recordings.
const test = suite('the reconciler across restarts and instances');
const postgres = (await backends()).some((b) => b.name === 'postgres');
const API_KEY = 'vapi-private-key-instances';

async function runs(db: Database) {
  const rows = await db.db.selectFrom('events').select(['data', 'metadata']).where('type', '=', 'ReconciliationCompleted').orderBy('position').execute();
  return rows.map((r) => ({ data: r.data as { listed: number; recovered: number; failed: number; complete: boolean }, instance: (r.metadata as { instanceId?: string }).instanceId }));
}

async function until<T>(what: string, fn: () => Promise<T | false | undefined>, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (postgres) {
  test('service down while 50 calls end → started again → all 50 in call_logs with their recordings within one interval', async () => {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 4 });
    const vapi = await startFakeVapiApi({ apiKey: API_KEY });
    const rec = await startRecordingServer();
    const interval = 20;
    const env = {
      DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY, DATA_DIR: mkdtempSync(join(tmpdir(), 'callrec-reconcile-')), INSTANCE_ID: 'solo', LEASE_TTL_MS: '1500',
      VAPI_API_KEY: API_KEY, VAPI_API_URL: vapi.url, RECONCILE_INTERVAL_SECONDS: String(interval),
      RECORDING_ALLOWED_HOSTS: '127.0.0.1', RECORDING_ALLOWED_ADDRESSES: '127.0.0.1',
    };
    let p: CallrecProcess | undefined;
    try {
      p = await startCallrecProcess(env, await freePort());
      await until('a first run', async () => (await runs(database)).length >= 1, 15_000);
      await p.stop();

      // while callrec is down, 50 calls end; their webhooks find nobody
      const calls = Array.from({ length: 50 }, (_, i) => makeFakeCall({ createdAt: new Date(Date.now() - SETTLE_MS - 120_000 + i * 100), recordingUrl: `${rec.url}/rec/down-${i}.wav?seconds=1` }));
      // (their Call objects have been quiet for longer than the reconciler's settle time: SETTLE_MS)
      for (const c of calls) {
        c.updatedAt = new Date(Date.now() - SETTLE_MS - 1000).toISOString();
        vapi.calls.set(c.id, c);
        vapi.recordings.set(c.id, `${rec.url}/rec/down-${c.id}.wav?seconds=1`);
      }

      const t0 = Date.now();
      p = await startCallrecProcess(env, await freePort());
      const uploaded = async () => {
        const rows = await database.db.selectFrom('call_logs').select(['id', 'recording_status']).where('id', 'in', calls.map((c) => c.id)).execute();
        return rows.length === 50 && rows.every((r) => r.recording_status === 'uploaded');
      };
      await until('all 50 calls stored with their recordings', uploaded, interval * 1000);
      const elapsed = Date.now() - t0;
      console.log(`  recovery after an outage: 50 calls in call_logs with recordings ${elapsed} ms after the restart (interval ${interval} s)`);
      const all = await runs(database);
      assert.is(all.reduce((n, r) => n + r.data.recovered, 0), 50);
      assert.ok(all.every((r) => r.data.failed === 0 && r.data.complete));
      // /api/metrics and Prometheus count them as recovered
      const prom = await (await fetch(`${p.url}/metrics`)).text();
      assert.match(prom, /callrec_calls_recovered_total 50/);
      // and a warning per recovered call
      assert.is((p.output().match(/"errorCode":"webhook_missed"/g) ?? []).length, 50);
    } finally {
      await p?.stop();
      await vapi.close();
      await rec.close();
      await database.close();
      await dropTestDatabase(url);
    }
  });

  test('two instances → one reconciler; after kill -9 the other takes over', async () => {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 4 });
    const vapi = await startFakeVapiApi({ apiKey: API_KEY });
    const env = {
      DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY, DATA_DIR: `/tmp/callrec-reconcile-inst-${process.pid}`, LEASE_TTL_MS: '1500',
      VAPI_API_KEY: API_KEY, VAPI_API_URL: vapi.url, RECONCILE_INTERVAL_SECONDS: '1',
    };
    const procs: CallrecProcess[] = [];
    try {
      procs.push(await startCallrecProcess({ ...env, INSTANCE_ID: 'rec-a' }, await freePort()));
      procs.push(await startCallrecProcess({ ...env, INSTANCE_ID: 'rec-b' }, await freePort()));
      for (let i = 0; i < 20; i++) {
        const c = makeFakeCall();
        vapi.calls.set(c.id, c);
      }
      const recovered = async () => (await runs(database)).reduce((n, r) => n + r.data.recovered, 0);
      await until('the 20 calls recovered', async () => (await recovered()) >= 20, 20_000);
      const n0 = (await runs(database)).length;
      await until('two more runs', async () => (await runs(database)).length >= n0 + 2, 20_000);
      const seen = await runs(database);
      const leaders = new Set(seen.map((r) => r.instance));
      assert.is(leaders.size, 1, `runs by ${[...leaders].join(', ')}`);
      assert.is(seen.reduce((n, r) => n + r.data.recovered, 0), 20);

      const [leaderId] = [...leaders];
      const leader = leaderId === 'rec-a' ? procs[0]! : procs[1]!;
      const other = leaderId === 'rec-a' ? 'rec-b' : 'rec-a';
      await leader.kill9();
      const before = seen.length;
      const late = makeFakeCall({ createdAt: new Date(Date.now() - SETTLE_MS - 60_000) });
      late.updatedAt = new Date(Date.now() - SETTLE_MS - 1000).toISOString();
      vapi.calls.set(late.id, late);
      await until('the other instance reconciles', async () => (await runs(database)).slice(before).some((r) => r.instance === other && r.data.recovered === 1), 20_000);
      const n = await database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).where('type', '=', 'CallEnded').executeTakeFirstOrThrow();
      assert.is(Number(n.n), 21);
    } finally {
      for (const p of procs) await p.stop();
      await vapi.close();
      await database.close();
      await dropTestDatabase(url);
    }
  });
}

test.run();
