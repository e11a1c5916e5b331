import Koa from 'koa';
import Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { errorHandler } from './errorHandler.ts';
import { registerHealth } from './routes/health.ts';
import { registerVapiWebhook } from './routes/vapiWebhook.ts';
import { CallrecError } from '../errors.ts';

export type RouteModule = (router: Router, deps: HttpDeps) => void;

/** The koa app: small middleware, explicit context. Extra route modules are registered by the caller. */
export function createHttpApp(deps: HttpDeps, extraRoutes: RouteModule[] = [], extraMiddleware: Koa.Middleware[] = []): Koa {
  const app = new Koa({ proxy: deps.config.TRUST_PROXY });
  const router = new Router();
  app.use(errorHandler(deps.logger));
  for (const m of extraMiddleware) app.use(m);
  registerHealth(router, deps);
  registerVapiWebhook(router, deps);
  for (const register of extraRoutes) register(router, deps);
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(async (ctx) => {
    if (ctx.status === 404 && ctx.body === undefined) throw new CallrecError('not_found', `no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}
