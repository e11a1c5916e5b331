import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { startService } from '../../src/service.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { runCli } from '../support/cli.ts';


const test = suite('callrec CLI (history, replay, orgs, migrate)');

const callrec = (env: Record<string, string>, ...args: string[]) => runCli(args, env);

test('an auditor reads a call’s history in order, as text and JSON; replay prints checksums', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-'));
  const env = { DATA_DIR: dir };
  try {
    const service = await startService(loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), { logger: silentLogger, background: false });
    const ringing = loadVapiFixture('status-update.ringing');
    const report = loadVapiFixture('end-of-call-report.current');
    const callId = report.message.call.id;
    for (const body of [ringing, report]) {
      const res = await fetch(`${service.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.is(res.status, 200);
    }
    // While the service holds the embedded database, the CLI refuses to open it, and says why.
    const busy = await callrec(env, 'history', callId);
    assert.is(busy.code, 1);
    assert.match(busy.stderr, /in use by process/);
    await service.stop();

    const text = await callrec(env, 'history', callId);
    assert.is(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`history of call ${callId}: 2 event`));
    assert.ok(text.stdout.indexOf('CallStatusChanged') < text.stdout.indexOf('CallEnded'));
    assert.match(text.stdout, /#1 +rev 0/);
    assert.match(text.stdout, /actor vapi/);
    assert.match(text.stdout, /correlation /);

    const json = await callrec(env, 'history', callId, '--json');
    const events = JSON.parse(json.stdout) as Array<{ type: string; position: number; metadata: { actor: string; correlationId: string } }>;
    assert.equal(events.map((e) => e.type), ['CallStatusChanged', 'CallEnded']);
    assert.equal(events.map((e) => e.position), [1, 2]);
    // Personal fields are opened (the log holds them sealed); the recording's source URL is withheld.
    const ended = events[1] as unknown as { data: { transcript: string; recordingUrl: string; stereoRecordingUrl: string } };
    assert.is(ended.data.transcript, report.message.artifact.transcript);
    assert.equal([ended.data.recordingUrl, ended.data.stereoRecordingUrl], ['[withheld]', '[withheld]']);
    for (const out of [json.stdout, text.stdout]) {
      assert.not.match(out, /storage\.vapi\.ai|pii1:/, 'no source URL, no ciphertext');
      assert.not.ok(out.includes(report.message.artifact.recording.mono.combinedUrl.split('/').pop()!));
    }

    const bad = await callrec(env, 'history', '../etc');
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /call id/);
    const missing = await callrec(env, 'history');
    assert.is(missing.code, 2);

    const map = await callrec(env, 'orgs', 'map', '--assistant', 'asst-1', '--org', 'acme');
    assert.is(map.code, 0, map.stderr);
    assert.match((await callrec(env, 'orgs', 'list')).stdout, /assistant +asst-1 +acme/);
    assert.is((await callrec(env, 'orgs', 'map', '--assistant', 'x', '--org', 'bad org!')).code, 1);
    assert.is((await callrec(env, 'orgs', 'map', '--org', 'acme')).code, 2);

    const r1 = await callrec(env, 'replay');
    const r2 = await callrec(env, 'replay', '--projection', 'call_logs');
    assert.is(r1.code, 0, r1.stderr);
    const sum = (s: string) => s.match(/checksum call_logs: ([0-9a-f]{32}) \((\d+) rows\)/)!;
    assert.is(sum(r1.stdout)[1], sum(r2.stdout)[1]);
    assert.is(sum(r1.stdout)[2], '1');
    assert.is((await callrec(env, 'replay', '--projection', 'nope')).code, 2);

    assert.match((await callrec(env, 'migrate')).stdout, /up to date/);
    const badEnv = await callrec({ ...env, RECORDING_URL_EXPIRY_SECONDS: 'soon' }, 'migrate');
    assert.is(badEnv.code, 2);
    assert.match(badEnv.stderr, /RECORDING_URL_EXPIRY_SECONDS/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
