import type { EventData } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';

/**
 * The counters of recording_metrics_daily with their SQL types (db/migrations; test/projections/
 * callLogsColumns.test.ts checks them against the table). The row type, the kysely table type and the column
 * list derive from it. recovered_calls: CallEnded written by the reconciler (calls whose webhook was missed).
 * recordings_expired / transcripts_expired: deleted by retention on purpose, counted apart from missing_flagged.
 */
export const DAILY_COUNTER_SPEC = {
  calls: 'integer', recorded_calls: 'integer', duration_ms: 'bigint', bytes_uploaded: 'bigint', uploads_succeeded: 'integer',
  uploads_failed: 'integer', retries_scheduled: 'integer', abandoned: 'integer', fallbacks: 'integer', downloads: 'integer',
  refreshes: 'integer', orphans_deleted: 'integer', orphan_bytes_deleted: 'bigint', missing_flagged: 'integer',
  recovered_calls: 'integer', recordings_expired: 'integer', transcripts_expired: 'integer',
} as const satisfies Record<string, 'integer' | 'bigint'>;

export type CounterColumn = keyof typeof DAILY_COUNTER_SPEC;
export const COUNTER_COLUMNS = Object.keys(DAILY_COUNTER_SPEC) as CounterColumn[];

/** One recording_metrics_daily row (per org per UTC day; day is yyyy-mm-dd UTC). */
export type DailyMetrics = { org_id: string; day: string; failures_by_reason: Record<string, number> } & { [K in CounterColumn]: number };

/** One recording_metrics_sweeps row. */
export interface SweepRow {
  sweep_id: string;
  position: number;
  completed_at: string;
  scanned: number;
  deleted: number;
  bytes_freed: number;
  missing_flagged: number;
  duration_ms: number;
  complete: boolean;
  failed_by_org: Record<string, number>;
}

export const METRICS_EVENTS = new Set([
  'CallEnded', 'RecordingUploaded', 'UploadFailed', 'UploadRetryScheduled', 'UploadAbandoned', 'TranscriptOnlyFallback',
  'RecordingAccessed', 'OrphanDeleted', 'RecordingMissing', 'SweepCompleted', 'RecordingExpired', 'TranscriptExpired',
]);

export function emptyDaily(orgId: string, day: string): DailyMetrics {
  const row = { org_id: orgId, day, failures_by_reason: {} } as DailyMetrics;
  for (const c of COUNTER_COLUMNS) row[c] = 0;
  return row;
}

/** The UTC day an event counts on: when callrec says the fact happened. */
export function dayOf(e: RecordedEvent): string {
  const t = Date.parse(e.metadata.recordedAt);
  return new Date(Number.isNaN(t) ? e.storedAt.getTime() : t).toISOString().slice(0, 10);
}

/** Adds `b` into `a` (counters and failures by reason). Integer sums only, so the order never matters. */
export function addDaily(a: DailyMetrics, b: DailyMetrics): DailyMetrics {
  const out: DailyMetrics = { ...a, failures_by_reason: { ...a.failures_by_reason } };
  for (const c of COUNTER_COLUMNS) out[c] = a[c] + b[c];
  for (const [k, v] of Object.entries(b.failures_by_reason)) out.failures_by_reason[k] = (out.failures_by_reason[k] ?? 0) + v;
  return out;
}

/**
 * Pure: what one batch of events adds to the daily rows (keyed `org|day`) and which sweep rows it makes.
 */
export function metricsDeltas(events: RecordedEvent[]): { daily: Map<string, DailyMetrics>; sweeps: SweepRow[] } {
  const daily = new Map<string, DailyMetrics>();
  const sweeps: SweepRow[] = [];
  const row = (e: RecordedEvent) => {
    const day = dayOf(e);
    const key = `${e.metadata.orgId}|${day}`;
    let r = daily.get(key);
    if (!r) daily.set(key, (r = emptyDaily(e.metadata.orgId, day)));
    return r;
  };
  for (const e of events) {
    switch (e.type) {
      case 'CallEnded': {
        const d = e.data as EventData<'CallEnded'>;
        const r = row(e);
        r.calls += 1;
        if (e.metadata.actor === 'system:reconciler') r.recovered_calls += 1;
        if (d.recordingUrl || d.stereoRecordingUrl) r.recorded_calls += 1;
        if (d.durationSeconds !== null && Number.isFinite(d.durationSeconds)) r.duration_ms += Math.round(d.durationSeconds * 1000);
        break;
      }
      case 'RecordingUploaded': {
        const d = e.data as EventData<'RecordingUploaded'>;
        const r = row(e);
        r.uploads_succeeded += 1;
        r.bytes_uploaded += d.bytes;
        break;
      }
      case 'UploadFailed': {
        const d = e.data as EventData<'UploadFailed'>;
        const r = row(e);
        r.uploads_failed += 1;
        r.failures_by_reason[d.code] = (r.failures_by_reason[d.code] ?? 0) + 1;
        break;
      }
      case 'UploadRetryScheduled':
        row(e).retries_scheduled += 1;
        break;
      case 'UploadAbandoned':
        row(e).abandoned += 1;
        break;
      case 'TranscriptOnlyFallback':
        row(e).fallbacks += 1;
        break;
      case 'RecordingAccessed': {
        const d = e.data as EventData<'RecordingAccessed'>;
        if (d.action === 'refresh') row(e).refreshes += 1;
        else row(e).downloads += 1;
        break;
      }
      case 'OrphanDeleted': {
        const d = e.data as EventData<'OrphanDeleted'>;
        const r = row(e);
        r.orphans_deleted += 1;
        r.orphan_bytes_deleted += d.bytes;
        break;
      }
      case 'RecordingMissing':
        row(e).missing_flagged += 1;
        break;
      case 'RecordingExpired':
        row(e).recordings_expired += 1;
        break;
      case 'TranscriptExpired':
        row(e).transcripts_expired += 1;
        break;
      case 'SweepCompleted': {
        const d = e.data as EventData<'SweepCompleted'>;
        const failedByOrg: Record<string, number> = {};
        const failed = Array.isArray(e.metadata.failed) ? (e.metadata.failed as Array<{ orgId?: unknown }>) : [];
        for (const f of failed) {
          const org = typeof f?.orgId === 'string' ? f.orgId : e.metadata.orgId;
          failedByOrg[org] = (failedByOrg[org] ?? 0) + 1;
        }
        sweeps.push({
          sweep_id: d.sweepId,
          position: e.position,
          completed_at: e.metadata.recordedAt,
          scanned: d.scanned,
          deleted: d.deleted,
          bytes_freed: d.bytesFreed,
          missing_flagged: d.missingFlagged,
          duration_ms: d.durationMs,
          complete: e.metadata.complete !== false,
          failed_by_org: failedByOrg,
        });
        break;
      }
    }
  }
  return { daily, sweeps };
}
