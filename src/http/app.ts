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
  // Errors koa sees after the response started (mostly streams). A client that went away mid-stream — a
  // player seeking, a tab closed — is normal and not worth more than a debug line.
  app.silent = true;
  app.on('error', (err: NodeJS.ErrnoException, ctx?: Koa.Context) => {
    const aborted = ['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(err.code ?? '');
    if (aborted) deps.logger.debug({ err: err.message, path: ctx?.path }, 'client went away mid-response');
    else deps.logger.error({ err, path: ctx?.path, errorCode: 'internal' }, 'response error');
  });
  return app;
}
