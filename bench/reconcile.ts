import { createOrgResolver } from '../src/commands/orgs.ts';
import { recoveredCallEnded } from '../src/commands/reconcile.ts';
import { createPostgresEventStore } from '../src/events/postgres/store.ts';
import { runReconcile } from '../src/processes/reconcile.ts';
import { callToReport } from '../src/vapi/calls.ts';
import { listCalls } from '../src/vapi/listCalls.ts';
import { createVapiClient } from '../src/vapi/restClient.ts';
import { startFakeVapiApi } from '../test/fakes/vapiApi.ts';
import { makeFakeCall } from '../test/fakes/vapiCalls.ts';
import { fmt, openBenchDb, postgresAvailable, row, runConcurrent } from './support.ts';

/**
 * Reconcile time for 10,000 calls listed (Vapi's GET /call served by the local fake, 1,000 per page):
 * - baseline A: listing them only (HTTP + JSON + schema), nothing stored;
 * - baseline B: appending the same 10,000 CallEnded straight to the store, 16 at a time;
 * - a first run that recovers all 10,000, and the steady-state rerun that finds them all present.
 */
export async function benchReconcile(n = Number(process.env.BENCH_RECONCILE_CALLS ?? 10_000)) {
  const kinds: Array<'postgres' | 'pglite'> = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
  const apiKey = 'bench-reconcile-key';
  const now = Date.now();
  const calls = Array.from({ length: n }, (_, i) => makeFakeCall({ createdAt: new Date(now - 50 * 60_000 + i * 200) }));
  const vapi = await startFakeVapiApi({ apiKey, calls });
  const client = createVapiClient({ baseUrl: vapi.url, apiKey });
  const window = { from: new Date(now - 60 * 60_000), to: new Date(now + 60 * 60_000) };
  try {
    let t = performance.now();
    let listed = 0;
    for await (const page of listCalls(client, { updatedAtGe: window.from.toISOString(), updatedAtLt: window.to.toISOString() })) {
      if (!page.ok) throw new Error(page.error.message);
      listed += page.calls.length;
    }
    const listMs = performance.now() - t;
    row(`baseline A: list ${fmt(listed)} calls only (GET /call, pages of 1,000)`, `${fmt(listMs)} ms`, `${fmt((listed / listMs) * 1000)} calls/s`);

    for (const kind of kinds) {
      console.log(`  -- ${kind}`);
      let appendMs = NaN;
      for (const scenario of ['baseline', 'reconcile'] as const) {
        const db = await openBenchDb(kind);
        const store = createPostgresEventStore(db.database);
        const orgs = createOrgResolver(db.database.db, 'default');
        try {
          if (scenario === 'baseline') {
            const ms = await runConcurrent(n, 16, async (i) => {
              const { streamId, event } = recoveredCallEnded(callToReport(calls[i]!)!, { orgId: 'default', runId: 'bench', now: new Date() });
              const r = await store.append(streamId, [event], 'any');
              if (!r.ok) throw new Error(r.error.message);
            });
            appendMs = ms;
            row(`baseline B: append ${fmt(n)} CallEnded directly (16 at a time)`, `${fmt(ms)} ms`, `${fmt((n / ms) * 1000)} calls/s`);
            continue;
          }
          const opts = { db: db.database.db, store, vapi: client, orgs, fallbackOrgId: 'default', stuckMinutes: 120 };
          t = performance.now();
          const first = await runReconcile(opts, { window, dryRun: false, moveWatermark: true });
          const firstMs = performance.now() - t;
          if (first.recovered.length !== n || first.failed) throw new Error(`first run recovered ${first.recovered.length}, failed ${first.failed}`);
          row(`reconcile: ${fmt(n)} listed, all ${fmt(n)} recovered`, `${fmt(firstMs)} ms`, `${fmt((n / firstMs) * 1000)} calls/s; ${(firstMs / (listMs + appendMs)).toFixed(2)}× the time of A + B`);
          // the projection has not run here: the rerun's shortcut (call_logs) finds nothing, the store decides each
          t = performance.now();
          const rerun = await runReconcile(opts, { window, dryRun: false, moveWatermark: true });
          const rerunMs = performance.now() - t;
          if (rerun.recovered.length !== 0) throw new Error(`rerun recovered ${rerun.recovered.length}`);
          row(`rerun, call_logs behind: ${fmt(n)} listed, 0 recovered (store dedups)`, `${fmt(rerunMs)} ms`, `${fmt((n / rerunMs) * 1000)} calls/s`);
          for (let i = 0; i < calls.length; i += 1000) {
            const rows = calls.slice(i, i + 1000).map((c, j) => ({
              id: c.id, org_id: 'default', status: 'ended', ended_at: c.endedAt!, recording_status: 'none', transcript_only_fallback: true,
              recording_attempts: 0, recording_missing: false, first_position: i + j + 1, last_position: i + j + 1,
            }));
            await db.database.db.insertInto('call_logs').values(rows).execute();
          }
          t = performance.now();
          const steady = await runReconcile(opts, { window, dryRun: false, moveWatermark: true });
          const steadyMs = performance.now() - t;
          if (steady.recovered.length !== 0) throw new Error(`steady rerun recovered ${steady.recovered.length}`);
          row(`steady state (call_logs current): ${fmt(n)} listed, 0 recovered`, `${fmt(steadyMs)} ms`, `${(steadyMs / listMs).toFixed(2)}× the time of A (list only)`);
        } finally {
          await store.close();
          await db.close();
        }
      }
    }
  } finally {
    await vapi.close();
  }
}
