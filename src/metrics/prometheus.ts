import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config.ts';
import { CallrecError } from '../errors.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import type { SweepResult } from '../processes/orphanSweep.ts';

/**
 * Prometheus metrics of one callrec instance, on its own Registry (never prom-client's global one):
 * HTTP latency by matched route, events appended by type (counted at the store, per instance, so the
 * instances of a deployment add up), pipeline outcomes and retries (the same appends, by outcome), sweep
 * results, projection lag and SSE clients (computed when scraped).
 */

/** Event type → pipeline outcome label. */
const OUTCOMES: Record<string, string> = {
  RecordingUploaded: 'uploaded',
  UploadFailed: 'failed',
  UploadAbandoned: 'abandoned',
  TranscriptOnlyFallback: 'fallback',
};

export interface CallrecMetrics {
  registry: Registry;
  /** Koa middleware timing every request, labelled by the router's matched route (never the raw URL). */
  httpMiddleware(): Middleware;
  /** Counts events that were really written (not duplicates). */
  countAppended(events: NewEvent[]): void;
  recordSweep(result: SweepResult): void;
  recordUrlRejection(reason: 'expired' | 'invalid'): void;
  /** head − checkpoint per projector, computed at scrape time. */
  setLagSource(fn: () => Promise<Record<string, number>>): void;
  setSseClientsSource(fn: () => number): void;
  /** For callers without a hub to point at (another process): set the gauge directly. */
  setSseClients(n: number): void;
}

export function createCallrecMetrics(opts: { defaultMetrics?: boolean } = {}): CallrecMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'callrec_' });

  const httpDuration = new Histogram({
    name: 'callrec_http_request_duration_seconds',
    help: 'HTTP request latency by matched route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const appended = new Counter({ name: 'callrec_events_appended_total', help: 'Events appended by this instance, by type', labelNames: ['type'], registers: [registry] });
  const outcomes = new Counter({ name: 'callrec_pipeline_outcomes_total', help: 'Recording pipeline outcomes appended by this instance', labelNames: ['outcome'], registers: [registry] });
  const retries = new Counter({ name: 'callrec_upload_retries_scheduled_total', help: 'Upload retries scheduled by this instance', registers: [registry] });
  const sweepRuns = new Counter({ name: 'callrec_sweep_runs_total', help: 'Orphan sweeps run by this instance', labelNames: ['mode', 'complete'], registers: [registry] });
  const sweepDeleted = new Counter({ name: 'callrec_sweep_orphans_deleted_total', help: 'Orphaned objects deleted by sweeps', registers: [registry] });
  const sweepBytes = new Counter({ name: 'callrec_sweep_bytes_freed_total', help: 'Bytes freed by sweeps', registers: [registry] });
  const sweepFailed = new Counter({ name: 'callrec_sweep_delete_failures_total', help: 'Orphans a sweep could not delete', registers: [registry] });
  const sweepMissing = new Counter({ name: 'callrec_sweep_missing_flagged_total', help: 'Calls flagged as missing their recording object', registers: [registry] });
  const lastSweep = new Gauge({ name: 'callrec_sweep_last_run_timestamp_seconds', help: 'When the last (non-dry) sweep of this instance finished', registers: [registry] });
  const lastSweepScanned = new Gauge({ name: 'callrec_sweep_last_scanned_objects', help: 'Objects scanned by the last sweep', registers: [registry] });
  const lastSweepDuration = new Gauge({ name: 'callrec_sweep_last_duration_seconds', help: 'Duration of the last sweep', registers: [registry] });
  const recovered = new Counter({ name: 'callrec_calls_recovered_total', help: 'Calls whose webhook was missed and that the reconciler recovered from Vapi\'s call list (CallEnded appended by this instance)', registers: [registry] });
  const recordingsExpired = new Counter({ name: 'callrec_recordings_expired_total', help: 'Recordings deleted by retention (RecordingExpired appended by this instance); apart from missing ones', registers: [registry] });
  const transcriptsExpired = new Counter({ name: 'callrec_transcripts_expired_total', help: 'Transcripts shredded by retention (TranscriptExpired appended by this instance)', registers: [registry] });
  const urlRejections = new Counter({ name: 'callrec_signed_url_rejections_total', help: 'Recording URL requests refused for an expired or invalid signature', labelNames: ['reason'], registers: [registry] });

  let lagSource: (() => Promise<Record<string, number>>) | undefined;
  new Gauge({
    name: 'callrec_projection_lag_events',
    help: 'Events in the log not yet applied by each projector (head - checkpoint)',
    labelNames: ['projector'],
    registers: [registry],
    async collect() {
      this.reset();
      if (!lagSource) return;
      try {
        for (const [projector, lag] of Object.entries(await lagSource())) this.set({ projector }, lag);
      } catch {
        // database unreachable during a scrape: report nothing rather than a stale value
      }
    },
  });
  let sseSource: (() => number) | undefined;
  const sse = new Gauge({
    name: 'callrec_sse_clients',
    help: 'Connected Server-Sent Events clients',
    registers: [registry],
    collect() {
      if (sseSource) this.set(sseSource());
    },
  });

  return {
    registry,
    httpMiddleware() {
      return async function timeRequest(ctx, next) {
        const end = httpDuration.startTimer();
        let status = 500;
        try {
          await next();
          status = ctx.status;
        } catch (err) {
          const s = (err as { status?: unknown }).status;
          status = typeof s === 'number' ? s : 500;
          throw err;
        } finally {
          const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
          const route = matched === undefined ? (ctx.path.startsWith('/recordings/') ? '/recordings/*' : 'unmatched') : String(matched);
          end({ method: ctx.method, route, status: String(status) });
        }
      };
    },
    countAppended(events) {
      for (const e of events) {
        appended.inc({ type: e.type });
        const outcome = OUTCOMES[e.type];
        if (outcome) outcomes.inc({ outcome });
        if (e.type === 'UploadRetryScheduled') retries.inc();
        if (e.type === 'CallEnded' && e.metadata.actor === 'system:reconciler') recovered.inc();
        if (e.type === 'RecordingExpired') recordingsExpired.inc();
        if (e.type === 'TranscriptExpired') transcriptsExpired.inc();
      }
    },
    recordSweep(r) {
      sweepRuns.inc({ mode: r.dryRun ? 'dry_run' : 'delete', complete: String(r.complete) });
      if (r.dryRun) return;
      sweepDeleted.inc(r.deleted.length);
      sweepBytes.inc(r.bytesFreed);
      sweepFailed.inc(r.failed.length);
      sweepMissing.inc(r.missingFlagged);
      lastSweep.set(Date.now() / 1000);
      lastSweepScanned.set(r.scanned);
      lastSweepDuration.set(r.durationMs / 1000);
    },
    recordUrlRejection(reason) {
      urlRejections.inc({ reason });
    },
    setLagSource(fn) {
      lagSource = fn;
    },
    setSseClientsSource(fn) {
      sseSource = fn;
    },
    setSseClients(n) {
      sseSource = undefined;
      sse.set(n);
    },
  };
}

/** The store with every real (non-duplicate) append counted by type. */
export function instrumentStore(store: EventStore, metrics: Pick<CallrecMetrics, 'countAppended'>): EventStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (...args: Parameters<EventStore['append']>) => {
          const result = await target.append(...args);
          if (result.ok && !result.duplicate) metrics.countAppended(args[1]);
          return result;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Route module for `GET /metrics` (Prometheus text format). Open when METRICS_TOKEN is unset; otherwise it
 * needs `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time).
 */
export function prometheusRoute(metrics: CallrecMetrics) {
  return (router: Router, deps: { config: Pick<Config, 'METRICS_TOKEN'> }) => {
    router.get('/metrics', async (ctx) => {
      const token = deps.config.METRICS_TOKEN;
      if (token) {
        const m = /^Bearer[ ]+(\S+)\s*$/i.exec(ctx.get('authorization'));
        if (!m || !sameSecret(m[1]!, token)) {
          ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
          throw new CallrecError('unauthorized', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
        }
      }
      ctx.set('Content-Type', metrics.registry.contentType);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await metrics.registry.metrics();
    });
  };
}
