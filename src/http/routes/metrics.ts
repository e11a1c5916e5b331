import type Router from '@koa/router';
import { z } from 'zod';
import { CallrecError } from '../../errors.ts';
import { metricsReport, type MetricsScope } from '../../projections/metrics/queries.ts';
import type { DailyMetrics } from '../../projections/metrics/evolve.ts';
import { timingSafeEqual } from 'node:crypto';
import { createAuthenticator, ORG_ID_RE, type Authenticator } from '../auth.ts';
import type { HttpDeps } from '../context.ts';
import { defineRoute, registerRoutes, type ApiDeps, type ApiRoute } from '../openapi/route.ts';

/** GET /api/metrics: the success-metrics table and per-day analytics of the caller's org over a window. */

const DAY_MS = 86_400_000;
export const MAX_WINDOW_DAYS = 366;
export const DEFAULT_WINDOW_DAYS = 30;

/** A UTC day `yyyy-mm-dd` or an ISO timestamp (its UTC day is used); anything else is refused. */
const dayParam = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s) || z.iso.datetime({ offset: true }).safeParse(s).success, 'must be a date (yyyy-mm-dd) or an ISO timestamp')
  .transform((s, ctx) => {
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
    const day = Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
    if (!day || (/^\d{4}-\d{2}-\d{2}$/.test(s) && day !== s)) {
      ctx.addIssue({ code: 'custom', message: 'is not a real date' });
      return z.NEVER;
    }
    return day;
  });

export const MetricsQuery = z
  .object({
    from: dayParam.optional().describe('first UTC day (yyyy-mm-dd or ISO timestamp), inclusive; default: 29 days before `to`'),
    to: dayParam.optional().describe('last UTC day, inclusive; default: today'),
    org: z.string().refine((s) => s === 'all' || ORG_ID_RE.test(s), 'must be an org id or "all"').optional().describe('platform admins (role `platform-admin`, or METRICS_TOKEN): another org or `all`'),
  })
  .strict();

const Metric = z.object({
  name: z.string(),
  description: z.string(),
  value: z.number().nullable(),
  unit: z.enum(['ratio', 'count', 'bytes']),
  target: z.number().nullable(),
  comparison: z.enum(['>=', '<=', '<']).nullable(),
  met: z.boolean().nullable(),
});

const Day = z.object({
  day: z.string(),
  calls: z.number(),
  recordedCalls: z.number(),
  minutes: z.number(),
  bytes: z.number(),
  uploadsSucceeded: z.number(),
  uploadsFailed: z.number(),
  retriesScheduled: z.number(),
  abandoned: z.number(),
  transcriptOnly: z.number(),
  downloads: z.number(),
  refreshes: z.number(),
  orphansDeleted: z.number(),
  missingFlagged: z.number(),
  /** Recordings deleted by retention (on purpose; never counted as missing). */
  recordingsExpired: z.number(),
  /** Transcripts shredded by retention. */
  transcriptsExpired: z.number(),
  /** Calls whose webhook was missed, recovered from Vapi's call list by the reconciler. */
  recoveredCalls: z.number(),
  failuresByReason: z.record(z.string(), z.number()),
});

export const MetricsResponse = z.object({
  org: z.string(),
  from: z.string(),
  to: z.string(),
  metrics: z.array(Metric),
  totals: Day.omit({ day: true }),
  days: z.array(Day),
  orphans: z.object({ pendingFromLastSweep: z.number(), missingFlagged: z.number(), expiredRecordings: z.number(), lastSweep: z.unknown() }),
  urlRejections: z.object({ expired: z.number(), invalid: z.number() }),
});

/** The API shape of a daily row (camelCase, minutes instead of milliseconds). */
export function dayView(d: DailyMetrics) {
  return {
    day: d.day,
    calls: d.calls,
    recordedCalls: d.recorded_calls,
    minutes: Math.round((d.duration_ms / 60_000) * 100) / 100,
    bytes: d.bytes_uploaded,
    uploadsSucceeded: d.uploads_succeeded,
    uploadsFailed: d.uploads_failed,
    retriesScheduled: d.retries_scheduled,
    abandoned: d.abandoned,
    transcriptOnly: d.fallbacks,
    downloads: d.downloads,
    refreshes: d.refreshes,
    orphansDeleted: d.orphans_deleted,
    missingFlagged: d.missing_flagged,
    recordingsExpired: d.recordings_expired,
    transcriptsExpired: d.transcripts_expired,
    recoveredCalls: d.recovered_calls,
    failuresByReason: d.failures_by_reason,
  };
}

export const metricsRoute = defineRoute({
  method: 'get',
  path: '/api/metrics',
  operationId: 'getMetrics',
  summary: 'Success metrics and daily recording analytics of your organisation',
  description:
    'Over the window [from, to] (UTC days, inclusive; at most 366 days): upload success rate (target ≥ 99.9 %), URL expiry ' +
    'errors (target 0), orphaned recordings (target 0), average recording size (target < 50 MB), download count and ' +
    'failed-upload retry rate (target < 1 %), each `{ name, value, target, met }`; plus one row per day with data. ' +
    'An org admin sees its own org only; views across orgs (`org=<id>` or `org=all`) need the operator\'s ' +
    '`platform-admin` role claim or `Authorization: Bearer <METRICS_TOKEN>`.',
  tags: ['metrics'],
  roles: ['member', 'auditor', 'admin'],
  query: MetricsQuery,
  responses: { 200: { description: 'the metrics', schema: MetricsResponse } },
  errors: ['invalid_query', 'forbidden'],
  async handle(ctx, { query, caller }, deps) {
    let scope: MetricsScope = { orgId: caller.orgId };
    if (query.org !== undefined && query.org !== caller.orgId) {
      if (caller.role !== 'platform-admin') {
        throw new CallrecError('forbidden', 'the metrics of another org or of all orgs need the platform-admin role (or METRICS_TOKEN); an org admin sees its own org');
      }
      scope = { orgId: query.org };
    }
    const today = deps.clock().toISOString().slice(0, 10);
    const to = query.to ?? (query.from && query.from > today ? query.from : today);
    const from = query.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_WINDOW_DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
    if (from > to) throw new CallrecError('invalid_query', 'query.from: must not be after `to`');
    if ((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1 > MAX_WINDOW_DAYS) {
      throw new CallrecError('invalid_query', `query: the window may span at most ${MAX_WINDOW_DAYS} days`);
    }
    const report = await metricsReport(deps.database.db, scope, { from, to });
    const { day: _day, ...totals } = dayView(report.totals);
    ctx.body = {
      org: report.org,
      from,
      to,
      metrics: report.metrics,
      totals,
      days: report.days.map(dayView),
      orphans: report.orphans,
      urlRejections: report.urlRejections,
    };
  },
});

export const metricsApiRoutes: ApiRoute[] = [metricsRoute];

/**
 * The operator's scrape credential: `Bearer <METRICS_TOKEN>` is a platform admin here (and only here); anything
 * else goes to the JWT authenticator.
 */
export function withMetricsToken(authenticator: Authenticator, metricsToken: string | undefined, orgId: string): Authenticator {
  if (!metricsToken) return authenticator;
  const expected = Buffer.from(metricsToken);
  return {
    async verify(token) {
      const given = Buffer.from(token);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, caller: { userId: 'metrics-token', orgId, role: 'platform-admin' } };
      return authenticator.verify(token);
    },
  };
}

/** Route module for createHttpApp: /api/metrics with the same JWT authentication as the rest of /api, plus METRICS_TOKEN. */
export function registerMetricsApi(router: Router, deps: HttpDeps) {
  const authenticator = withMetricsToken(createAuthenticator(deps.config, { clock: deps.clock }), deps.config.METRICS_TOKEN, deps.config.DEFAULT_ORG_ID);
  const apiDeps: ApiDeps = { ...deps, authenticator, routes: metricsApiRoutes };
  registerRoutes(router, apiDeps, metricsApiRoutes);
}
