import { sql, type Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/schema.ts';
import { alreadyEnded, stuckCalls } from '../projections/callLogs/queries.ts';
import type { OrgResolver } from '../commands/orgs.ts';
import { nextWatermark, reconciliationCompletedEvent, recoveredCallEnded, RECONCILER_ACTOR, type Window } from '../commands/reconcile.ts';
import type { EventStore } from '../events/port.ts';
import { silentLogger, type Logger } from '../log.ts';
import { callToReport, isEnded, type VapiCall } from '../vapi/calls.ts';
import { getCall, listCalls } from '../vapi/listCalls.ts';
import type { VapiClient } from '../vapi/restClient.ts';

/**
 * One reconcile run: list Vapi's calls updated in a window (`GET /call`, paged tie-safely) and append a
 * CallEnded for every ended call the log lacks, with the webhook's deterministic event id, so webhook,
 * reconciler, a second instance and a rerun meet in exactly one event (the store refuses a second copy).
 * Calls call_logs saw in progress but never ended, older than `stuckMinutes`, are looked up one by one
 * (`GET /call/:id`). Then `ReconciliationCompleted` {window, listed, recovered, failed} is appended and the
 * watermark moves to the window's end — only when the listing was complete and nothing failed.
 */

export const WATERMARK_CHECKPOINT = 'reconciler:watermark';
/** Calls whose status was last seen this long ago are not looked up any more (Vapi keeps no call open for a week). */
const STUCK_HORIZON_MS = 7 * 24 * 3600_000;
const STUCK_LOOKUPS_PER_RUN = 100;
const APPEND_CONCURRENCY = 16;

export interface ReconcileOptions {
  db: Kysely<DB>;
  store: EventStore;
  vapi: VapiClient;
  orgs: OrgResolver;
  /** Org of the ReconciliationCompleted summary. */
  fallbackOrgId: string;
  stuckMinutes: number;
  clock?: () => Date;
  logger?: Logger;
  pageSize?: number;
  /** Called between pages; false stops the run early (lease lost, shutting down): the watermark stays. */
  keepGoing?: () => Promise<boolean>;
  /** Each recovered call (metrics). */
  onRecovered?: (callId: string, orgId: string) => void;
  /** Progress after each page (the CLI prints it). */
  onProgress?: (p: { listed: number; recovered: number; failed: number }) => void;
  actor?: string;
  /** Recorded in the ReconciliationCompleted metadata (which instance ran it). */
  instanceId?: string;
}

export interface ReconcileResult {
  runId: string;
  window: { from: string; to: string };
  dryRun: boolean;
  listed: number;
  /** Recovered (or, in a dry run, that call_logs lacks and would be recovered). */
  recovered: string[];
  alreadyPresent: number;
  notEnded: number;
  failed: number;
  complete: boolean;
  error?: { code: string; message: string };
  /** The watermark after the run (unchanged by a dry run or a backfill). */
  watermark: string | null;
  durationMs: number;
}

export async function readWatermark(db: Kysely<DB>): Promise<Date | null> {
  const row = await db.selectFrom('checkpoints').select('position').where('name', '=', WATERMARK_CHECKPOINT).executeTakeFirst();
  const ms = row ? Number(row.position) : 0;
  return ms > 0 ? new Date(ms) : null;
}

/** Moves the watermark forward only (a slower instance's older value never wins). */
async function writeWatermark(db: Kysely<DB>, at: Date): Promise<void> {
  await sql`insert into ${sql.table('checkpoints')} (name, position) values (${WATERMARK_CHECKPOINT}, ${at.getTime()})
    on conflict (name) do update set position = greatest(checkpoints.position, excluded.position), updated_at = now()`.execute(db);
}

class Stopped extends Error {}

export async function runReconcile(opts: ReconcileOptions, run: { window: Window; dryRun: boolean; moveWatermark: boolean }): Promise<ReconcileResult> {
  const { db, store } = opts;
  const clock = opts.clock ?? (() => new Date());
  const startedAt = Date.now();
  const runId = randomUUID();
  const log = (opts.logger ?? silentLogger).child({ reconcileRunId: runId, dryRun: run.dryRun });
  const window = { from: run.window.from.toISOString(), to: run.window.to.toISOString() };
  const previous = await readWatermark(db);
  const result: ReconcileResult = {
    runId, window, dryRun: run.dryRun, listed: 0, recovered: [], alreadyPresent: 0, notEnded: 0, failed: 0, complete: true,
    watermark: previous?.toISOString() ?? null, durationMs: 0,
  };

  async function recover(call: VapiCall): Promise<void> {
    const report = callToReport(call);
    if (!report) {
      result.failed++;
      log.error({ callId: call.id, errorCode: 'invalid_id' }, 'Vapi listed a call whose id callrec cannot store');
      return;
    }
    if (run.dryRun) {
      result.recovered.push(call.id);
      return;
    }
    try {
      const orgId = await opts.orgs.resolve(report);
      const { streamId, event } = recoveredCallEnded(report, { orgId, runId, now: clock() });
      const r = await store.append(streamId, [event], 'any');
      if (r.ok && !r.duplicate) {
        result.recovered.push(call.id);
        opts.onRecovered?.(call.id, orgId);
        log.warn({ callId: call.id, orgId, eventId: event.eventId, errorCode: 'webhook_missed' }, 'call recovered by reconciliation: its end-of-call-report never reached callrec');
      } else if (r.ok || r.error.code === 'event_id_conflict') {
        result.alreadyPresent++; // the webhook (or another run) stored it first: one CallEnded
      } else {
        result.failed++;
        log.error({ callId: call.id, errorCode: r.error.code }, `CallEnded could not be appended: ${r.error.message}`);
      }
    } catch (err) {
      result.failed++;
      log.error({ err, callId: call.id, errorCode: 'database_unavailable' }, 'CallEnded could not be appended');
    }
  }

  async function handle(calls: VapiCall[]): Promise<void> {
    const ended = calls.filter(isEnded);
    result.notEnded += calls.length - ended.length;
    const present = await alreadyEnded(db, ended.map((c) => c.id));
    result.alreadyPresent += present.size;
    const todo = ended.filter((c) => !present.has(c.id));
    let next = 0;
    const worker = async () => {
      while (next < todo.length) await recover(todo[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(APPEND_CONCURRENCY, todo.length) }, worker));
    opts.onProgress?.({ listed: result.listed, recovered: result.recovered.length, failed: result.failed });
  }

  const stopEarly = (code: string, message: string) => {
    result.complete = false;
    result.error = { code, message };
    log.error({ errorCode: code }, `reconciliation stopped early: ${message}`);
  };

  try {
    const pages = listCalls(opts.vapi, { updatedAtGe: window.from, updatedAtLt: window.to }, opts.pageSize);
    let pending = pages.next();
    for (;;) {
      const { value: page, done } = await pending;
      if (done) break;
      if (!page.ok) {
        stopEarly(page.error.code === 'rate_limited' || page.error.retryable ? 'vapi_unavailable' : page.error.code, page.error.message);
        break;
      }
      pending = pages.next(); // the next page downloads while this one is stored
      pending.catch(() => {});
      result.listed += page.calls.length;
      await handle(page.calls);
      if (opts.keepGoing && !(await opts.keepGoing())) throw new Stopped();
    }
    if (result.complete && !run.dryRun) {
      for (const id of await stuckCalls(db, clock(), opts.stuckMinutes, STUCK_HORIZON_MS, STUCK_LOOKUPS_PER_RUN)) {
        const got = await getCall(opts.vapi, id);
        if (!got.ok) {
          if (got.error.code !== 'not_found') result.failed++;
          log.warn({ callId: id, errorCode: got.error.code }, `stuck call could not be looked up: ${got.error.message}`);
          continue;
        }
        result.listed++;
        await handle([got.value]);
      }
    }
  } catch (err) {
    if (!(err instanceof Stopped)) throw err;
    stopEarly('stopped', 'the run was stopped (lease lost or shutting down); the next run carries on');
  }

  if (!run.dryRun) {
    const after = run.moveWatermark ? nextWatermark(previous, { window: run.window, complete: result.complete, failed: result.failed }) : previous;
    const { streamId, event } = reconciliationCompletedEvent(
      {
        window, listed: result.listed, recovered: result.recovered.length, failed: result.failed, complete: result.complete,
        watermark: after?.toISOString() ?? null,
      },
      { runId, orgId: opts.fallbackOrgId, now: clock(), actor: opts.actor ?? RECONCILER_ACTOR },
    );
    if (opts.instanceId) event.metadata.instanceId = opts.instanceId;
    if (result.error) event.metadata.error = result.error;
    const r = await store.append(streamId, [event], 'any');
    if (!r.ok) log.error({ errorCode: r.error.code }, `ReconciliationCompleted could not be written: ${r.error.message}`);
    else if (after && after !== previous) {
      await writeWatermark(db, after);
      result.watermark = after.toISOString();
    }
  }
  result.durationMs = Date.now() - startedAt;
  log.info(
    { window, listed: result.listed, recovered: result.recovered.length, alreadyPresent: result.alreadyPresent, failed: result.failed, complete: result.complete, durationMs: result.durationMs },
    'reconciliation finished',
  );
  return result;
}
