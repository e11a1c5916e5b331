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
        // The rest of such a body is not read: close the connection rather than drain it.
        if (err.code === 'payload_too_large' || err.code === 'request_timeout' || err.code === 'invalid_signature' || err.code === 'overloaded') ctx.set('Connection', 'close');
        // Tell retrying senders (Vapi with a backoffPlan, load balancers) when to come back.
        if (err.code === 'overloaded') ctx.set('Retry-After', '1');
        if (err.code === 'database_unavailable' || err.code === 'shutting_down') ctx.set('Retry-After', '5');
        return;
      }
      logger.error({ err, errorCode: 'internal', path: ctx.path, method: ctx.method }, 'unhandled error');
      ctx.status = 500;
      ctx.body = errorBody('internal');
    }
  };
}
