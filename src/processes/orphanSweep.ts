import { Cron } from 'croner';
import { sweepStream } from '../events/catalog.ts';
import type { EventStore } from '../events/port.ts';
import { silentLogger } from '../log.ts';
import { leaseKeeper } from '../db/leases.ts';
import { sweepCompletedEvent, sweepDay, sweepIdFor, type SweepEventContext } from '../commands/sweep.ts';
import type { OrphanSweepOptions, SweepResult } from './orphanSweepTypes.ts';
import { deleteOrphans } from './sweepOrphans.ts';
import { flagMissingRecordings } from './sweepMissing.ts';
/**
 * The orphan sweep. Two directions:
 *
 * 1. Storage → calls: every object no call_logs row references (recording_storage_path) and older than
 *    `minAgeDays` is deleted. Order per object: re-stat it, append `OrphanDeleted`, then remove it.
 *    The event is written AHEAD of the removal, so a deletion can never happen without its event, even
 *    when the process dies in between. If the removal then fails, the object is still there: the failure
 *    is in the run's result and in the `SweepCompleted` metadata (`failed`), `deleted` counts only real
 *    removals, and the next run lists the object again and removes it (on the same day the event id is the
 *    same, so no second event). An append that fails means no removal.
 * 2. Calls → storage: every call whose recording_status is 'uploaded' and whose object is gone gets one
 *    `RecordingMissing` on its call stream.
 *
 * A dry run lists and decides exactly the same way and writes and deletes nothing.
 */

export type { OrphanSweepOptions, SweepFailure, SweepResult } from './orphanSweepTypes.ts';

/** How many SweepCompleted the day's stream holds (and whether the last one was a complete run). */
async function previousRuns(store: EventStore, day: string): Promise<{ runs: number; completed: boolean }> {
  const events = await store.readStream(sweepStream(day));
  const done = events.filter((e) => e.type === 'SweepCompleted');
  return { runs: done.length, completed: done.some((e) => e.metadata.complete !== false) };
}

/**
 * `run.onlyPaths`: delete at most these objects (what a user confirmed after a dry run); an object that became
 * an orphan since is left for the next sweep.
 */
export async function runOrphanSweep(opts: OrphanSweepOptions, run: { dryRun: boolean; onlyPaths?: ReadonlySet<string> }): Promise<SweepResult> {
  const { store, fallbackOrgId } = opts;
  const clock = opts.clock ?? (() => new Date());
  const logger = opts.logger ?? silentLogger;
  const pageSize = Math.max(1, opts.pageSize ?? 500);
  const startedAt = Date.now();
  const now = clock();
  const day = sweepDay(now);
  const { runs } = await previousRuns(store, day);
  const runNumber = runs + 1;
  const sweepId = sweepIdFor(day, runNumber);
  const ctx: SweepEventContext = { sweepId, day, now, actor: opts.actor ?? 'system:orphan-sweep' };
  const dryRun = run.dryRun;
  const result: SweepResult = {
    sweepId, day, dryRun, scanned: 0, deleted: [], bytesFreed: 0, keptReferenced: 0, keptYoung: 0, failed: [],
    missing: [], missingFlagged: 0, missingCheckErrors: 0, durationMs: 0, complete: true,
  };
  const log = logger.child({ sweepId, dryRun });

  await opts.beforeSweep?.();

  await deleteOrphans({ opts, ctx, result, log, clock, pageSize, dryRun, onlyPaths: run.onlyPaths });
  if (result.complete) await flagMissingRecordings({ opts, ctx, result, log, clock, pageSize, dryRun });

  result.durationMs = Date.now() - startedAt;
  if (!dryRun) {
    const summary = {
      sweepId, scanned: result.scanned, deleted: result.deleted.length, bytesFreed: result.bytesFreed,
      missingFlagged: result.missingFlagged, durationMs: result.durationMs,
    };
    const event = sweepCompletedEvent(ctx, runNumber, summary, result.failed.map(({ path, orgId, code }) => ({ path, orgId, code })), fallbackOrgId);
    event.metadata.complete = result.complete;
    const r = await store.append(sweepStream(day), [event], 'any');
    if (!r.ok) log.error({ errorCode: 'database_unavailable' }, `SweepCompleted could not be written: ${r.error.message}`);
  }
  log.info({ scanned: result.scanned, deleted: result.deleted.length, bytesFreed: result.bytesFreed, missingFlagged: result.missingFlagged, failed: result.failed.length }, 'orphan sweep finished');
  return result;
}

// ---------------------------------------------------------------------------------------------------

export interface OrphanSweepProcessOptions extends Omit<OrphanSweepOptions, 'keepGoing'> {
  /** Cron pattern, evaluated in UTC (ORPHAN_SWEEP_CRON). */
  cron: string;
  instanceId: string;
  /** Lease time-to-live; renewed between pages (default 10 min). */
  leaseMs?: number;
  onResult?: (result: SweepResult) => void;
}

export interface OrphanSweepProcess {
  start(): void;
  stop(): Promise<void>;
  /** One scheduled-style run now: only under the lease, skipped when today already has a complete sweep. */
  tick(): Promise<SweepResult | 'skipped'>;
  nextRun(): Date | null;
}

export const SWEEP_LEASE = 'process:orphan_sweep';

/** The daily sweep: croner in UTC, one active instance at a time (lease row). */
export function createOrphanSweepProcess(opts: OrphanSweepProcessOptions): OrphanSweepProcess {
  const logger = opts.logger ?? silentLogger;
  const leaseMs = opts.leaseMs ?? 600_000;
  const clock = opts.clock ?? (() => new Date());
  let job: Cron | undefined;
  let running: Promise<unknown> | undefined;
  const lease = leaseKeeper(opts.db, SWEEP_LEASE, opts.instanceId, leaseMs);

  async function tick(): Promise<SweepResult | 'skipped'> {
    // The lease is not released after a run: it stays until it expires, so an instance whose cron fires a
    // little later finds it taken (and then today's SweepCompleted) instead of sweeping again.
    if (!(await lease.renew())) return 'skipped';
    if ((await previousRuns(opts.store, sweepDay(clock()))).completed) return 'skipped';
    const result = await runOrphanSweep(
      { ...opts, keepGoing: () => lease.renew().catch(() => false) },
      { dryRun: false },
    );
    opts.onResult?.(result);
    return result;
  }

  return {
    start() {
      if (job) return;
      job = new Cron(opts.cron, { timezone: 'UTC', protect: true, unref: true }, async () => {
        const p = tick().catch((err) => logger.error({ err, errorCode: 'internal' }, 'orphan sweep failed'));
        running = p;
        await p;
      });
    },
    async stop() {
      job?.stop();
      job = undefined;
      await running;
      await lease.release();
    },
    tick,
    nextRun: () => job?.nextRun() ?? null,
  };
}
