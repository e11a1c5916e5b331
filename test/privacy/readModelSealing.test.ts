import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { startApi, type ApiHarness } from '../api/support.ts';
import { backends } from '../support/databases.ts';
import { allProjectors } from '../../src/projections/all.ts';
import { rebuildProjection, tableChecksum } from '../../src/projections/rebuild.ts';

/**
 * Sealed read models through the service: the personal columns of call_logs and recording_downloads hold sealed
 * text, a redelivered webhook writes the same bytes, a destroyed key reads as null on every route and is
 * written as null by a rebuild, and the columns that are not personal stay readable.
 */

const ORG = 'org-seal';

const rowOf = async (h: ApiHarness, id: string) =>
  (await sql<Record<string, string | null>>`select customer_number, transcript, summary, recording_source_url, search::text as search from ${sql.table('call_logs')} where id = ${id}`.execute(h.service.database.db)).rows[0]!;

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`sealed read models [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend, { TRUST_PROXY: 'true' });
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('columns are sealed, a redelivery writes the same bytes, a destroyed key reads and rebuilds as null', async ({ h }) => {
    const callId = await h.endCall(ORG, { transcript: 'User: my molar aches since Sunday', summary: 'Toothache, booked Monday.' });
    await h.uploadRecording(callId, ORG);
    await h.settle();
    const member = await h.token(ORG, 'mia', 'member');
    const auditor = await h.token(ORG, 'aud', 'auditor');
    assert.is((await h.get(`/api/calls/${callId}/recording`, member, { 'user-agent': 'SealAgent/1', 'x-forwarded-for': '198.51.100.23' })).status, 200);
    await h.settle();

    const raw = await rowOf(h, callId);
    const detail = (await h.get(`/api/calls/${callId}`, member)).body.call;
    assert.is(detail.transcript, 'User: my molar aches since Sunday');
    assert.is(detail.summary, 'Toothache, booked Monday.');
    assert.ok(detail.customer_number, 'the fixture has a caller number');
    for (const c of ['customer_number', 'transcript', 'summary'] as const) assert.match(raw[c]!, /^pii1:/, c);
    assert.not.match(raw.search!, /molar/);
    const downloads = await sql<{ ip: string; user_agent: string }>`select ip, user_agent from ${sql.table('recording_downloads')} where call_id = ${callId}`.execute(h.service.database.db);
    assert.equal(downloads.rows.map((r) => [r.ip.startsWith('pii1:'), r.user_agent.startsWith('pii1:')]), [[true, true]]);
    // A column is sealed under the name of the event field it copies: the same bytes as in the log (the call_logs
    // projector copies them without opening; recording_downloads seals the opened value to the same text).
    const logged = async (type: string, fields: string[]) =>
      (await sql<Record<string, string | null>>`select ${sql.join(fields.map((f) => sql`data ->> ${f}::text as ${sql.id(f)}`))} from ${sql.table('events')}
        where type = ${type} and data ->> 'callId' = ${callId} order by position limit 1`.execute(h.service.database.db)).rows[0]!;
    const ended = await logged('CallEnded', ['customerNumber', 'transcript', 'summary', 'recordingUrl']);
    assert.equal([raw.customer_number, raw.transcript, raw.summary, raw.recording_source_url], [ended.customerNumber, ended.transcript, ended.summary, ended.recordingUrl]);
    const accessed = await logged('RecordingAccessed', ['ip', 'userAgent']);
    assert.equal(downloads.rows.map((r) => [r.ip, r.user_agent]), [[accessed.ip, accessed.userAgent]]);

    // The same webhook again: the same event, the same row.
    const before = await tableChecksum(h.service.database.db, 'call_logs');
    await h.endCall(ORG, { callId, transcript: 'User: my molar aches since Sunday', summary: 'Toothache, booked Monday.' });
    await h.settle();
    assert.equal(await tableChecksum(h.service.database.db, 'call_logs'), before);

    // A live rebuild writes what the live projection wrote.
    for (const p of allProjectors(h.service.keyring)) if (p.name !== 'recording_metrics') await rebuildProjection(h.service.database.db, h.service.store, p);
    assert.equal(await tableChecksum(h.service.database.db, 'call_logs'), before);

    // Shredding the transcript key: transcript and summary read as null, the rest as before.
    await h.service.keyring.destroy(callId, ORG, ['transcript'], 'test');
    const shredded = (await h.get(`/api/calls/${callId}`, member)).body.call;
    assert.is(shredded.transcript, null);
    assert.is(shredded.summary, null);
    assert.is(shredded.customer_number, detail.customer_number);
    assert.is(shredded.duration_seconds, detail.duration_seconds);
    const listed = (await h.get('/api/calls?limit=50', member)).body.data.find((c: { id: string }) => c.id === callId);
    assert.is(listed.summary, null);
    assert.is(listed.customer_number, detail.customer_number);

    // Destroying the call key: the caller number and the download's IP and user agent read as null.
    await h.service.keyring.destroy(callId, ORG, ['call'], 'test');
    assert.is((await h.get(`/api/calls/${callId}`, member)).body.call.customer_number, null);
    const audit = (await h.get(`/api/audit/downloads?call_id=${callId}`, auditor)).body.data;
    assert.equal(audit.map((d: { ip: string | null; user_agent: string | null; user_id: string }) => [d.user_id, d.ip, d.user_agent]), [['mia', null, null]]);

    // A rebuild writes null where the key is gone and indexes nothing of the shredded text.
    const [callLogs] = allProjectors(h.service.keyring);
    await rebuildProjection(h.service.database.db, h.service.store, callLogs!);
    const rebuilt = await rowOf(h, callId);
    assert.equal([rebuilt.customer_number, rebuilt.transcript, rebuilt.summary, rebuilt.recording_source_url, rebuilt.search], [null, null, null, null, '']);
    assert.equal((await h.get(`/api/calls?q=molar`, member)).body.data, []);
  });

  test('a call logged before sealing (plaintext event, no key yet) gets its keys from the projector', async ({ h }) => {
    const callId = await h.endCall(ORG, { transcript: 'User: plaintext before keys' });
    await h.settle();
    const keys = await h.service.database.db.selectFrom('call_keys').select(['purpose']).where('call_id', '=', callId).orderBy('purpose').execute();
    assert.equal(keys.map((k) => k.purpose), ['call', 'transcript']);
    assert.match((await rowOf(h, callId)).transcript!, /^pii1:/);
  });

  test.run();
}
