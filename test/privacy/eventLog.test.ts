import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import { callStream } from '../../src/events/catalog.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { createEncryptingEventStore, PersonalDataKeyError } from '../../src/privacy/encryptingStore.ts';
import { createKeyring } from '../../src/privacy/keyring.ts';
import { loadVapiFixture } from '../fixtures/vapi/index.ts';
import { startApi, type ApiHarness } from '../api/support.ts';
import { backends } from '../support/databases.ts';
import { meta, statusEvent } from '../support/events.ts';

/**
 * Personal data in the event log: sealed in the `events` table, plaintext for every reader (store, history,
 * API, projections), legacy plaintext events still readable, a wrong master key loud. Through the real webhook
 * route and the real databases.
 */

interface Secrets {
  callId: string;
  transcript: string;
  summary: string;
  customerNumber: string;
  monoUrl: string;
  stereoUrl: string;
}

function secrets(): Secrets {
  const tag = randomBytes(6).toString('hex');
  return {
    callId: randomUUID(),
    transcript: `AI: Harbor Dental, Riley speaking.\nUser: my date of birth is 1984-03-${tag} and my dentist knows about my condition ${tag}.`,
    summary: `Caller ${tag} moved a cleaning to next week.`,
    customerNumber: `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
    monoUrl: `https://storage.vapi.ai/${tag}-a1b2c3-mono.wav`,
    stereoUrl: `https://storage.vapi.ai/${tag}-d4e5f6-stereo.wav`,
  };
}

/** An end-of-call-report (current shape) carrying `s`, from an assistant mapped to `orgId`. */
async function report(h: ApiHarness, orgId: string, s: Secrets) {
  const assistantId = `asst-privacy-${orgId}`;
  await setOrgMapping(h.service.database.db, 'assistant', assistantId, orgId);
  h.service.orgResolver.invalidate();
  const body = loadVapiFixture('end-of-call-report.current');
  const m = body.message;
  m.call.id = s.callId;
  m.call.assistantId = assistantId;
  m.assistant.id = assistantId;
  m.phoneNumber.assistantId = assistantId;
  m.customer.number = s.customerNumber;
  m.call.customer.number = s.customerNumber;
  m.artifact.transcript = s.transcript;
  m.analysis.summary = s.summary;
  m.artifact.recording.mono.combinedUrl = s.monoUrl;
  m.artifact.recording.stereoUrl = s.stereoUrl;
  return body;
}

/** Every fragment of the secrets that must not be readable in a dump. */
const fragments = (s: Secrets) => [s.transcript, s.transcript.slice(20, 40), s.summary, s.summary.slice(0, 12), s.customerNumber, s.customerNumber.slice(2), s.monoUrl, s.monoUrl.split('/').pop()!, s.stereoUrl, 'storage.vapi.ai'];

/** The rows of the `events` table of one call, as stored (no store, no wrapper). */
async function rawRows(h: ApiHarness, callId: string) {
  const res = await sql<{ event_id: string; type: string; data: Record<string, unknown>; text: string }>`
    select event_id, type, data, data::text as text from ${sql.table('events')} where stream_id = ${callStream(callId)} order by stream_revision`.execute(h.service.database.db);
  return res.rows;
}

function assertNoFragment(text: string, s: Secrets, where: string) {
  for (const f of fragments(s)) assert.not.ok(text.includes(f), `${where} holds ${JSON.stringify(f)}`);
}

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`personal data in the event log [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
  });
  test.after(async (ctx) => {
    await ctx.h.close();
  });

  test('a webhook’s transcript, summary, caller number and recording URLs are sealed in the events table, plaintext for readers', async ({ h }) => {
    const s = secrets();
    const res = await h.service.post('/webhooks/vapi', await report(h, 'org-p', s));
    assert.is(res.status, 200, await res.clone().text());
    assert.is((await res.json()).stored, true);

    const rows = await rawRows(h, s.callId);
    assert.is(rows.length, 1);
    assertNoFragment(rows[0]!.text, s, 'events.data');
    for (const f of ['transcript', 'summary', 'customerNumber', 'recordingUrl', 'stereoRecordingUrl']) {
      assert.match(String(rows[0]!.data[f]), /^pii1:[A-Za-z0-9_-]+$/, `${f} is sealed`);
    }
    assert.is(rows[0]!.data.callId, s.callId, 'non-personal fields stay readable');
    assert.is(rows[0]!.data.endedReason, 'customer-ended-call');
    const keys = await h.service.database.db.selectFrom('call_keys').select(['purpose', 'org_id']).where('call_id', '=', s.callId).orderBy('purpose').execute();
    assert.equal(keys, [{ purpose: 'call', org_id: 'org-p' }, { purpose: 'transcript', org_id: 'org-p' }]);

    // The store, readAll and a subscription read plaintext.
    const [ended] = await h.service.store.readStream(callStream(s.callId));
    const d = ended!.data as Record<string, unknown>;
    assert.equal(
      [d.transcript, d.summary, d.customerNumber, d.recordingUrl, d.stereoRecordingUrl],
      [s.transcript, s.summary, s.customerNumber, s.monoUrl, s.stereoUrl],
    );
    const all = await h.service.store.readAll({ after: ended!.position - 1, limit: 10 });
    assert.equal(all[0]!.data, ended!.data);
    const sub = h.service.store.subscribe(ended!.position - 1);
    try {
      const first = (await sub[Symbol.asyncIterator]().next()).value as RecordedEvent;
      assert.equal(first.data, ended!.data);
    } finally {
      await sub.close();
    }

    // The projection (fed by the store) and the API show the transcript; history shows it too.
    await h.settle();
    const auditor = await h.token('org-p', 'auditor-1', 'auditor');
    const call = await h.get(`/api/calls/${s.callId}`, auditor);
    assert.is(call.status, 200);
    assert.is(call.body.call.transcript, s.transcript);
    assert.is(call.body.call.summary, s.summary);
    const history = await h.get(`/api/calls/${s.callId}/history`, auditor);
    assert.is(history.status, 200);
    const hd = history.body.events[0].data;
    assert.equal([hd.transcript, hd.summary, hd.customerNumber], [s.transcript, s.summary, s.customerNumber]);
  });

  test('history withholds the recording source URLs from every role (API, asOf, all roles)', async ({ h }) => {
    const s = secrets();
    assert.is((await h.service.post('/webhooks/vapi', await report(h, 'org-p', s))).status, 200);
    await h.settle();
    for (const role of ['auditor', 'admin'] as const) {
      const token = await h.token('org-p', `${role}-1`, role);
      const history = await h.get(`/api/calls/${s.callId}/history`, token);
      assert.is(history.status, 200);
      const text = JSON.stringify(history.body);
      for (const f of [s.monoUrl, s.stereoUrl, s.monoUrl.split('/').pop()!, s.stereoUrl.split('/').pop()!, s.monoUrl.slice(8, 30), 'storage.vapi.ai']) {
        assert.not.ok(text.includes(f), `${role} history holds ${f}`);
      }
      assert.is(history.body.events[0].data.recordingUrl, '[withheld]');
      assert.is(history.body.events[0].data.stereoRecordingUrl, '[withheld]');
      const asOf = await h.get(`/api/calls/${s.callId}?asOf=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, token);
      assert.is(asOf.status, 200);
      assert.is(asOf.body.call.transcript, s.transcript);
      assert.not.ok(JSON.stringify(asOf.body).includes('storage.vapi.ai'), 'asOf holds no source URL');
    }
    const member = await h.get(`/api/calls/${s.callId}/history`, await h.token('org-p', 'member-1', 'member'));
    assert.is(member.status, 403, 'members do not read history at all');
  });

  test('a redelivered end-of-call-report is the same single event (deterministic sealing)', async ({ h }) => {
    const s = secrets();
    const body = await report(h, 'org-p', s);
    const first = await (await h.service.post('/webhooks/vapi', body)).json();
    const again = await (await h.service.post('/webhooks/vapi', body)).json();
    assert.is(first.stored, true);
    assert.is(again.duplicate, true);
    assert.is(again.stored, false);
    assert.not.ok(again.conflict, 'a duplicate, not a conflict');
    assert.is(again.eventId, first.eventId);
    assert.is((await rawRows(h, s.callId)).length, 1);

    // Another instance (a keyring with a cold cache) seals the same way.
    const other = createEncryptingEventStore(createPostgresEventStore(h.service.database), createKeyring(h.service.database, Buffer.from(h.service.config.PII_MASTER_KEY!, 'base64')));
    const [stored] = await other.readStream(callStream(s.callId));
    const repeat = await other.append(callStream(s.callId), [{ eventId: stored!.eventId, type: stored!.type, data: stored!.data, metadata: stored!.metadata }], 'any');
    assert.ok(repeat.ok && repeat.duplicate, JSON.stringify(repeat));
    await other.close();
  });

  test('a destroyed key reads as [erased], is never made again, and a redelivery after it is still a duplicate', async ({ h }) => {
    const s = secrets();
    const body = await report(h, 'org-p', s);
    assert.is((await h.service.post('/webhooks/vapi', body)).status, 200);
    const stream = callStream(s.callId);
    const before = await rawRows(h, s.callId);

    assert.is(await h.service.keyring.destroy(s.callId, 'org-p', ['transcript'], 'test: transcript retention'), 1);
    let d = (await h.service.store.readStream(stream))[0]!.data as Record<string, unknown>;
    assert.equal([d.transcript, d.summary, d.customerNumber], ['[erased]', '[erased]', s.customerNumber]);

    const again = await (await h.service.post('/webhooks/vapi', body)).json();
    assert.is(again.duplicate, true);
    assert.not.ok(again.conflict, 'the same event as it now reads');
    assert.equal(await rawRows(h, s.callId), before, 'nothing written, nothing rewritten');

    // New personal data for the erased call: written as [erased], and no key comes back.
    await h.service.keyring.destroy(s.callId, 'org-p', ['call'], 'test: erasure');
    const accessed = await h.service.store.append(stream, [{ eventId: randomUUID(), type: 'RecordingAccessed', data: { callId: s.callId, userId: 'u-1', action: 'download', ip: '203.0.113.9', userAgent: 'Browser/1.0' }, metadata: meta({ orgId: 'org-p' }) }]);
    assert.ok(accessed.ok);
    const rows = await rawRows(h, s.callId);
    assert.equal([rows[1]!.data.ip, rows[1]!.data.userAgent], ['[erased]', '[erased]']);
    const keys = await h.service.database.db.selectFrom('call_keys').select(['purpose', 'wrapped_key']).where('call_id', '=', s.callId).execute();
    assert.ok(keys.length === 2 && keys.every((k) => k.wrapped_key === null), 'both keys stay destroyed');
    d = (await h.service.store.readStream(stream))[0]!.data as Record<string, unknown>;
    assert.equal([d.customerNumber, d.recordingUrl, d.stereoRecordingUrl], ['[erased]', '[erased]', '[erased]']);
    const history = await h.get(`/api/calls/${s.callId}/history`, await h.token('org-p', 'a-1', 'auditor'));
    assert.is(history.body.events[0].data.recordingUrl, '[erased]');
    assert.is(history.body.events[0].data.transcript, '[erased]');
  });

  test('events written before encryption (plaintext, through the unwrapped store) still read normally', async ({ h }) => {
    const s = secrets();
    const legacy = createPostgresEventStore(h.service.database);
    const data = {
      callId: s.callId, orgId: 'org-p', vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: null, phoneNumberId: null,
      customerNumber: s.customerNumber, startedAt: null, endedAt: new Date().toISOString(), durationSeconds: 42, endedReason: 'customer-ended-call',
      transcript: s.transcript, summary: s.summary, cost: 0.1, recordingUrl: s.monoUrl, stereoRecordingUrl: null, messageAt: null,
    };
    const r = await legacy.append(callStream(s.callId), [{ eventId: randomUUID(), type: 'CallEnded', data, metadata: meta({ orgId: 'org-p', actor: 'vapi' }) }], 'no_stream');
    assert.ok(r.ok);
    await legacy.close();
    assert.is((await rawRows(h, s.callId))[0]!.data.transcript, s.transcript, 'stored in plaintext');
    const [e] = await h.service.store.readStream(callStream(s.callId));
    assert.equal(e!.data, data);
    await h.settle();
    const auditor = await h.token('org-p', 'a-1', 'auditor');
    assert.is((await h.get(`/api/calls/${s.callId}`, auditor)).body.call.transcript, s.transcript);
    const history = await h.get(`/api/calls/${s.callId}/history`, auditor);
    assert.is(history.body.events[0].data.customerNumber, s.customerNumber);
    assert.is(history.body.events[0].data.recordingUrl, '[withheld]');
  });

  test('a wrong PII_MASTER_KEY fails loudly on every read; a sealed value that does not open under its live key too', async ({ h }) => {
    const s = secrets();
    assert.is((await h.service.post('/webhooks/vapi', await report(h, 'org-p', s))).status, 200);
    const stream = callStream(s.callId);
    const wrong = createEncryptingEventStore(createPostgresEventStore(h.service.database), createKeyring(h.service.database, randomBytes(32)));
    try {
      const [e] = await h.service.store.readStream(stream);
      const loud = async (what: string, p: Promise<unknown>) => {
        try {
          await p;
        } catch (err) {
          assert.instance(err, PersonalDataKeyError, what);
          assert.match((err as Error).message, /PII_MASTER_KEY/, what);
          return;
        }
        assert.unreachable(`${what} read with the wrong master key`);
      };
      await loud('readStream', wrong.readStream(stream));
      await loud('readAll', wrong.readAll({ after: e!.position - 1, limit: 10 }));
      const sub = wrong.subscribe(e!.position - 1);
      await loud('subscribe', sub[Symbol.asyncIterator]().next()).finally(() => sub.close());
      // Events without sealed values read fine with any key (no key is looked up for them).
      const plainCall = `plain-${randomUUID()}`;
      const status = statusEvent(plainCall);
      assert.ok((await h.service.store.append(callStream(plainCall), [status])).ok);
      assert.equal((await wrong.readStream(callStream(plainCall)))[0]!.data, status.data);
    } finally {
      await wrong.close();
    }

  });

  test('under its live key, a sealed value moved to another field is refused with an error, never returned', async () => {
    // Its own database: the tampered log would stop this suite's projections, as it should.
    const t = await backend.open();
    const store = createEncryptingEventStore(createPostgresEventStore(t.database), createKeyring(t.database, randomBytes(32)));
    try {
      const s = secrets();
      const data = {
        callId: s.callId, orgId: 'org-t', vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: s.customerNumber,
        startedAt: null, endedAt: null, durationSeconds: null, endedReason: null, transcript: s.transcript, summary: s.summary, cost: null,
        recordingUrl: null, stereoRecordingUrl: null, messageAt: null,
      };
      assert.ok((await store.append(callStream(s.callId), [{ eventId: randomUUID(), type: 'CallEnded', data, metadata: meta({ orgId: 'org-t' }) }])).ok);
      assert.is(((await store.readStream(callStream(s.callId)))[0]!.data as { transcript: string }).transcript, s.transcript);
      await sql`update ${sql.table('events')} set data = jsonb_set(data, '{transcript}', data -> 'summary') where stream_id = ${callStream(s.callId)}`.execute(t.database.db);
      try {
        await store.readStream(callStream(s.callId));
        assert.unreachable('a tampered value was returned');
      } catch (err) {
        assert.instance(err, PersonalDataKeyError);
        assert.match((err as Error).message, /sealed transcript .*PII_MASTER_KEY/s);
      }
      // An event holding personal data needs its org (the key belongs to it): refused, nothing written.
      const noOrg = await store.append(callStream('no-org'), [{ eventId: randomUUID(), type: 'CallEnded', data: { ...data, callId: 'no-org', orgId: undefined }, metadata: { ...meta(), orgId: undefined as unknown as string } }]);
      assert.ok(!noOrg.ok && noOrg.error.code === 'invalid_event', JSON.stringify(noOrg));
      assert.is((await store.readStream(callStream('no-org'))).length, 0);
    } finally {
      await store.close();
      await t.close();
    }
  });

  test('recording accesses: IP and user agent sealed in the log, plaintext in the audit trail', async ({ h }) => {
    const callId = await h.endCall('org-r');
    await h.uploadRecording(callId, 'org-r');
    await h.settle();
    const ua = `PrivacyBrowser/${randomBytes(4).toString('hex')}`;
    const member = await h.token('org-r', 'member-9', 'member');
    const res = await fetch(`${h.service.url}/api/calls/${callId}/recording`, { headers: { authorization: `Bearer ${member}`, 'user-agent': ua } });
    assert.is(res.status, 200, await res.text());
    const row = (await rawRows(h, callId)).find((r) => r.type === 'RecordingAccessed')!;
    assert.not.ok(row.text.includes(ua), 'the user agent is not in the events table');
    assert.not.ok(row.text.includes('127.0.0.1'), 'nor the IP');
    assert.match(String(row.data.userAgent), /^pii1:/);
    const [accessed] = (await h.service.store.readStream(callStream(callId))).filter((e) => e.type === 'RecordingAccessed');
    assert.is((accessed!.data as { userAgent: string }).userAgent, ua);
    await h.settle();
    const audit = await h.get(`/api/audit/downloads?call_id=${callId}`, await h.token('org-r', 'aud', 'auditor'));
    assert.is(audit.body.data[0].user_agent, ua);
  });

  test.run();
}
