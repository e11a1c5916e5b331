import type { Middleware } from 'koa';
import { CallrecError, errorBody } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Renders every error as `{ error: { code, message } }` from the error catalogue; logs 5xx with its code. */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof CallrecError) {
        ctx.status = err.status;
        ctx.body = errorBody(err.code, err.message, err.details);
        if (err.status >= 500) logger.error({ err, errorCode: err.code, path: ctx.path }, err.message);
        if (err.code === 'payload_too_large') ctx.set('Connection', 'close');
        return;
      }
      logger.error({ err, errorCode: 'internal', path: ctx.path, method: ctx.method }, 'unhandled error');
      ctx.status = 500;
      ctx.body = errorBody('internal');
    }
  };
}
