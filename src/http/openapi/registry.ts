import type Router from '@koa/router';
import { createAuthenticator } from '../auth.ts';
import type { HttpDeps } from '../context.ts';
import { auditRoutes } from '../routes/audit.ts';
import { callRoutes } from '../routes/calls.ts';
import { recordingRoutes } from '../routes/callsRecording.ts';
import { privacyRoutes } from '../routes/callsPrivacy.ts';
import { eventRoutes } from '../routes/events.ts';
import { openApiRoute } from '../routes/openapi.ts';
import { registeredRoutes, registerRoutes, type ApiDeps, type ApiRoute } from './route.ts';

/** The dashboard API's routes, in the order they are registered. */
export const apiRoutes: ApiRoute[] = [...callRoutes, ...recordingRoutes, ...privacyRoutes, ...auditRoutes, ...eventRoutes, openApiRoute];

/** The route module for createHttpApp: the dashboard API with its authenticator. */
export function registerApi(router: Router, deps: HttpDeps) {
  const authenticator = createAuthenticator(deps.config, { clock: deps.clock });
  if (deps.config.devAuth) {
    deps.logger.warn({ errorCode: 'unauthorized' }, 'AUTH_JWT_SECRET and AUTH_JWKS_URL are not set: /api accepts tokens signed with the development secret (local use only)');
  }
  // The document covers every route registered on this router through registerRoutes (e.g. /api/metrics too).
  const apiDeps: ApiDeps = { ...deps, authenticator, routes: registeredRoutes(router) };
  registerRoutes(router, apiDeps, apiRoutes);
}
