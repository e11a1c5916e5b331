import type Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import { CallrecError, type ErrorCode } from '../../errors.ts';
import { authenticate, type Authenticator, type Caller, type Role, type TokenSources } from '../auth.ts';
import type { HttpDeps } from '../context.ts';
import { formatZodIssues } from '../../zodIssues.ts';
import { readRawBody } from '../rawBody.ts';

/**
 * One API route: its request schemas (which validate the request), its responses (with schemas), who may
 * call it, and its handler. The OpenAPI document is generated from the same objects (document.ts), so the
 * documentation cannot drift from what the routes accept.
 */

export interface ResponseSpec {
  description: string;
  /** JSON body schema; for other content types, describe the body in `description`. */
  schema?: z.ZodType;
  contentType?: 'application/json' | 'text/event-stream';
}

export interface ApiDeps extends HttpDeps {
  authenticator: Authenticator;
  /** The API routes to document (the OpenAPI route documents this list). */
  routes: ApiRoute[];
}

export interface RouteInput<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType = z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  /** The JSON body, validated by the route's `body` schema (undefined for a route without one). */
  body: z.output<B>;
  caller: Caller;
}

/** Largest JSON body an API route reads. */
export const MAX_API_BODY_BYTES = 64 * 1024;
/** How long an API route waits for its body. */
const API_BODY_TIMEOUT_MS = 10_000;

export interface ApiRoute<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'delete';
  /** Koa path, e.g. `/api/calls/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  roles: readonly Role[];
  /** Extra places the token may be (EventSource cannot set headers). */
  tokenSources?: TokenSources;
  /**
   * Another proof of identity than the bearer token (the SSE ticket): the caller it names, or undefined to
   * fall back to the token. It may throw a CallrecError (a used or expired ticket is a 401).
   */
  altAuth?: (ctx: Context, deps: ApiDeps) => Promise<Caller | undefined>;
  params?: P;
  query?: Q;
  /** A JSON request body (application/json), validated before the handler runs: 400 invalid_json / invalid_body naming the field. */
  body?: B;
  /** Headers the route reads, documented as header parameters. */
  headers?: Array<{ name: string; description: string; schema: z.ZodType }>;
  responses: Record<number, ResponseSpec>;
  /** Error codes the route itself may answer (401/403/400 for auth and validation are added by the framework). */
  errors?: ErrorCode[];
  handle(ctx: Context, input: RouteInput<P, Q, B>, deps: ApiDeps): Promise<void> | void;
}

/** Keeps the inferred param/query/body types for the handler; the result is an ApiRoute for the registry. */
export function defineRoute<P extends z.ZodType = z.ZodObject<{}>, Q extends z.ZodType = z.ZodObject<{}>, B extends z.ZodType = z.ZodUndefined>(route: ApiRoute<P, Q, B>): ApiRoute {
  return route as unknown as ApiRoute;
}

function issues(error: z.ZodError, where: string): string {
  return formatZodIssues(error.issues, { prefix: where });
}

/** The query as zod sees it: repeated parameters stay arrays (and then fail a string schema). */
function plainQuery(ctx: Context): Record<string, unknown> {
  return { ...ctx.query };
}

/** The JSON body of a request, validated by `schema` (an empty body is validated as `{}`). */
async function readJsonBody(ctx: Context, schema: z.ZodType): Promise<unknown> {
  const type = ctx.get('content-type');
  const raw = await readRawBody(ctx.req, MAX_API_BODY_BYTES, API_BODY_TIMEOUT_MS);
  let value: unknown = {};
  if (raw.length > 0) {
    if (type && !/^application\/([\w.+-]*\+)?json\b/i.test(type)) throw new CallrecError('unsupported_media_type', `the body must be application/json, not ${type.split(';')[0]}`);
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new CallrecError('invalid_json', 'the request body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new CallrecError('invalid_body', issues(parsed.error, 'body'));
  return parsed.data;
}

const byRouter = new WeakMap<Router, ApiRoute[]>();

/**
 * Every ApiRoute registered on `router` so far, by any module (the list grows as modules register). The
 * OpenAPI document is built from it at request time, so a route module built on registerRoutes is documented
 * without being listed anywhere else.
 */
export function registeredRoutes(router: Router): ApiRoute[] {
  let list = byRouter.get(router);
  if (!list) byRouter.set(router, (list = []));
  return list;
}

/** Registers routes: authenticate (401/403), validate path and query (400), then handle. */
export function registerRoutes(router: Router, deps: ApiDeps, routes: ApiRoute[]) {
  registeredRoutes(router).push(...routes);
  for (const route of routes) {
    router[route.method](route.path, async (ctx) => {
      const alt = route.altAuth ? await route.altAuth(ctx, deps) : undefined;
      if (alt && !route.roles.includes(alt.role)) throw new CallrecError('forbidden', `this needs the role ${route.roles.join(' or ')}`);
      const caller = alt ?? (await authenticate(ctx, deps.authenticator, route.roles, route.tokenSources));
      let params: unknown = {};
      if (route.params) {
        const p = route.params.safeParse(ctx.params);
        if (!p.success) throw new CallrecError('invalid_id', issues(p.error, 'path'));
        params = p.data;
      }
      let query: unknown = {};
      if (route.query) {
        const q = route.query.safeParse(plainQuery(ctx));
        if (!q.success) throw new CallrecError('invalid_query', issues(q.error, 'query'));
        query = q.data;
      }
      const body = route.body ? await readJsonBody(ctx, route.body) : undefined;
      ctx.state.caller = caller;
      await route.handle(ctx, { params, query, body, caller }, deps);
    });
  }
}
