import type Router from '@koa/router';
import type { HttpDeps } from '../context.ts';

/** GET /health: the process is up. GET /ready: the database answers and projections are caught up. */
export function registerHealth(router: Router, deps: HttpDeps) {
  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });
  router.get('/ready', async (ctx) => {
    const r = await deps.readiness().catch((err: Error) => ({ ready: false, checks: { error: err.message } }));
    ctx.status = r.ready ? 200 : 503;
    ctx.body = { ok: r.ready, ...r.checks };
  });
}
