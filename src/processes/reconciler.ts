import { reconcileWindow } from '../commands/reconcile.ts';
import { silentLogger } from '../log.ts';
import { leaseKeeper } from '../db/leases.ts';
import { readWatermark, runReconcile, type ReconcileOptions, type ReconcileResult } from './reconcile.ts';

/**
 * The reconciler process: one instance at a time (a lease it keeps renewing, so the same instance stays
 * the reconciler until it stops or dies), a run at once when it takes the lease and then every
 * `intervalSeconds`, over the window since the watermark minus `overlapMinutes`. A failed run leaves the
 * watermark where it was: the next run reads the same calls again.
 */

export const RECONCILE_LEASE = 'process:reconciler';

export interface ReconcilerOptions extends Omit<ReconcileOptions, 'keepGoing'> {
  instanceId: string;
  intervalSeconds: number;
  overlapMinutes: number;
  /** Lease time-to-live (renewed every third of it). */
  leaseMs: number;
  onResult?: (r: ReconcileResult) => void;
}

export interface Reconciler {
  start(): void;
  /** Stops at a safe point (between pages) and releases the lease. */
  stop(): Promise<void>;
  /** One run now if this instance holds (or can take) the lease; 'skipped' otherwise. */
  tick(): Promise<ReconcileResult | 'skipped'>;
  /** Whether this instance is the reconciler right now. */
  isLeader(): boolean;
}

export function createReconciler(opts: ReconcilerOptions): Reconciler {
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? (() => new Date());
  const lease = leaseKeeper(opts.db, RECONCILE_LEASE, opts.instanceId, opts.leaseMs);
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let leader = false;
  let nextRunAt = 0;
  let running: Promise<unknown> | undefined;

  async function tick(): Promise<ReconcileResult | 'skipped'> {
    if (!(await lease.hold())) return 'skipped';
    const window = reconcileWindow(await readWatermark(opts.db), clock(), opts.overlapMinutes);
    const result = await runReconcile(
      { ...opts, keepGoing: async () => !stopping && (await lease.hold()) },
      { window, dryRun: false, moveWatermark: true },
    );
    opts.onResult?.(result);
    return result;
  }

  async function beat(): Promise<void> {
    const held = await lease.hold();
    if (held && !leader) nextRunAt = Date.now(); // just became the reconciler: run now
    leader = held;
    if (!held || stopping || Date.now() < nextRunAt) return;
    nextRunAt = Date.now() + opts.intervalSeconds * 1000;
    await tick();
  }

  function schedule() {
    if (stopping) return;
    const wait = Math.max(50, Math.min(opts.leaseMs / 3, opts.intervalSeconds * 1000));
    timer = setTimeout(() => {
      running = beat()
        .catch((err) => logger.error({ err, errorCode: 'internal' }, 'reconciliation failed; the next run tries again'))
        .finally(schedule);
    }, wait);
    timer.unref();
  }

  return {
    start() {
      if (timer || stopping) return;
      // first beat soon, not after a full lease third
      timer = setTimeout(() => {
        running = beat().catch((err) => logger.error({ err, errorCode: 'internal' }, 'reconciliation failed')).finally(schedule);
      }, 0);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
      leader = false;
      await lease.release();
    },
    tick,
    isLeader: () => leader,
  };
}
