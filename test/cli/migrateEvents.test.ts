import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createEventStoreDbStore } from '../../src/events/eventstoredb/store.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createEncryptingEventStore } from '../../src/privacy/encryptingStore.ts';
import { createKeyring } from '../../src/privacy/keyring.ts';
import { loadMasterKey } from '../../src/privacy/masterKey.ts';
import { silentLogger } from '../../src/log.ts';
import { startService } from '../../src/service.ts';
import { startFakeEventStoreDb } from '../fakes/esdbServer/index.ts';
import { listVapiFixtures, loadVapiFixture } from '../fixtures/vapi/index.ts';
import { runCli } from '../support/cli.ts';

const test = suite('callrec migrate-events');

const callrec = (env: Record<string, string>, ...args: string[]) => runCli(args, env);

test('copies the embedded log to EventStoreDB with its ids and order; a re-run copies nothing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'callrec-migrate-'));
  const esdb = await startFakeEventStoreDb();
  try {
    const service = await startService(loadConfig({ DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), { logger: silentLogger, background: false });
    const names = listVapiFixtures().filter((n) => n.startsWith('end-of-call-report') || n.startsWith('status-update'));
    for (const n of names) {
      const res = await fetch(`${service.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(loadVapiFixture(n)) });
      assert.is(res.status, 200);
    }
    const source = [];
    for (let after = 0; ; ) {
      const page = await service.store.readAll({ after, limit: 100 });
      source.push(...page);
      if (page.length < 100) break;
      after = page.at(-1)!.position;
    }
    await service.stop();

    const env = { DATA_DIR: dir, EVENTSTORE_URL: esdb.url };
    const first = await callrec(env, 'migrate-events', '--from', 'postgres', '--to', 'eventstore');
    assert.is(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`${source.length} events copied, 0 already there`));
    const again = await callrec(env, 'migrate-events', '--from', 'postgres', '--to', 'eventstore');
    assert.match(again.stdout, new RegExp(`0 events copied, ${source.length} already there`));

    // The copy holds the personal fields sealed, exactly as the embedded log stores them (never decrypted on the
    // way), and reads back as plaintext through the privacy wrapper with the keys of the embedded database.
    const target = createEventStoreDbStore({ connectionString: esdb.url });
    const database = await openDatabase(loadConfig(env));
    try {
      const copied = await target.readAll({ after: 0, limit: 1000 });
      assert.equal(copied.map((e) => e.eventId), source.map((e) => e.eventId));
      assert.equal(copied.map((e) => [e.streamId, e.revision, e.type]), source.map((e) => [e.streamId, e.revision, e.type]));
      const stored = await createPostgresEventStore(database).readAll({ after: 0, limit: 1000 });
      assert.equal(copied.map((e) => e.data), stored.map((e) => e.data), 'the copy is the sealed log, byte for byte');
      const transcripts = copied.filter((e) => e.type === 'CallEnded').map((e) => (e.data as { transcript: string | null }).transcript);
      assert.ok(transcripts.some((t) => t !== null) && transcripts.every((t) => t === null || t.startsWith('pii1:')), 'transcripts are sealed in EventStoreDB');
      const keyring = createKeyring(database, await loadMasterKey(loadConfig(env)));
      const opened = await createEncryptingEventStore(target, keyring).readAll({ after: 0, limit: 1000 });
      assert.equal(opened.map((e) => e.data), source.map((e) => e.data), 'read through the wrapper: the plaintext the service saw');
    } finally {
      await target.close();
      await database.close();
    }

    const same = await callrec(env, 'migrate-events', '--from', 'postgres', '--to', 'postgres');
    assert.is(same.code, 2);
    const bad = await callrec(env, 'migrate-events', '--from', 'mysql', '--to', 'eventstore');
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /--from must be postgres or eventstore/);
    const noUrl = await callrec({ DATA_DIR: dir }, 'migrate-events', '--from', 'postgres', '--to', 'eventstore');
    assert.is(noUrl.code, 2);
    assert.match(noUrl.stderr, /EVENTSTORE_URL/);
  } finally {
    await esdb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
