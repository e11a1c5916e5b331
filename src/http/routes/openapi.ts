import { z } from 'zod';
import { buildOpenApiDocument } from '../openapi/document.ts';
import { defineRoute } from '../openapi/route.ts';

/** GET /api/openapi.json: the OpenAPI 3.1 document of every /api route, generated from the route schemas. */
export const openApiRoute = defineRoute({
  method: 'get',
  path: '/api/openapi.json',
  operationId: 'getOpenApiDocument',
  summary: 'This document',
  tags: ['meta'],
  roles: ['member', 'auditor', 'admin'],
  responses: { 200: { description: 'the OpenAPI 3.1 document', schema: z.object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).loose(), paths: z.record(z.string(), z.unknown()) }).loose() } },
  handle(ctx, _input, deps) {
    ctx.body = buildOpenApiDocument(deps.routes, { serverUrl: deps.config.publicBaseUrl });
  },
});
