import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { reconcileWindow } from '../../src/commands/reconcile.ts';
import { callStream } from '../../src/events/catalog.ts';
import { deterministicEventId } from '../../src/events/ids.ts';
import { readWatermark, runReconcile } from '../../src/processes/reconcile.ts';
import { createVapiClient } from '../../src/vapi/restClient.ts';
import { makeFakeCall } from '../fakes/vapiCalls.ts';
import type { FakeVapiApi } from '../fakes/vapiApi.ts';
import { backends } from '../support/databases.ts';
import type { TestService } from '../support/service.ts';
import { API_KEY, callEnded, completions, tick, withReconcileService } from './support.ts';

const test = suite('reconciliation when Vapi or the log misbehave');

/** A run like the scheduled one, with a client that retries fast (the service's backs off for seconds). */
function fastRun(s: TestService, vapi: FakeVapiApi, pageSize = 1000) {
  const client = createVapiClient({ baseUrl: vapi.url, apiKey: API_KEY, baseDelayMs: 1, maxDelayMs: 5, maxRetries: 2 });
  return async () =>
    runReconcile(
      { db: s.database.db, store: s.store, vapi: client, orgs: s.orgResolver, fallbackOrgId: 'default', stuckMinutes: 120, pageSize },
      { window: reconcileWindow(await readWatermark(s.database.db), new Date(), 60), dryRun: false, moveWatermark: true },
    );
}

for (const backend of await backends()) {
  test(`${backend.name}: Vapi failing mid-listing → the run says so and keeps the watermark; a later run recovers everything`, async () => {
    await withReconcileService(backend, async (s, vapi) => {
      const run = fastRun(s, vapi, 10);
      const early = makeFakeCall({ createdAt: new Date(Date.now() - 50 * 60_000) });
      vapi.calls.set(early.id, early);
      const first = await run();
      assert.ok(first.complete);
      const mark = await readWatermark(s.database.db);
      assert.is(mark?.toISOString(), first.window.to);

      const calls = Array.from({ length: 35 }, (_, i) => makeFakeCall({ createdAt: new Date(Date.now() - (40 - i) * 60_000) }));
      for (const c of calls) vapi.calls.set(c.id, c);
      // the first page (and its tie lookup) answer, then Vapi fails every request (5xx after the retries)
      vapi.failNext(Infinity, 500, { path: '/call', skip: 2 });
      const broken = await run();
      assert.is(broken.complete, false);
      assert.is(broken.error?.code, 'vapi_unavailable');
      assert.ok(broken.recovered.length < 35, `recovered ${broken.recovered.length} before the failure`);
      assert.is((await readWatermark(s.database.db))?.toISOString(), mark!.toISOString(), 'the watermark did not move');
      const last = (await completions(s)).at(-1)!;
      assert.is(last.data.complete, false);
      assert.is(last.data.watermark, mark!.toISOString());

      // Vapi is back (and rate-limits twice with Retry-After: 0, waited out within the run)
      vapi.clearFaults();
      vapi.rateLimitNext(2, 0, { path: '/call' });
      const later = await tick(s);
      assert.ok(later.complete);
      assert.is(later.failed, 0);
      assert.is(later.recovered.length + broken.recovered.length, 35);
      for (const c of calls) assert.is((await callEnded(s, c.id)).length, 1, c.id);
      assert.ok(Date.parse(later.watermark!) > mark!.getTime());
    });
  });

  test(`${backend.name}: a call seen in progress long ago and never ended is looked up with GET /call/:id`, async () => {
    await withReconcileService(backend, async (s, vapi) => {
      const old = new Date(Date.now() - 5 * 3600_000);
      const call = makeFakeCall({ createdAt: old, durationSeconds: 30 }); // ended 5 h ago: outside the window
      vapi.calls.set(call.id, call);
      const status = {
        message: { type: 'status-update', status: 'in-progress', timestamp: old.getTime() + 3000, call: { id: call.id } },
      };
      assert.is((await s.post('/webhooks/vapi', status)).status, 200);
      await s.runner.catchUp();
      const r = await tick(s);
      assert.equal(r.recovered, [call.id]);
      assert.ok(vapi.requests.some((q) => q.path === `/call/${call.id}`));
      const [e] = await callEnded(s, call.id);
      assert.is(e!.eventId, deterministicEventId(call.id, 'end-of-call-report'));
      const history = await s.store.readStream(callStream(call.id));
      assert.equal(history.map((h) => h.type), ['CallStatusChanged', 'CallEnded']);
    });
  });
}

test.run();
