import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import type { Role } from '../../src/auth/roles.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { allProjectors } from '../../src/projections/all.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { backends, type TestDb } from '../support/databases.ts';
import { callLog, fakeClock, freshDataDir, history, report, settle, startOn, withDb } from '../pipeline/support.ts';

/**
 * The proof of erasure, on the real service over HTTP (PGlite and PostgreSQL, local storage, a fake Vapi):
 * a call with transcript, summary, caller number and an uploaded recording, downloaded once, held, released,
 * then erased by an admin. Afterwards neither the database (pg_dump on PostgreSQL, every row of every table of
 * the schema on PGlite) nor the storage directory holds any fragment of it; its signed URL is dead; the API and
 * the history say erased, by whom, when and why; a second erasure changes nothing; Vapi was asked to delete its
 * copy and a failure there was retried; a rebuild gives the same read models. A legacy event (plaintext, written
 * through the raw store) is tombstoned in place.
 */
const test = suite('erasure, proof');

const JWT_SECRET = 'erasure-test-jwt-secret-0123456789abcdef';
const VAPI_KEY = 'vapi-erasure-test-key';
const run = promisify(execFile);

/** Everything the database holds, as text. */
async function databaseText(db: TestDb): Promise<string> {
  if (db.url) {
    const { stdout } = await run('/usr/bin/pg_dump', ['--no-owner', db.url], { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  }
  const d = db.database;
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${d.schema} and table_type = 'BASE TABLE'`.execute(d.db);
  assert.ok(tables.rows.length >= 10, 'the schema has its tables');
  const out: string[] = [];
  for (const t of tables.rows) {
    const rows = await sql<{ row: string }>`select t::text as row from ${sql.id(d.schema, t.name)} t`.execute(d.db);
    out.push(`-- ${t.name}`, ...rows.rows.map((r) => r.row));
  }
  return out.join('\n');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as any).path, e.name));
}

function assertNoFragment(text: string, fragments: Record<string, string>, where: string) {
  const lower = text.toLowerCase();
  for (const [name, f] of Object.entries(fragments)) assert.not.ok(lower.includes(f.toLowerCase()), `${where} still holds the ${name} (${f})`);
}

for (const backend of await backends()) {
  test(`[${backend.name}] an erased call leaves nothing of its personal data in the database or storage; the audit stays`, async () => {
    const rec = await startRecordingServer();
    const vapi = await startFakeVapiApi({ apiKey: VAPI_KEY });
    try {
      await withDb(backend, async (db) => {
        const dataDir = freshDataDir();
        const clock = fakeClock(new Date().toISOString());
        const s = await startOn(db, { DATA_DIR: dataDir, AUTH_JWT_SECRET: JWT_SECRET, VAPI_API_URL: vapi.url, VAPI_API_KEY: VAPI_KEY }, { background: false, clock: clock.now });
        const token = (role: Role, userId = `${role}-1`, orgId = 'default') => signToken({ secret: JWT_SECRET, orgId, userId, role, now: clock.now() });
        const api = async (method: string, path: string, tok: string, body?: unknown, headers: Record<string, string> = {}) => {
          const res = await fetch(s.url + path, {
            method,
            headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
            body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
          });
          const text = await res.text();
          let json: any = text;
          try {
            json = JSON.parse(text);
          } catch {}
          return { status: res.status, body: json };
        };
        try {
          const admin = await token('admin');
          const member = await token('member');
          const auditor = await token('auditor');

          // 1. A call with personal data and a recording the pipeline uploads (Vapi API mode: the payload URL is the "source").
          const tag = randomBytes(5).toString('hex');
          const secrets = {
            transcript: `zqtranscript${tag}`,
            summary: `zqsummary${tag}`,
            'caller number': `1555${String(parseInt(tag.slice(0, 6), 16) % 10_000_000).padStart(7, '0')}`,
            'recording source URL': `/rec/zqsource${tag}.wav`,
            'user agent': `zqagent${tag}`,
          };
          const { body, callId } = report(`${rec.url}${secrets['recording source URL']}?seconds=3`);
          body.message.artifact.transcript = `AI: Harbor Dental, Riley speaking.\nUser: my code word is ${secrets.transcript}.`;
          body.message.analysis.summary = `The caller said ${secrets.summary}.`;
          body.message.customer.number = `+${secrets['caller number']}`;
          body.message.call.customer.number = `+${secrets['caller number']}`;
          vapi.recordings.set(callId, `${rec.url}/rec/private${tag}.wav?seconds=3&rate=11025`);
          assert.is((await s.post('/webhooks/vapi', body)).status, 200);
          await settle(s);
          const uploaded = (await callLog(s, callId))!;
          assert.is(uploaded.recording_status, 'uploaded');
          assert.ok(uploaded.customer_number?.startsWith('pii1:'), 'the read model holds the number sealed');
          const audio = await readFile(join(dataDir, 'recordings', ...uploaded.recording_storage_path!.split('/')));
          assert.ok(audio.length > 40_000, 'a real recording was stored');

          // 2. Downloaded once (an audited access with IP and user agent).
          const dl = await api('GET', `/api/calls/${callId}/recording`, member, undefined, { 'user-agent': `ErasureTest/1.0 ${secrets['user agent']}` });
          assert.is(dl.status, 200);
          const signedUrl: string = dl.body.url;
          const fetched = await fetch(signedUrl);
          assert.is(fetched.status, 200);
          assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(audio), 'the signed URL serves the recording');

          // 3. Bad requests change nothing: who may erase, and what the body must say.
          const noBody = await api('DELETE', `/api/calls/${callId}`, admin);
          assert.is(noBody.status, 400);
          assert.is(noBody.body.error.code, 'invalid_body');
          assert.match(noBody.body.error.message, /body\.reason/);
          const emptyReason = await api('DELETE', `/api/calls/${callId}`, admin, { reason: '   ' });
          assert.is(emptyReason.status, 400);
          assert.match(emptyReason.body.error.message, /body\.reason/);
          assert.is((await api('DELETE', `/api/calls/${callId}`, admin, '{"reason":')).body.error.code, 'invalid_json');
          assert.is((await api('DELETE', `/api/calls/${callId}`, member, { reason: 'x' })).status, 403);
          assert.is((await api('DELETE', `/api/calls/${callId}`, auditor, { reason: 'x' })).status, 403);
          const otherOrg = await api('DELETE', `/api/calls/${callId}`, await token('admin', 'admin-9', 'org-other'), { reason: 'x' });
          assert.is(otherOrg.status, 404);
          assert.is((await api('POST', `/api/calls/${callId}/hold`, await token('admin', 'admin-9', 'org-other'), { reason: 'x' })).status, 404);
          assert.is((await api('DELETE', `/api/calls/no-such-call`, admin, { reason: 'x' })).status, 404);

          // 4. A held call cannot be erased until it is released.
          assert.is((await api('DELETE', `/api/calls/${callId}/hold`, admin, { reason: 'nothing to release' })).body.error.code, 'call_not_held');
          assert.is((await api('POST', `/api/calls/${callId}/hold`, admin, {})).status, 400);
          const held = await api('POST', `/api/calls/${callId}/hold`, admin, { reason: 'billing dispute 7' });
          assert.is(held.status, 200);
          assert.equal([held.body.held, held.body.heldBy, held.body.reason], [true, 'user:admin-1', 'billing dispute 7']);
          const refused = await api('DELETE', `/api/calls/${callId}`, admin, { reason: 'caller asked' });
          assert.is(refused.status, 409);
          assert.is(refused.body.error.code, 'call_held');
          assert.match(refused.body.error.message, /billing dispute 7/);
          await s.runner.catchUp();
          assert.is((await callLog(s, callId))!.hold_reason, 'billing dispute 7');
          const released = await api('DELETE', `/api/calls/${callId}/hold`, admin, { reason: 'dispute settled' });
          assert.is(released.status, 200);
          assert.is(released.body.held, false);
          assert.not.ok((await history(s, callId)).some((e) => e.type === 'CallErased'), 'nothing was erased so far');

          // 5. Erased by an admin; Vapi fails three times (one attempt with its client retries), then the process retries.
          vapi.failNext(3, 503, { method: 'DELETE' });
          const erased = await api('DELETE', `/api/calls/${callId}`, admin, { reason: 'caller asked under art. 17' });
          assert.is(erased.status, 200, JSON.stringify(erased.body));
          assert.equal(
            [erased.body.erased, erased.body.completed, erased.body.erasedBy, erased.body.reason, erased.body.alreadyErased, erased.body.objectsDeleted],
            [true, true, 'user:admin-1', 'caller asked under art. 17', false, 1],
          );
          await s.runner.catchUp();
          assert.is(await s.erasure.tick(), 1);
          const deletes = () => vapi.requests.filter((r) => r.method === 'DELETE' && r.path === `/call/${callId}/data`);
          assert.is(deletes().length, 3);
          assert.is(vapi.deletedCallData.length, 0);
          const failed = (await history(s, callId)).find((e) => e.type === 'VapiCallDataDeleteFailed');
          assert.ok(failed, 'the failure is recorded');
          assert.equal([(failed!.data as any).code, (failed!.data as any).status, (failed!.data as any).retryable], ['server_error', 503, true]);
          await s.runner.catchUp();
          assert.is(await s.erasure.tick(), 0, 'not due before its retry time');
          clock.advanceMinutes(5);
          await s.runner.catchUp();
          assert.is(await s.erasure.tick(), 1);
          assert.equal(vapi.deletedCallData, [callId]);
          assert.is((await api('DELETE', `/api/calls/${callId}`, admin, { reason: 'status?' })).body.vapi, 'deleted');
          assert.is(deletes().length, 4);
          await s.runner.catchUp();

          // 6. The API and the history say erased: by whom, when, why; the personal fields read [erased].
          const detail = await api('GET', `/api/calls/${callId}`, member);
          assert.is(detail.status, 200);
          assert.equal([detail.body.call.transcript, detail.body.call.summary, detail.body.call.customer_number], ['[erased]', '[erased]', '[erased]']);
          assert.is(detail.body.recording.status, 'erased');
          assert.is(detail.body.call.duration_seconds, uploaded.duration_seconds, 'non-personal facts stay');
          const row = (await callLog(s, callId))!;
          assert.equal([row.erased_by, row.erase_reason, row.recording_signed_url, row.recording_source_url], ['user:admin-1', 'caller asked under art. 17', null, null]);
          assert.ok(row.erased_at);
          const rec2 = await api('GET', `/api/calls/${callId}/recording`, member);
          assert.is(rec2.status, 200);
          assert.equal([rec2.body.transcriptOnly, rec2.body.reason, rec2.body.url, rec2.body.transcript], [true, 'erased', undefined, '[erased]']);
          const hist = await api('GET', `/api/calls/${callId}/history`, auditor);
          assert.is(hist.status, 200);
          const byType = (t: string) => hist.body.events.filter((e: any) => e.type === t);
          assert.is(byType('CallErased').length, 1);
          const erasure = byType('CallErased')[0];
          assert.equal([erasure.metadata.actor, erasure.data.reason], ['user:admin-1', 'caller asked under art. 17']);
          assert.is(erasure.metadata.recordedAt, erased.body.erasedAt);
          const endedEvent = byType('CallEnded')[0];
          for (const f of ['transcript', 'summary', 'customerNumber', 'recordingUrl']) assert.is(endedEvent.data[f], '[erased]', `CallEnded.${f}`);
          const access = byType('RecordingAccessed')[0];
          assert.equal([access.data.ip, access.data.userAgent, access.data.userId], ['[erased]', '[erased]', 'member-1']);
          assert.is(byType('ErasureCompleted').length, 1);
          assert.is(byType('ErasureCompleted')[0].data.objectsDeleted, 1);
          assert.equal([byType('CallHeld')[0].data.reason, byType('CallReleased')[0].data.reason], ['billing dispute 7', 'dispute settled']);
          assert.is(byType('VapiCallDataDeleted').length, 1);

          // 7. The recording is gone: its signed URL is dead, no object of the call, no file with its audio.
          assert.ok([403, 404].includes((await fetch(signedUrl)).status), 'the old signed URL answers 404/403');
          const files = await filesUnder(join(dataDir, 'recordings'));
          assert.not.ok(files.some((f) => f.includes(callId)), 'no object of the call');
          const middle = audio.subarray(audio.length / 2, audio.length / 2 + 4096);
          for (const f of await filesUnder(dataDir)) assert.not.ok((await readFile(f)).includes(middle), `${f} holds the audio`);

          // 8. The database: keys destroyed, download rows keep who and when only.
          const keys = await s.database.db.selectFrom('call_keys').select(['purpose', 'wrapped_key']).where('call_id', '=', callId).orderBy('purpose').execute();
          assert.equal(keys.map((k) => [k.purpose, k.wrapped_key]), [['call', null], ['transcript', null]]);
          const downloads = await sql<{ user_id: string; ip: string | null; user_agent: string | null }>`select user_id, ip, user_agent from ${sql.table('recording_downloads')} where call_id = ${callId}`.execute(s.database.db);
          assert.equal(downloads.rows, [{ user_id: 'member-1', ip: null, user_agent: null }]);

          // 9. Idempotent: a second erasure answers the same outcome and writes nothing.
          const again = await api('DELETE', `/api/calls/${callId}`, admin, { reason: 'asked twice' });
          assert.is(again.status, 200);
          assert.equal([again.body.erasedAt, again.body.erasedBy, again.body.reason, again.body.completed, again.body.alreadyErased], [erased.body.erasedAt, 'user:admin-1', 'caller asked under art. 17', true, true]);
          assert.is((await history(s, callId)).filter((e) => e.type === 'CallErased').length, 1);
          assert.is((await api('POST', `/api/calls/${callId}/hold`, admin, { reason: 'too late' })).body.error.code, 'call_erased');

          // 10. Legacy: an event written through the raw store before encryption, in plaintext, is tombstoned in place.
          const legacyId = `legacy-${randomUUID()}`;
          const legacy = { transcript: `zqlegacytranscript${tag}`, summary: `zqlegacysummary${tag}`, number: `+1666${tag.slice(0, 6).replace(/\D/g, '7').padEnd(7, '7')}` };
          const raw = createPostgresEventStore(s.database);
          const appended = await raw.append(`call-${legacyId}`, [{
            eventId: randomUUID(),
            type: 'CallEnded',
            data: {
              callId: legacyId, orgId: 'default', vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: null, phoneNumberId: null, customerNumber: legacy.number,
              startedAt: null, endedAt: clock.now().toISOString(), durationSeconds: 12, endedReason: 'customer-ended-call', transcript: legacy.transcript,
              summary: legacy.summary, cost: 0.01, recordingUrl: null, stereoRecordingUrl: null, messageAt: null,
            },
            metadata: { correlationId: randomUUID(), causationId: null, orgId: 'default', recordedAt: clock.now().toISOString(), actor: 'vapi' },
          }], 'no_stream');
          assert.ok(appended.ok);
          await raw.close();
          await s.runner.catchUp();
          const legacyErased = await api('DELETE', `/api/calls/${legacyId}`, admin, { reason: 'legacy call' });
          assert.is(legacyErased.status, 200);
          assert.ok(legacyErased.body.eventsRewritten >= 1 || legacyErased.body.keysDestroyed >= 1);
          const stored = await sql<{ data: any }>`select data from ${sql.table('events')} where stream_id = ${`call-${legacyId}`} and type = 'CallEnded'`.execute(s.database.db);
          const data = typeof stored.rows[0]!.data === 'string' ? JSON.parse(stored.rows[0]!.data) : stored.rows[0]!.data;
          assert.equal([data.transcript, data.summary, data.customerNumber], ['[erased]', '[erased]', '[erased]']);
          assert.equal([data.durationSeconds, data.cost], [12, 0.01], 'non-personal fields are kept');

          // 11. A rebuild from zero gives the same read models.
          await s.runner.catchUp();
          const checksums = async () => {
            const out: Record<string, string> = {};
            for (const p of allProjectors(s.keyring)) for (const t of p.tables) out[t] = (await tableChecksum(s.database.db, t)).md5;
            return out;
          };
          const before = await checksums();
          for (const p of allProjectors(s.keyring)) await rebuildProjection(s.database.db, s.store, p);
          assert.equal(await checksums(), before);

          // 12. Nothing personal is left anywhere in the database.
          const text = await databaseText(db);
          assert.ok(text.includes(callId) && text.includes('caller asked under art. 17'), 'the dump holds the call and its audit');
          assertNoFragment(text, { ...secrets, 'legacy transcript': legacy.transcript, 'legacy summary': legacy.summary, 'legacy number': legacy.number.slice(1) }, db.url ? 'pg_dump' : 'the database');
        } finally {
          await s.stop();
        }
      });
    } finally {
      await vapi.close();
      await rec.close();
    }
  });
}

test.run();
