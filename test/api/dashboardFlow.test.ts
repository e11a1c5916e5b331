import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { startService } from '../../src/service.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { backends } from '../support/databases.ts';
import { JWT_SECRET, openSse, sseData } from './support.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The dashboard's whole flow against the real pipeline: Vapi's report arrives, the recording pipeline
 * stores the audio, the dashboard hears `recording_ready` (no URL in it), asks for the URL (audited),
 * and the URL serves the very bytes; the auditor sees the download.
 */

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const backend of await backends()) {
  const test = suite(`dashboard flow with the real pipeline [${backend.name}]`);
  test('report → recording_ready over SSE → audited URL → the same bytes', async () => {
    const rec = await startRecordingServer();
    const t = await backend.open();
    const dataDir = mkdtempSync(join(tmpdir(), 'callrec-flow-'));
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: dataDir, AUTH_JWT_SECRET: JWT_SECRET,
      RECORDING_ALLOWED_HOSTS: '127.0.0.1', RECORDING_ALLOWED_ADDRESSES: '127.0.0.1', DEFAULT_ORG_ID: 'org-flow',
    });
    const service = await startService(config, { logger: silentLogger, database: t.database, leaseMs: 2000 });
    const token = await signToken({ secret: JWT_SECRET, orgId: 'org-flow', userId: 'dash-user' });
    const other = await signToken({ secret: JWT_SECRET, orgId: 'org-other', userId: 'x' });
    const sse = await openSse(`${service.url}/api/events`, { authorization: `Bearer ${token}` });
    const sseOther = await openSse(`${service.url}/api/events`, { authorization: `Bearer ${other}` });
    try {
      const body = withRecordingUrl(loadVapiFixture('end-of-call-report.current'), `${rec.url}/rec/flow.wav?seconds=5`);
      const callId = body.message.call.id as string;
      const res = await fetch(`${service.url}/webhooks/vapi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.is(res.status, 200);

      await sse.waitFor((e) => e.event === 'call_ended' && sseData(e).callId === callId, 1, 20_000);
      const [ready] = await sse.waitFor((e) => e.event === 'recording_ready' && sseData(e).callId === callId, 1, 30_000);
      const d = sseData(ready!);
      assert.is(d.durationSeconds, 5);
      assert.is(d.bytes, 44 + 5 * 8000 * 2);
      assert.not.ok(ready!.data.includes('http'));
      assert.not.ok(sseOther.events.some((e) => sseData(e).callId === callId), 'another org hears nothing');

      // The projection may trail the SSE by a moment.
      let url: { status: number; body: any } | undefined;
      await eventually(() => `the recording URL (last answer ${JSON.stringify(url)})`, async () => {
        const r = await fetch(`${service.url}/api/calls/${callId}/recording`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'flow-test' } });
        url = { status: r.status, body: await r.json() };
        return r.status === 200;
      }, { timeoutMs: 5000, intervalMs: 50 });
      assert.is(url!.status, 200, JSON.stringify(url!.body));
      assert.is(url!.body.expiresAt, d.expiresAt, 'the URL the pipeline signed, as announced');
      const audio = await fetch(url!.body.url);
      assert.is(audio.status, 200);
      const source = Buffer.from(await (await fetch(`${rec.url}/rec/flow.wav?seconds=5`)).arrayBuffer());
      assert.is(sha(Buffer.from(await audio.arrayBuffer())), sha(source));

      const forbidden = await fetch(`${service.url}/api/calls/${callId}/recording`, { headers: { authorization: `Bearer ${other}` } });
      assert.is(forbidden.status, 404);

      const auditor = await signToken({ secret: JWT_SECRET, orgId: 'org-flow', userId: 'aud', role: 'auditor' });
      let rows: any[] = [];
      await eventually('the download in the audit log', async () => {
        rows = (await (await fetch(`${service.url}/api/audit/downloads?call_id=${callId}`, { headers: { authorization: `Bearer ${auditor}` } })).json()).data;
        return rows.length > 0;
      }, { timeoutMs: 5000, intervalMs: 50 });
      assert.is(rows.length, 1);
      assert.is(rows[0].user_id, 'dash-user');
      assert.is(rows[0].user_agent, 'flow-test');
      assert.is(rows[0].action, 'download');
    } finally {
      sse.close();
      sseOther.close();
      await service.stop();
      await t.close();
      await rec.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  test.run();
}
