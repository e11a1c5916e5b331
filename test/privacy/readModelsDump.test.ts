import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { startApi, type ApiHarness } from '../api/support.ts';
import { backends, TEST_DATABASE_URL } from '../support/databases.ts';

/**
 * Proof that the read models hold no readable personal data: calls ingested through the real webhook route
 * (transcript, summary, caller number, recording URLs) and a recording download by a user (IP, user agent),
 * projected; then a data dump of callrec's schema (pg_dump on PostgreSQL, every row of every table as text on
 * PGlite) contains none of those values nor a distinctive word of the transcripts, while the API still
 * returns them in plaintext and `q` finds the call.
 */

const run = promisify(execFile);

/** Tables left out of the scan: none (the event log is sealed by the encrypting store, the read models by their projectors). */
const NOT_SCANNED_YET: string[] = [];

const ORG = 'org-dump';
const CALLER = '+15550199887';
const MONO_URL = 'https://storage.vapi.ai/secret-recording-qx81mono.wav';
const STEREO_URL = 'https://storage.vapi.ai/secret-recording-qx81stereo.wav';
const TRANSCRIPT = 'AI: Harbor Dental, Riley speaking.\nUser: My periodontist Zanzibarian recommended quokkafluoride rinses after my xylophonic implant.';
const SUMMARY = 'Caller asked about quokkafluoride rinses; booked Wednesday with Dr Vexillum.';
const USER_AGENT = 'DumpProbeAgent/7.3 (qx81-browser)';
const CLIENT_IP = '203.0.113.77';

/** Values and words that must not appear anywhere in the dump. */
const SECRETS = [
  CALLER, CALLER.slice(1), 'secret-recording', 'qx81', 'Zanzibarian', 'zanzibarian', 'periodontist', 'quokkafluoride', 'xylophonic', 'Vexillum', 'vexillum',
  'DumpProbeAgent', CLIENT_IP,
];

async function ingest(h: ApiHarness, callId: string, transcript: string, summary: string): Promise<void> {
  const body = withRecordingUrl(loadVapiFixture('end-of-call-report.current'), { mono: MONO_URL, stereo: STEREO_URL });
  const m = body.message;
  m.call.id = callId;
  m.call.assistantId = m.assistant.id = m.phoneNumber.assistantId = 'asst-dump';
  m.customer = { number: CALLER };
  m.call.customer = { number: CALLER };
  m.artifact.transcript = transcript;
  // The fixture's conversation messages are not stored; keep them out of the picture anyway.
  m.artifact.messages = [];
  m.analysis.summary = summary;
  const res = await h.service.post('/webhooks/vapi', body);
  assert.is(res.status, 200, await res.text());
}

/** Every row of every table of the schema, as text (PGlite has no pg_dump). */
async function rowsAsText(h: ApiHarness, schema: string, skip: string[]): Promise<string> {
  const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = ${schema} order by tablename`.execute(h.service.database.db);
  const out: string[] = [];
  for (const { tablename } of tables.rows) {
    if (skip.includes(tablename)) continue;
    const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(tablename)} t`.execute(h.service.database.db);
    out.push(`-- ${tablename}`, ...rows.rows.map((r) => r.row));
  }
  return out.join('\n');
}

async function pgDump(h: ApiHarness, schema: string, skip: string[]): Promise<string> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${(await sql<{ db: string }>`select current_database() as db`.execute(h.service.database.db)).rows[0]!.db}`;
  const args = ['--data-only', `--schema=${schema}`, ...skip.map((t) => `--exclude-table-data=${schema}.${t}`), url.toString()];
  const { stdout } = await run('/usr/bin/pg_dump', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

for (const backend of await backends()) {
  const test = suite<{ h: ApiHarness }>(`read models hold no readable personal data [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend, { TRUST_PROXY: 'true' });
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('a dump of the schema holds none of it; the API and search still give it back', async ({ h }) => {
    await setOrgMapping(h.service.database.db, 'assistant', 'asst-dump', ORG);
    h.service.orgResolver.invalidate();
    const callId = `dump-${backend.name}-1`;
    const other = `dump-${backend.name}-2`;
    await ingest(h, callId, TRANSCRIPT, SUMMARY);
    await ingest(h, other, 'User: I need a cleaning, nothing special.', 'Cleaning booked.');
    await h.uploadRecording(callId, ORG);
    await h.settle();
    const member = await h.token(ORG, 'dana', 'member');
    const auditor = await h.token(ORG, 'audrey', 'auditor');
    const download = await h.get(`/api/calls/${callId}/recording`, member, { 'user-agent': USER_AGENT, 'x-forwarded-for': CLIENT_IP });
    assert.is(download.status, 200, JSON.stringify(download.body));
    await h.settle();

    // The API gives everything back in plaintext.
    const detail = await h.get(`/api/calls/${callId}`, auditor);
    assert.is(detail.status, 200);
    assert.is(detail.body.call.transcript, TRANSCRIPT);
    assert.is(detail.body.call.summary, SUMMARY);
    assert.is(detail.body.call.customer_number, CALLER);
    const list = await h.get('/api/calls?limit=10', auditor);
    const listed = list.body.data.find((c: { id: string }) => c.id === callId);
    assert.is(listed.summary, SUMMARY);
    assert.is(listed.customer_number, CALLER);
    // (a member sees the number masked, its last four digits only)
    const asMember = (await h.get(`/api/calls/${callId}`, member)).body.call;
    assert.is(asMember.customerNumber, `+1 ••• ••• ${CALLER.slice(-4)}`);
    const audit = await h.get(`/api/audit/downloads?call_id=${callId}`, auditor);
    assert.is(audit.status, 200);
    assert.equal(audit.body.data.map((d: { ip: string; user_agent: string; user_id: string }) => [d.user_id, d.ip, d.user_agent]), [['dana', CLIENT_IP, USER_AGENT]]);

    // Search finds the call by its words, phrases and the usual operators.
    const q = async (s: string) => new Set((await h.get(`/api/calls?q=${encodeURIComponent(s)}`, member)).body.data.map((c: { id: string }) => c.id));
    assert.equal(await q('quokkafluoride'), new Set([callId]));
    assert.equal(await q('ZANZIBARIAN'), new Set([callId]), 'case-insensitive');
    assert.equal(await q('"xylophonic implant"'), new Set([callId]), 'phrase');
    assert.equal(await q('"implant xylophonic"'), new Set(), 'phrase in order only');
    assert.equal(await q('vexillum or cleaning'), new Set([callId, other]), 'or');
    assert.equal(await q('booked -quokkafluoride'), new Set([other]), 'negation');

    // Nothing of it in the dump.
    const schema = h.service.database.schema;
    const dump = backend.name === 'postgres' ? await pgDump(h, schema, NOT_SCANNED_YET) : await rowsAsText(h, schema, NOT_SCANNED_YET);
    assert.ok(dump.includes(callId), 'the dump holds the call (its id is not personal)');
    assert.ok(dump.includes('pii1:'), 'the dump holds sealed values');
    for (const secret of SECRETS) {
      const at = dump.indexOf(secret);
      assert.ok(at < 0, `the dump contains ${JSON.stringify(secret)}: …${dump.slice(Math.max(0, at - 120), at + 60)}…`);
    }
    // The search column is tokens only: 16 hex characters each.
    const search = await sql<{ s: string }>`select search::text as s from ${sql.table('call_logs')} where id = ${callId}`.execute(h.service.database.db);
    assert.match(search.rows[0]!.s, /^('[0-9a-f]{16}':[0-9,]+ ?)+$/);
  });

  test.run();
}
