import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { seedCall } from '../sweep/support.ts';
import { runCli } from '../support/cli.ts';

/** `callrec erase` as a user runs it: `node bin/callrec.js` on a temp DATA_DIR (embedded database, local storage). */
const test = suite('callrec erase');

const exists = (p: string) => stat(p).then(() => true, () => false);

test('refuses bad arguments, erases with --yes (actor cli:<user>), shows it in history, is idempotent, honours holds', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-erase-'));
  try {
    const env = { DATA_DIR: dataDir, RECORDING_SIGNING_SECRET: 'cli-erase-signing-secret-0123456', USER: 'ops-anna' };
    const at = new Date('2026-03-04T10:00:00.000Z');
    const objectPath = 'org-e/2026/03/04/placeholder.wav';
    // The calls, in the embedded database the CLI will open (closed again before it runs).
    const database = await connectDatabase({ pgliteDir: path.join(dataDir, 'pg') });
    let callId: string;
    let heldId: string;
    try {
      await migrate(database);
      const store = createPostgresEventStore(database);
      callId = await seedCall(store, 'org-e', at, objectPath);
      heldId = await seedCall(store, 'org-e', at);
      const r = await store.append(`call-${heldId}`, [{
        eventId: randomUUID(),
        type: 'CallHeld',
        data: { callId: heldId, orgId: 'org-e', reason: 'litigation 12' },
        metadata: { correlationId: randomUUID(), causationId: null, orgId: 'org-e', recordedAt: at.toISOString(), actor: 'user:legal' },
      }], 'any');
      assert.ok(r.ok);
      await store.close();
    } finally {
      await database.close();
    }
    // Its recording object, at the path its RecordingUploaded names, and a derived file of the same call beside it.
    const file = path.join(dataDir, 'recordings', ...objectPath.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.alloc(4096, 3));
    const derived = path.join(path.dirname(file), `${callId}.mp3`);
    await writeFile(derived, Buffer.alloc(1024, 4));
    const other = path.join(path.dirname(file), 'call-someone-else.wav');
    await writeFile(other, Buffer.alloc(1024, 5));

    const noReason = await runCli(['erase', callId, '--yes'], env);
    assert.is(noReason.code, 2, noReason.stderr);
    assert.match(noReason.stderr, /--reason is required/);
    const blank = await runCli(['erase', callId, '--yes', '--reason', '   '], env);
    assert.is(blank.code, 2);
    assert.match(blank.stderr, /--reason: give a non-empty reason/);
    const noTty = await runCli(['erase', callId, '--reason', 'caller asked'], env);
    assert.is(noTty.code, 2);
    assert.match(noTty.stderr, /no terminal to confirm on: pass --yes/);
    const badId = await runCli(['erase', "x'y", '--yes', '--reason', 'r'], env);
    assert.is(badId.code, 2);
    assert.match(badId.stderr, /call id .* is not valid/);
    assert.ok(await exists(file), 'nothing was erased by refused commands');

    const unknown = await runCli(['erase', 'no-such-call', '--yes', '--reason', 'r'], env);
    assert.is(unknown.code, 1);
    assert.match(unknown.stderr, /no call no-such-call/);
    const held = await runCli(['erase', heldId, '--yes', '--reason', 'caller asked'], env);
    assert.is(held.code, 1);
    assert.match(held.stderr, /legal hold \(litigation 12, by user:legal/);

    const erased = await runCli(['erase', callId, '--yes', '--reason', 'caller asked under art. 17'], env);
    assert.is(erased.code, 0, erased.stderr);
    assert.match(erased.stdout, new RegExp(`call ${callId} erased: .* by cli:ops-anna \\(reason: caller asked under art\\. 17\\)`));
    assert.match(erased.stdout, /done: \d+ key\(s\) destroyed, \d+ event\(s\) rewritten, 2 recording object\(s\) deleted/);
    assert.match(erased.stdout, /Vapi's copy: not asked \(VAPI_API_KEY is not set\)/);
    assert.not.ok(await exists(file), 'the recording object is deleted');
    assert.not.ok(await exists(derived), 'the derived file of the call is deleted');
    assert.ok(await exists(other), "another call's object is kept");

    const hist = await runCli(['history', callId], env);
    assert.is(hist.code, 0, hist.stderr);
    assert.match(hist.stdout, /CallErased\n {4}actor cli:ops-anna/);
    assert.match(hist.stdout, /"reason":"caller asked under art\. 17"/);
    assert.match(hist.stdout, /"transcript":"\[erased\]"/);
    assert.match(hist.stdout, /ErasureCompleted/);

    const again = await runCli(['erase', callId, '--yes', '--reason', 'asked twice', '--json'], env);
    assert.is(again.code, 0, again.stderr);
    const outcome = JSON.parse(again.stdout);
    assert.equal([outcome.alreadyErased, outcome.completed, outcome.reason, outcome.erasedBy], [true, true, 'caller asked under art. 17', 'cli:ops-anna']);
    const events = JSON.parse((await runCli(['history', callId, '--json'], env)).stdout) as Array<{ type: string }>;
    assert.is(events.filter((e) => e.type === 'CallErased').length, 1);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
