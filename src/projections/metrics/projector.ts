import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Projector } from '../projector.ts';
import { addDaily, COUNTER_COLUMNS, DAILY_COUNTER_SPEC, emptyDaily, METRICS_EVENTS, metricsDeltas, type CounterColumn, type DailyMetrics } from './evolve.ts';

type Int8 = string | number | bigint;

export type RecordingMetricsDailyTable = { org_id: string; day: string; failures_by_reason: unknown } & {
  [K in CounterColumn]: (typeof DAILY_COUNTER_SPEC)[K] extends 'bigint' ? Int8 : number;
};

export interface RecordingMetricsSweepsTable {
  sweep_id: string;
  position: Int8;
  completed_at: string | Date;
  scanned: number;
  deleted: number;
  bytes_freed: Int8;
  missing_flagged: number;
  duration_ms: number;
  complete: boolean;
  failed_by_org: unknown;
}

export interface RecordingUrlRejectionsTable {
  day: string;
  reason: string;
  count: Int8;
}

type MetricsTables = {
  recording_metrics_daily: RecordingMetricsDailyTable;
  recording_metrics_sweeps: RecordingMetricsSweepsTable;
  recording_url_rejections: RecordingUrlRejectionsTable;
};
export type MetricsDB = DB & MetricsTables;

export const withMetrics = <T extends Kysely<DB> | Transaction<DB>>(db: T) =>
  db.withTables<MetricsTables>() as unknown as T extends Transaction<DB> ? Transaction<MetricsDB> : Kysely<MetricsDB>;

/** A row as read from the database: numbers normalised, day as yyyy-mm-dd. */
export function dailyFromDb(r: Record<string, unknown>): DailyMetrics {
  const out = emptyDaily(String(r.org_id), String(r.day).slice(0, 10));
  for (const c of COUNTER_COLUMNS) out[c] = Number(r[c] ?? 0);
  const f = typeof r.failures_by_reason === 'string' ? JSON.parse(r.failures_by_reason) : r.failures_by_reason;
  out.failures_by_reason = Object.fromEntries(Object.entries((f ?? {}) as Record<string, unknown>).map(([k, v]) => [k, Number(v)]));
  return out;
}

const CHUNK = 500;

/**
 * recording_metrics: per org per UTC day counters (calls, recordings, bytes, failures by reason, retries,
 * downloads, orphans…) plus one row per sweep run. A batch is summed in memory (pure metricsDeltas), merged
 * with the rows it touches and written back with one upsert. Integer sums only: a rebuild gives the same rows.
 */
export const recordingMetricsProjector: Projector = {
  name: 'recording_metrics',
  tables: ['recording_metrics_daily', 'recording_metrics_sweeps'],
  handles: METRICS_EVENTS,
  async apply(trx, events) {
    const { daily, sweeps } = metricsDeltas(events);
    const db = withMetrics(trx);
    const deltas = [...daily.values()];
    for (let i = 0; i < deltas.length; i += CHUNK) {
      const chunk = deltas.slice(i, i + CHUNK);
      const orgs = [...new Set(chunk.map((d) => d.org_id))];
      const days = [...new Set(chunk.map((d) => d.day))];
      const existing = await db
        .selectFrom('recording_metrics_daily')
        .select(['org_id', 'failures_by_reason', ...COUNTER_COLUMNS])
        .select(sql<string>`day::text`.as('day'))
        .where('org_id', 'in', orgs)
        .where(sql<boolean>`day = any(${days}::date[])`)
        .execute();
      const current = new Map(existing.map((r) => [`${r.org_id}|${String(r.day).slice(0, 10)}`, dailyFromDb(r as unknown as Record<string, unknown>)]));
      const rows = chunk.map((d) => {
        const merged = addDaily(current.get(`${d.org_id}|${d.day}`) ?? emptyDaily(d.org_id, d.day), d);
        return { ...merged, failures_by_reason: JSON.stringify(merged.failures_by_reason) };
      });
      await db
        .insertInto('recording_metrics_daily')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['org_id', 'day']).doUpdateSet((eb) => {
            const set: Record<string, unknown> = { failures_by_reason: eb.ref('excluded.failures_by_reason') };
            for (const c of COUNTER_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
            return set as never;
          }),
        )
        .execute();
    }
    if (sweeps.length > 0) {
      await db
        .insertInto('recording_metrics_sweeps')
        .values(sweeps.map((s) => ({ ...s, failed_by_org: JSON.stringify(s.failed_by_org) })))
        .onConflict((oc) => oc.column('sweep_id').doNothing())
        .execute();
    }
  },
};
