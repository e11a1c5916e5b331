import { z } from 'zod';
import { errorCatalog, type ErrorCode } from '../../errors.ts';
import { TOKEN_COOKIE, TOKEN_QUERY_PARAM } from '../auth.ts';
import type { ApiRoute } from './route.ts';

/**
 * The OpenAPI 3.1 document, generated from the route objects: their zod schemas (through `z.toJSONSchema`)
 * for parameters and responses, their roles and error codes. There is no hand-maintained copy.
 */

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

/** `/api/calls/:id` → `/api/calls/{id}` */
export function openApiPath(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(errorCatalog) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

function parameters(route: ApiRoute): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue;
    const s = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      const { description, ...rest } = prop;
      out.push({
        name,
        in: where,
        required: where === 'path' || (s.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  }
  for (const h of route.headers ?? []) {
    out.push({ name: h.name, in: 'header', required: false, description: h.description, schema: jsonSchema(h.schema, 'input') });
  }
  return out;
}

function responses(route: ApiRoute): Json {
  const out: Json = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const contentType = spec.contentType ?? 'application/json';
    out[status] = {
      description: spec.description,
      content: { [contentType]: { schema: spec.schema ? jsonSchema(spec.schema, 'output') : { type: 'string' } } },
    };
  }
  const codes = new Set<ErrorCode>(['unauthorized', 'invalid_token', 'forbidden', 'auth_unavailable', 'internal', ...(route.errors ?? [])]);
  if (route.params) codes.add('invalid_id');
  if (route.query || route.headers) codes.add('invalid_query');
  if (route.body) for (const c of ['invalid_json', 'invalid_body', 'unsupported_media_type', 'payload_too_large', 'request_timeout'] as const) codes.add(c);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const errorSchema = jsonSchema(ErrorBody, 'output');
  for (const [status, list] of [...byStatus.entries()].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: `error: ${list.map((c) => `\`${c}\``).join(', ')}`,
      content: { 'application/json': { schema: errorSchema } },
    };
  }
  return out;
}

export function buildOpenApiDocument(routes: ApiRoute[], opts: { serverUrl?: string; version?: string } = {}): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const security: Json[] = [{ bearerAuth: [] }];
    if (route.tokenSources?.query) security.push({ accessTokenQuery: [] });
    if (route.tokenSources?.cookie) security.push({ accessTokenCookie: [] });
    paths[path] ??= {};
    paths[path]![route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      security,
      'x-roles': [...route.roles],
      parameters: parameters(route),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } } : {}),
      responses: responses(route),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'callrec dashboard API',
      version: opts.version ?? '1',
      description:
        'Calls, recording URLs (audited), live events and the audit trail of callrec. Every route needs a bearer JWT; ' +
        'every answer is scoped to the organisation of the token. Errors are `{ "error": { "code", "message" } }`.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 (AUTH_JWT_SECRET) or RS256/ES256 (AUTH_JWKS_URL)' },
        accessTokenQuery: { type: 'apiKey', in: 'query', name: TOKEN_QUERY_PARAM, description: 'the same JWT, for EventSource' },
        accessTokenCookie: { type: 'apiKey', in: 'cookie', name: TOKEN_COOKIE, description: 'the same JWT, for EventSource' },
      },
    },
  };
}
