import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET } from '../../src/config.ts';
import { readWatermark } from '../../src/processes/reconcile.ts';
import { endFakeCall, makeFakeCall, reportFor } from '../fakes/vapiCalls.ts';
import { backends } from '../support/databases.ts';
import { callEnded, completions, postReport, tick, withReconcileService } from './support.ts';

const test = suite('reconciliation with Vapi call list');

for (const backend of await backends()) {
  test(`${backend.name}: ended calls the log lacks get one CallEnded with the webhook's fields; a rerun adds nothing`, async () => {
    await withReconcileService(backend, async (s, vapi) => {
      const ended = Array.from({ length: 5 }, (_, i) => makeFakeCall({ recordingUrl: `https://storage.vapi.ai/rec-${i}.wav` }));
      const live = makeFakeCall({ ended: false });
      for (const c of [...ended, live]) vapi.calls.set(c.id, c);

      const r1 = await tick(s);
      assert.ok(r1.complete);
      assert.is(r1.listed, 6);
      assert.equal([...r1.recovered].sort(), ended.map((c) => c.id).sort());
      assert.is(r1.failed, 0);
      const [e] = await callEnded(s, ended[0]!.id);
      assert.ok(e);
      assert.is(e!.metadata.actor, 'system:reconciler');
      assert.is(e!.data.recordingUrl, 'https://storage.vapi.ai/rec-0.wav');
      assert.is(e!.data.summary, 'The caller booked a table.');
      assert.is(e!.data.endedReason, 'customer-ended-call');
      assert.is(e!.data.customerNumber, '+14155550123');
      assert.is(e!.data.assistantId, 'asst-reconcile');
      assert.is(e!.data.cost, 0.0731);
      assert.is(e!.data.durationSeconds, 42);
      assert.ok(e!.data.transcript?.includes('book a table'));
      assert.is((await callEnded(s, live.id)).length, 0);
      assert.is(r1.watermark, r1.window.to);
      assert.is((await readWatermark(s.database.db))?.toISOString(), r1.window.to);

      // the live call ends; a rerun finds only it
      endFakeCall(live, new Date(Date.now() - 3 * 60_000)); // quiet for longer than the settle time
      const r2 = await tick(s);
      assert.equal(r2.recovered, [live.id]);
      assert.is(r2.alreadyPresent, 5);
      assert.ok(Date.parse(r2.window.from) < Date.parse(r1.window.to), 'windows overlap');
      for (const c of [...ended, live]) assert.is((await callEnded(s, c.id)).length, 1, c.id);

      // counted as recovered: /api/metrics (projection) and Prometheus (this instance's appends)
      await s.runner.catchUp();
      const jwt = await signToken({ secret: DEV_JWT_SECRET, orgId: 'default', userId: 'ops', role: 'member' });
      const metrics = await (await fetch(`${s.url}/api/metrics`, { headers: { authorization: `Bearer ${jwt}` } })).json();
      assert.is(metrics.totals.recoveredCalls, 6);
      assert.is(metrics.metrics.find((m: { name: string }) => m.name === 'calls_recovered').value, 6);
      assert.match(await (await fetch(`${s.url}/metrics`)).text(), /callrec_calls_recovered_total 6/);

      const done = await completions(s);
      assert.equal(done.map((d) => [d.data.listed, d.data.recovered, d.data.failed, d.data.complete]), [[6, 5, 0, true], [6, 1, 0, true]]);
      assert.is(done[0]!.streamId, `reconcile-${r1.window.to.slice(0, 10)}`);
    });
  });

  test(`${backend.name}: a webhook after the reconciler is a duplicate (2xx, nothing new); the reconciler after a webhook adds nothing`, async () => {
    await withReconcileService(backend, async (s, vapi) => {
      const first = makeFakeCall();
      const second = makeFakeCall();
      vapi.calls.set(first.id, first);
      const r = await tick(s);
      assert.equal(r.recovered, [first.id]);
      const late = await postReport(s, reportFor(first));
      assert.is(late.status, 200);
      assert.is(late.body.duplicate, true);
      assert.is(late.body.stored, false);
      assert.is(late.body.conflict, undefined);
      assert.is((await callEnded(s, first.id)).length, 1);

      // webhook first, then the reconciler
      const ok = await postReport(s, reportFor(second));
      assert.is(ok.body.stored, true);
      vapi.calls.set(second.id, second);
      await s.runner.catchUp();
      const r2 = await tick(s);
      assert.equal(r2.recovered, []);
      const events = await callEnded(s, second.id);
      assert.is(events.length, 1);
      assert.is(events[0]!.metadata.actor, 'vapi');

      // the prefilter off (call_logs behind): the store itself still keeps one event
      await s.database.db.updateTable('call_logs').set({ ended_at: null }).where('id', '=', second.id).execute();
      const r3 = await tick(s);
      assert.equal(r3.recovered, []);
      assert.is((await callEnded(s, second.id)).length, 1);
    });
  });

  test(`${backend.name}: webhooks and the reconciler racing on 200 calls leave exactly one CallEnded each`, async () => {
    await withReconcileService(backend, async (s, vapi) => {
      const calls = Array.from({ length: 200 }, () => makeFakeCall());
      for (const c of calls) vapi.calls.set(c.id, c);
      const webhooks = (async () => {
        const out: Array<{ status: number; body: any }> = [];
        for (let i = 0; i < calls.length; i += 20) {
          out.push(...(await Promise.all(calls.slice(i, i + 20).map((c) => postReport(s, reportFor(c))))));
        }
        return out;
      })();
      const [answers, run] = await Promise.all([webhooks, tick(s)]);
      for (const a of answers) {
        assert.is(a.status, 200);
        assert.is(a.body.conflict, undefined);
      }
      const stored = answers.filter((a) => a.body.stored).length;
      assert.is(stored + run.recovered.length, 200, `webhooks stored ${stored}, reconciler recovered ${run.recovered.length}`);
      for (const c of calls) assert.is((await callEnded(s, c.id)).length, 1, c.id);
      const again = await tick(s);
      assert.is(again.recovered.length, 0);
    });
  });
}

test.run();
