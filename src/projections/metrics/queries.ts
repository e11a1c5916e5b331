import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { countExpiredRecordings, countMissingRecordings } from '../callLogs/queries.ts';
import { addDaily, emptyDaily, type DailyMetrics } from './evolve.ts';
import { dailyFromDb, withMetrics } from './projector.ts';

/** `all` = every organisation (admins only; the route checks). */
export type MetricsScope = { orgId: string } | { orgId: 'all' };

export interface MetricsWindow {
  /** First day, yyyy-mm-dd (UTC), inclusive. */
  from: string;
  /** Last day, yyyy-mm-dd (UTC), inclusive. */
  to: string;
}

export const MB = 1024 * 1024;

export interface SuccessMetric {
  name: string;
  description: string;
  value: number | null;
  unit: 'ratio' | 'count' | 'bytes';
  /** Null for figures reported without a target. */
  target: number | null;
  comparison: '>=' | '<=' | '<' | null;
  /** Null without a target; true when there was nothing to measure. */
  met: boolean | null;
}

export interface OrphanStatus {
  /** Orphans the last sweep found but could not delete (still in storage). */
  pendingFromLastSweep: number;
  /** Calls whose uploaded object is gone (call_logs.recording_missing). */
  missingFlagged: number;
  /** Calls whose recording retention deleted (recording_status 'expired'): expected, not an orphan problem. */
  expiredRecordings: number;
  lastSweep: { sweepId: string; completedAt: string; scanned: number; deleted: number; bytesFreed: number; missingFlagged: number; complete: boolean } | null;
}

export interface UrlRejections {
  expired: number;
  invalid: number;
}

/** The daily rows of the window, oldest first; for `all`, the orgs are summed per day. Days without data are omitted. */
export async function dailyMetrics(db: Kysely<DB>, scope: MetricsScope, window: MetricsWindow): Promise<DailyMetrics[]> {
  let q = withMetrics(db)
    .selectFrom('recording_metrics_daily')
    .selectAll()
    .select(sql<string>`day::text`.as('day_text'))
    .where(sql<boolean>`day between ${window.from}::date and ${window.to}::date`);
  if (scope.orgId !== 'all') q = q.where('org_id', '=', scope.orgId);
  const rows = await q.orderBy('day').orderBy('org_id').execute();
  const byDay = new Map<string, DailyMetrics>();
  for (const raw of rows) {
    const r = dailyFromDb({ ...(raw as Record<string, unknown>), day: (raw as { day_text: string }).day_text });
    const org = scope.orgId === 'all' ? 'all' : r.org_id;
    byDay.set(r.day, addDaily(byDay.get(r.day) ?? emptyDaily(org, r.day), r));
  }
  return [...byDay.values()];
}

export async function orphanStatus(db: Kysely<DB>, scope: MetricsScope): Promise<OrphanStatus> {
  const last = await withMetrics(db).selectFrom('recording_metrics_sweeps').selectAll().orderBy('position', 'desc').limit(1).executeTakeFirst();
  let pending = 0;
  if (last) {
    const failed = (typeof last.failed_by_org === 'string' ? JSON.parse(last.failed_by_org) : last.failed_by_org) as Record<string, number>;
    for (const [org, n] of Object.entries(failed ?? {})) if (scope.orgId === 'all' || org === scope.orgId) pending += Number(n);
  }
  const missing = await countMissingRecordings(db, scope.orgId);
  const expired = await countExpiredRecordings(db, scope.orgId);
  return {
    pendingFromLastSweep: pending,
    missingFlagged: missing,
    expiredRecordings: expired,
    lastSweep: last
      ? {
          sweepId: last.sweep_id,
          completedAt: new Date(last.completed_at).toISOString(),
          scanned: last.scanned,
          deleted: last.deleted,
          bytesFreed: Number(last.bytes_freed),
          missingFlagged: last.missing_flagged,
          complete: last.complete,
        }
      : null,
  };
}

/** Counts one refused /recordings request (expired or invalid signature) on today's row. */
export async function recordUrlRejection(db: Kysely<DB>, reason: 'expired' | 'invalid', now: Date): Promise<void> {
  await withMetrics(db)
    .insertInto('recording_url_rejections')
    .values({ day: now.toISOString().slice(0, 10), reason, count: 1 })
    .onConflict((oc) => oc.columns(['day', 'reason']).doUpdateSet({ count: sql`recording_url_rejections.count + 1` }))
    .execute();
}

export async function urlRejections(db: Kysely<DB>, window: MetricsWindow): Promise<UrlRejections> {
  const rows = await withMetrics(db)
    .selectFrom('recording_url_rejections')
    .select(['reason', (eb) => eb.fn.sum<string>('count').as('n')])
    .where(sql<boolean>`day between ${window.from}::date and ${window.to}::date`)
    .groupBy('reason')
    .execute();
  const out: UrlRejections = { expired: 0, invalid: 0 };
  for (const r of rows) if (r.reason === 'expired' || r.reason === 'invalid') out[r.reason] = Number(r.n);
  return out;
}

function ratio(n: number, d: number): number | null {
  return d > 0 ? n / d : null;
}

function check(value: number | null, target: number, comparison: '>=' | '<=' | '<'): boolean {
  if (value === null) return true; // nothing to measure: nothing missed
  return comparison === '>=' ? value >= target : comparison === '<=' ? value <= target : value < target;
}

/**
 * Pure: the success-metrics table over a window.
 * - upload success rate = recordings uploaded / (uploaded + abandoned); target ≥ 99.9 %
 * - URL expiry errors = /recordings requests refused for an expired or invalid signature; target 0
 * - orphaned recordings = orphans the last sweep could not delete + calls flagged missing; target 0
 * - average recording size = bytes uploaded / recordings uploaded; target < 50 MB
 * - download count (no target)
 * - failed-upload retry rate = retries scheduled / (uploaded + abandoned); target < 1 %
 * - calls recovered = ended calls whose webhook was missed, recovered from Vapi's call list (no target)
 */
export function successMetrics(totals: DailyMetrics, rejections: UrlRejections, orphans: OrphanStatus): SuccessMetric[] {
  const finished = totals.uploads_succeeded + totals.abandoned;
  const m = (name: string, description: string, value: number | null, unit: SuccessMetric['unit'], target: number | null, comparison: SuccessMetric['comparison']): SuccessMetric => ({
    name, description, value, unit, target, comparison, met: target === null || comparison === null ? null : check(value, target, comparison),
  });
  return [
    m('upload_success_rate', 'recordings uploaded / (uploaded + abandoned)', ratio(totals.uploads_succeeded, finished), 'ratio', 0.999, '>='),
    m('url_expiry_errors', 'recording URL requests refused for an expired or invalid signature', rejections.expired + rejections.invalid, 'count', 0, '<='),
    m('orphaned_recordings', 'orphans the last sweep could not delete + calls whose recording object is gone', orphans.pendingFromLastSweep + orphans.missingFlagged, 'count', 0, '<='),
    m('average_recording_size', 'bytes uploaded / recordings uploaded', ratio(totals.bytes_uploaded, totals.uploads_succeeded), 'bytes', 50 * MB, '<'),
    m('download_count', 'recording URLs handed out for download', totals.downloads, 'count', null, null),
    m('failed_upload_retry_rate', 'retries scheduled / (uploaded + abandoned)', ratio(totals.retries_scheduled, finished), 'ratio', 0.01, '<'),
    m('calls_recovered', 'ended calls whose webhook was missed, recovered from Vapi\'s call list by the reconciler', totals.recovered_calls, 'count', null, null),
  ];
}

export interface MetricsReport {
  org: string;
  from: string;
  to: string;
  metrics: SuccessMetric[];
  totals: DailyMetrics;
  days: DailyMetrics[];
  urlRejections: UrlRejections;
  orphans: OrphanStatus;
}

export async function metricsReport(db: Kysely<DB>, scope: MetricsScope, window: MetricsWindow): Promise<MetricsReport> {
  const days = await dailyMetrics(db, scope, window);
  const totals = days.reduce((acc, d) => addDaily(acc, d), emptyDaily(scope.orgId, `${window.from}/${window.to}`));
  const rejections = await urlRejections(db, window);
  const orphans = await orphanStatus(db, scope);
  return { org: scope.orgId, from: window.from, to: window.to, metrics: successMetrics(totals, rejections, orphans), totals, days, urlRejections: rejections, orphans };
}
