import type { Kysely } from 'kysely';
import type { Middleware } from 'koa';
import type { DB } from '../db/schema.ts';
import { silentLogger, type Logger } from '../log.ts';
import { recordUrlRejection } from '../projections/metrics/queries.ts';
import type { CallrecMetrics } from './prometheus.ts';

export interface UrlRejectionCounter {
  /** Counts one refusal in Prometheus and in recording_url_rejections (the /api/metrics "URL expiry errors"). */
  (reason: 'expired' | 'invalid'): void;
}

/** A counter usable as the local recording handler's `onRejected` hook. Database errors are logged, never thrown. */
export function urlRejectionCounter(opts: { db: Kysely<DB>; metrics?: Pick<CallrecMetrics, 'recordUrlRejection'>; clock?: () => Date; logger?: Logger }): UrlRejectionCounter {
  const clock = opts.clock ?? (() => new Date());
  const logger = opts.logger ?? silentLogger;
  return (reason) => {
    opts.metrics?.recordUrlRejection(reason);
    recordUrlRejection(opts.db, reason, clock()).catch((err) =>
      logger.warn({ err, errorCode: 'database_unavailable' }, 'a refused recording URL could not be counted'),
    );
  };
}

const REASONS: Record<string, 'expired' | 'invalid'> = { signed_url_expired: 'expired', signed_url_invalid: 'invalid' };

/**
 * Koa middleware, mounted ahead of the signed-URL handler, that sees its 403 answers (`signed_url_expired` /
 * `signed_url_invalid`) and counts them. Works with whichever handler serves `prefix` without needing its hook.
 */
export function observeUrlRejections(count: UrlRejectionCounter, prefix = '/recordings'): Middleware {
  return async function countRefusedRecordingUrls(ctx, next) {
    await next();
    if (ctx.status !== 403 || !ctx.path.startsWith(`${prefix}/`)) return;
    const code = (ctx.body as { error?: { code?: unknown } } | undefined)?.error?.code;
    const reason = typeof code === 'string' ? REASONS[code] : undefined;
    if (reason) count(reason);
  };
}
