import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createEncryptingEventStore } from '../../src/privacy/encryptingStore.ts';
import { createCallLogsProjector } from '../../src/projections/callLogs/projector.ts';
import { testKeyring } from '../support/keyring.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { createProjectionRunner } from '../../src/projections/runner.ts';
import { signToken } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET } from '../../src/config.ts';
import { openSse, sseData } from '../api/support.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import { freePort, startCallrecProcess, type CallrecProcess } from '../support/processes.ts';
import { eventually } from '../support/eventually.ts';

// Several instances share one PostgreSQL (the embedded database belongs to one process, so PGlite has no
// variant here). Real processes, started by the test, killed with SIGKILL.
const test = suite('two callrec instances on one PostgreSQL');
const postgres = (await backends()).some((b) => b.name === 'postgres');

function report(callId: string) {
  const body = loadVapiFixture('end-of-call-report.no-recording');
  body.message.call.id = callId;
  return JSON.stringify(body);
}

async function post(p: CallrecProcess, callId: string) {
  const res = await fetch(`${p.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: report(callId) });
  assert.is(res.status, 200);
}

if (postgres) {
  test('each projector runs on one instance; SSE on either hears both; after kill -9 the other takes over within the lease bound', async () => {
    const url = await createTestDatabase();
    const database = await connectDatabase({ databaseUrl: url, poolSize: 4 });
    const env = { DATABASE_URL: url, PII_MASTER_KEY: TEST_PII_MASTER_KEY, LEASE_TTL_MS: '1500', DATA_DIR: `/tmp/callrec-inst-${process.pid}` };
    const procs: CallrecProcess[] = [];
    try {
      procs.push(await startCallrecProcess({ ...env, INSTANCE_ID: 'instance-a' }, await freePort()));
      procs.push(await startCallrecProcess({ ...env, INSTANCE_ID: 'instance-b' }, await freePort()));
      const [a, b] = procs as [CallrecProcess, CallrecProcess];
      await Promise.all(Array.from({ length: 40 }, (_, i) => post(i % 2 ? a : b, `inst-call-${i}`)));

      const count = async () => Number((await database.db.selectFrom('call_logs').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
      let rows = 0;
      const waitFor = (n: number, ms: number) =>
        eventually(() => `${n} rows in call_logs (has ${rows})`, async () => (rows = await count()) >= n, { timeoutMs: ms, intervalMs: 50 });
      await waitFor(40, 15_000);

      // SSE: a dashboard connected to one instance hears about calls that arrive at the other.
      const token = await signToken({ secret: DEV_JWT_SECRET, orgId: 'default', userId: 'sse-user' });
      const sse = await openSse(`${b.url}/api/events?access_token=${encodeURIComponent(token)}`);
      try {
        assert.is(sse.status, 200);
        await Promise.all(Array.from({ length: 5 }, (_, i) => post(a, `inst-sse-${i}`)));
        const got = await sse.waitFor((e) => e.event === 'call_ended', 5, 10_000);
        assert.equal(new Set(got.map((e) => sseData(e).callId)), new Set(Array.from({ length: 5 }, (_, i) => `inst-sse-${i}`)));
      } finally {
        sse.close();
      }
      await waitFor(45, 15_000);

      const leases = await database.db.selectFrom('leases').selectAll().execute();
      const projection = leases.find((l) => l.name === 'projection:call_logs');
      assert.ok(projection, 'the call_logs lease is held');
      assert.ok(['instance-a', 'instance-b'].includes(projection!.owner));
      for (const l of leases) assert.is(leases.filter((x) => x.name === l.name).length, 1);

      // Kill the instance running the projection; the survivor keeps accepting webhooks and takes over.
      const owner = projection!.owner === 'instance-a' ? a : b;
      const survivor = owner === a ? b : a;
      await owner.kill9();
      const killedAt = Date.now();
      await Promise.all(Array.from({ length: 20 }, (_, i) => post(survivor, `inst-after-${i}`)));
      await waitFor(65, 15_000);
      const failoverMs = Date.now() - killedAt;
      console.log(`    failover: call_logs caught up ${failoverMs} ms after kill -9 (lease ${env.LEASE_TTL_MS} ms)`);
      assert.ok(failoverMs < 1500 + 5000, `failover took ${failoverMs} ms`);
      const after = await database.db.selectFrom('leases').selectAll().where('name', '=', 'projection:call_logs').executeTakeFirstOrThrow();
      assert.is(after.owner, survivor === a ? 'instance-a' : 'instance-b');

      // Exactly-once effect: the live table, caught up with the log (the instances' pipelines appended
      // transcript-only fallbacks after the rows appeared), equals a rebuild from the log.
      await survivor.stop();
      const keyring = testKeyring(database);
      // The log as the instances read it: sealed personal fields opened with the same keys.
      const store = createEncryptingEventStore(createPostgresEventStore(database), keyring);
      const callLogsProjector = createCallLogsProjector(keyring);
      await createProjectionRunner({ database, store, projectors: [callLogsProjector], instanceId: 'verifier' }).catchUp();
      const live = await tableChecksum(database.db, 'call_logs');
      await rebuildProjection(database.db, store, callLogsProjector);
      assert.equal(await tableChecksum(database.db, 'call_logs'), live);
      assert.is(live.rows, 65);
      await store.close();
    } finally {
      for (const p of procs) await p.kill9().catch(() => {});
      await database.close();
      await dropTestDatabase(url);
    }
  });
}

test.run();
