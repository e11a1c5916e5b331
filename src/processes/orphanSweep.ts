import { Cron } from 'croner';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { callStream, sweepStream } from '../events/catalog.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import { silentLogger, type Logger } from '../log.ts';
import { uploadedRecordingsAfter, referencedPaths } from '../projections/callLogs/queries.ts';
import { leaseKeeper } from '../db/leases.ts';
import { isStorageListError, type RecordingStorage, type StoredObject } from '../storage/port.ts';
import {
  decideObject,
  orgOfPath,
  orphanDeletedEvent,
  recordingMissingEvent,
  sweepCompletedEvent,
  sweepDay,
  sweepIdFor,
  type MissingCall,
  type ObjectDecision,
  type SweepEventContext,
} from '../commands/sweep.ts';

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

export interface SweepFailure {
  path: string;
  orgId: string;
  code: string;
  message: string;
}

export interface SweepResult {
  sweepId: string;
  day: string;
  dryRun: boolean;
  scanned: number;
  /** Deleted (or, in a dry run, would be deleted). */
  deleted: ObjectDecision[];
  bytesFreed: number;
  keptReferenced: number;
  keptYoung: number;
  /** Orphans whose OrphanDeleted could not be written or whose removal failed: still in storage. */
  failed: SweepFailure[];
  /** Calls flagged (or, in a dry run, that would be flagged) as missing their object; already flagged ones excluded. */
  missing: MissingCall[];
  missingFlagged: number;
  /** Calls whose object could not be checked. */
  missingCheckErrors: number;
  durationMs: number;
  /** False when listing stopped early (`error` says why); what was done up to then stands. */
  complete: boolean;
  error?: { code: string; message: string };
}

export interface OrphanSweepOptions {
  db: Kysely<DB>;
  store: EventStore;
  storage: RecordingStorage;
  minAgeDays: number;
  /** Org of objects whose path does not start with an org id, and of the SweepCompleted summary. */
  fallbackOrgId: string;
  clock?: () => Date;
  logger?: Logger;
  /** Objects per storage listing request and per reference lookup (default 500). */
  pageSize?: number;
  /** Brings call_logs up to the head of the log before deciding (so a fresh upload counts as referenced). */
  beforeSweep?: () => Promise<void>;
  /** Called between pages; returning false aborts the run (the lease was lost). */
  keepGoing?: () => Promise<boolean>;
  /** After each page of the listing: objects scanned and deleted (would be, in a dry run) so far. */
  onProgress?: (progress: { scanned: number; deleted: number }) => void;
  actor?: string;
}

const STAT_CONCURRENCY = 8;

/** How many SweepCompleted the day's stream holds (and whether the last one was a complete run). */
async function previousRuns(store: EventStore, day: string): Promise<{ runs: number; completed: boolean }> {
  const events = await store.readStream(sweepStream(day));
  const done = events.filter((e) => e.type === 'SweepCompleted');
  return { runs: done.length, completed: done.some((e) => e.metadata.complete !== false) };
}

/** Appends one event; an already present event with the same id counts as written (same object, same day). */
async function appendOnce(store: EventStore, stream: string, event: NewEvent): Promise<{ ok: true; fresh: boolean } | { ok: false; message: string }> {
  const r = await store.append(stream, [event], 'any');
  if (r.ok) return { ok: true, fresh: !r.duplicate };
  if (r.error.code === 'event_id_conflict') return { ok: true, fresh: false };
  return { ok: false, message: r.error.message };
}

/**
 * `run.onlyPaths`: delete at most these objects (what a user confirmed after a dry run); an object that became
 * an orphan since is left for the next sweep.
 */
export async function runOrphanSweep(opts: OrphanSweepOptions, run: { dryRun: boolean; onlyPaths?: ReadonlySet<string> }): Promise<SweepResult> {
  const { db, store, storage, minAgeDays, fallbackOrgId } = opts;
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

  // --- 1. storage → calls: orphans --------------------------------------------------------------
  const fail = (path: string, code: string, message: string) => {
    result.failed.push({ path, orgId: orgOfPath(path, fallbackOrgId), code, message });
    log.error({ storagePath: path, errorCode: code }, `orphan not deleted: ${message}`);
  };

  async function handleOrphan(d: ObjectDecision) {
    if (dryRun) {
      result.deleted.push(d);
      result.bytesFreed += d.bytes;
      return;
    }
    if (run.onlyPaths && !run.onlyPaths.has(d.path)) return;
    // The listing may be minutes old: look again right before deciding for good.
    const fresh = await storage.stat(d.path);
    if (!fresh.ok) return fail(d.path, 'storage_unavailable', fresh.error.message);
    if (fresh.value === null) return; // gone meanwhile: nothing to do
    const again = decideObject(fresh.value, (await referencedPaths(db, [d.path])).has(d.path), clock(), minAgeDays);
    if (again.action !== 'delete') {
      if (again.action === 'keep-young') result.keptYoung++;
      else result.keptReferenced++;
      return;
    }
    const appended = await appendOnce(store, sweepStream(day), orphanDeletedEvent(ctx, again, fallbackOrgId));
    if (!appended.ok) return fail(d.path, 'database_unavailable', `OrphanDeleted could not be written, so the object was kept: ${appended.message}`);
    const removed = await storage.remove([d.path]);
    if (!removed.ok) return fail(d.path, 'storage_unavailable', `OrphanDeleted was written but the removal failed: ${removed.error.message}`);
    result.deleted.push(again);
    result.bytesFreed += again.bytes;
    log.info({ storagePath: d.path, bytes: again.bytes, ageDays: again.ageDays }, 'orphan deleted');
  }

  async function handlePage(page: StoredObject[]) {
    const referenced = await referencedPaths(db, page.map((o) => o.path));
    for (const obj of page) {
      const d = decideObject(obj, referenced.has(obj.path), now, minAgeDays);
      if (d.action === 'keep-referenced') result.keptReferenced++;
      else if (d.action === 'keep-young') result.keptYoung++;
      else await handleOrphan(d);
    }
    opts.onProgress?.({ scanned: result.scanned, deleted: result.deleted.length });
  }

  try {
    let page: StoredObject[] = [];
    for await (const obj of storage.list('', { pageSize })) {
      result.scanned++;
      page.push(obj);
      if (page.length >= pageSize) {
        await handlePage(page);
        page = [];
        if (opts.keepGoing && !(await opts.keepGoing())) throw new SweepAborted();
      }
    }
    await handlePage(page);
  } catch (err) {
    result.complete = false;
    if (err instanceof SweepAborted) result.error = { code: 'conflict', message: 'the sweep lease was lost; another instance carries on' };
    else if (isStorageListError(err)) result.error = { code: 'storage_unavailable', message: err.message };
    else throw err;
    log.error({ errorCode: result.error.code }, `listing storage stopped early: ${result.error.message}`);
  }

  // --- 2. calls → storage: recordings that vanished ----------------------------------------------
  if (result.complete) {
    let after = '';
    for (;;) {
      const rows = await uploadedRecordingsAfter(db, after, pageSize);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const calls: MissingCall[] = rows.map((r) => ({ callId: r.id, orgId: r.org_id, storagePath: r.recording_storage_path!, sha256: r.recording_sha256 }));
      let next = 0;
      const worker = async () => {
        while (next < calls.length) {
          const call = calls[next++]!;
          const found = await storage.stat(call.storagePath);
          if (!found.ok) {
            result.missingCheckErrors++;
            log.warn({ callId: call.callId, errorCode: 'storage_unavailable' }, `could not check the recording: ${found.error.message}`);
            continue;
          }
          if (found.value !== null) continue;
          if (dryRun) {
            result.missing.push(call);
            continue;
          }
          const appended = await appendOnce(store, callStream(call.callId), recordingMissingEvent(ctx, call));
          if (!appended.ok) {
            result.missingCheckErrors++;
            log.error({ callId: call.callId, errorCode: 'database_unavailable' }, `RecordingMissing could not be written: ${appended.message}`);
            continue;
          }
          if (appended.fresh) {
            result.missing.push(call);
            log.warn({ callId: call.callId, storagePath: call.storagePath, errorCode: 'recording_missing' }, 'recording object is gone');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, calls.length) }, worker));
      if (rows.length < pageSize) break;
    }
    result.missingFlagged = result.missing.length;
  }

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

class SweepAborted extends Error {}

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
