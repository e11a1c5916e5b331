import Router from '@koa/router';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registerApi } from '../../src/http/openapi/registry.ts';
import { registerMetricsApi } from '../../src/http/routes/metrics.ts';
import { openApiPath } from '../../src/http/openapi/document.ts';
import { backends } from '../support/databases.ts';
import { openSse, startApi, type ApiHarness } from './support.ts';

/**
 * GET /api/openapi.json against the live routes: every registered /api route is documented, every documented
 * operation answers on the running server, and real answers (successes and errors) match the documented
 * status codes and JSON schemas.
 */

type Schema = Record<string, any>;

/** A small JSON Schema (2020-12) checker for what z.toJSONSchema emits: type, properties, required, items, enum, const, anyOf, pattern. */
function check(schema: Schema, value: unknown, at = '$'): string[] {
  if (!schema || Object.keys(schema).length === 0) return [];
  if (schema.anyOf || schema.oneOf) {
    const options = (schema.anyOf ?? schema.oneOf) as Schema[];
    const fits = options.filter((s) => check(s, value, at).length === 0).length;
    return fits >= 1 ? [] : [`${at}: matches none of ${options.length} alternatives`];
  }
  const errors: string[] = [];
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t: string) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'));
    if (!ok) return [`${at}: expected ${types.join('|')}, got ${actual}`];
  }
  if ('const' in schema && value !== schema.const) errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}.${r}: required`);
    for (const [k, v] of Object.entries(obj)) {
      if (schema.properties?.[k]) errors.push(...check(schema.properties[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}.${k}: not documented`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errors.push(...check(schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...check(schema.items, v, `${at}[${i}]`)));
  return errors;
}

/** Any method, with an optional JSON body, as the harness's get/post answer. */
async function send(h: ApiHarness, method: string, url: string, token?: string, body?: unknown) {
  if (body === undefined && (method === 'get' || method === 'post')) return h[method](url, token);
  const res = await fetch(h.service.url + url, {
    method: method.toUpperCase(),
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

for (const backend of (await backends()).slice(0, 1)) {
  const test = suite<{ h: ApiHarness; doc: any; token: string; auditor: string }>(`OpenAPI document [${backend.name}]`);
  test.before(async (ctx) => {
    ctx.h = await startApi(backend);
    ctx.token = await ctx.h.token('org-doc', 'doc-user', 'member');
    ctx.auditor = await ctx.h.token('org-doc', 'doc-auditor', 'auditor');
    const r = await ctx.h.get('/api/openapi.json', ctx.token);
    assert.is(r.status, 200);
    ctx.doc = r.body;
  });
  test.after(async (ctx) => {
    await ctx.h?.close();
  });

  test('an OpenAPI 3.1 document, behind the same auth as the rest of /api', async ({ h, doc }) => {
    assert.is(doc.openapi, '3.1.0');
    assert.is(doc.servers[0].url, h.service.config.publicBaseUrl);
    assert.ok(doc.components.securitySchemes.bearerAuth);
    assert.is((await h.get('/api/openapi.json')).status, 401);
  });

  test('every registered /api route is documented, and nothing else', async ({ h, doc }) => {
    // The JWT-authenticated route modules the service mounts.
    const router = new Router();
    const deps = { config: h.service.config, database: h.service.database, store: h.service.store, keyring: h.service.keyring, logger: h.service.logger, clock: () => new Date(), readiness: async () => ({ ready: true, checks: {} }) };
    registerApi(router, deps);
    registerMetricsApi(router, deps);
    const registered = router.stack
      .filter((layer) => String(layer.path).startsWith('/api/'))
      .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${openApiPath(layer.path as string)}`))
      .sort();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m} ${p}`)).sort();
    assert.equal(documented, registered);
    for (const op of ['get /api/calls', 'get /api/calls/{id}', 'get /api/calls/{id}/history', 'get /api/calls/{id}/recording', 'post /api/calls/{id}/recording/refresh', 'get /api/audit/downloads', 'get /api/events', 'get /api/openapi.json']) {
      assert.ok(documented.includes(op), op);
    }
  });

  test('every documented operation is live on the server and wants a token', async ({ h, doc }) => {
    for (const [p, ops] of Object.entries(doc.paths) as Array<[string, Record<string, any>]>) {
      for (const method of Object.keys(ops)) {
        const url = p.replace('{id}', 'some-call');
        const r = await send(h, method, url);
        assert.is(r.status, 401, `${method} ${url}`);
        assert.ok(ops[method].responses['401'], `${method} ${p} documents 401`);
        assert.equal(check(ops[method].responses['401'].content['application/json'].schema, r.body), [], `${method} ${p} 401 body`);
      }
    }
    const nothing = await h.get('/api/nothing-here', (await h.token('org-doc')));
    assert.is(nothing.status, 404);
  });

  test('real answers match the documented status codes and schemas', async ({ h, doc, token, auditor }) => {
    const withAudio = await h.endCall('org-doc', { transcript: 'AI: documented call' });
    const noAudio = await h.endCall('org-doc');
    await h.uploadRecording(withAudio, 'org-doc');
    await h.settle();
    const admin = await h.token('org-doc', 'doc-admin', 'admin');
    const calls: Array<[string, string, string, string?, unknown?]> = [
      ['get', '/api/calls', '/api/calls?limit=5&q=documented&has_recording=true'],
      ['get', '/api/calls', '/api/calls?limit=0'],
      ['get', '/api/calls/{id}', `/api/calls/${withAudio}`],
      ['get', '/api/calls/{id}', `/api/calls/${withAudio}?asOf=${encodeURIComponent(new Date(Date.now() + 5000).toISOString())}`],
      ['get', '/api/calls/{id}', '/api/calls/not-there'],
      ['get', '/api/calls/{id}', "/api/calls/bad'id"],
      ['get', '/api/calls/{id}/recording', `/api/calls/${withAudio}/recording`],
      ['get', '/api/calls/{id}/recording', `/api/calls/${noAudio}/recording`],
      ['post', '/api/calls/{id}/recording/refresh', `/api/calls/${withAudio}/recording/refresh`],
      ['post', '/api/calls/{id}/recording/refresh', `/api/calls/${noAudio}/recording/refresh`],
      ['get', '/api/calls/{id}/history', `/api/calls/${withAudio}/history`, auditor],
      ['get', '/api/calls/{id}/history', `/api/calls/${withAudio}/history`],
      ['get', '/api/audit/downloads', '/api/audit/downloads?limit=10', auditor],
      ['get', '/api/audit/downloads', '/api/audit/downloads?from=nope', auditor],
      ['get', '/api/openapi.json', '/api/openapi.json'],
      ['post', '/api/calls/{id}/hold', `/api/calls/${withAudio}/hold`, admin, { reason: 'dispute' }],
      ['delete', '/api/calls/{id}', `/api/calls/${withAudio}`, admin, { reason: 'asked' }],
      ['delete', '/api/calls/{id}/hold', `/api/calls/${withAudio}/hold`, admin, { reason: 'settled' }],
      ['delete', '/api/calls/{id}/hold', `/api/calls/${withAudio}/hold`, admin, { reason: 'settled' }],
      ['delete', '/api/calls/{id}', `/api/calls/${noAudio}`, admin, {}],
      ['delete', '/api/calls/{id}', `/api/calls/${noAudio}`, token, { reason: 'asked' }],
      ['delete', '/api/calls/{id}', `/api/calls/${noAudio}`, admin, { reason: 'asked' }],
      ['delete', '/api/calls/{id}', `/api/calls/${noAudio}`, admin, { reason: 'asked again' }],
      ['post', '/api/calls/{id}/hold', `/api/calls/${noAudio}/hold`, admin, { reason: 'too late' }],
    ];
    const seen = new Set<string>();
    for (const [method, p, url, tok, body] of calls) {
      const r = await send(h, method, url, tok ?? token, body);
      const op = doc.paths[p][method];
      const documented = op.responses[String(r.status)];
      assert.ok(documented, `${method} ${url}: status ${r.status} is documented (${Object.keys(op.responses).join(', ')})`);
      assert.equal(check(documented.content['application/json'].schema, r.body), [], `${method} ${url} → ${r.status}`);
      seen.add(`${method} ${p} ${r.status}`);
    }
    for (const s of ['get /api/calls 200', 'get /api/calls 400', 'get /api/calls/{id} 404', 'get /api/calls/{id}/recording 200', 'post /api/calls/{id}/recording/refresh 409', 'get /api/calls/{id}/history 403', 'post /api/calls/{id}/hold 200', 'delete /api/calls/{id} 409', 'delete /api/calls/{id}/hold 200', 'delete /api/calls/{id}/hold 409', 'delete /api/calls/{id} 400', 'delete /api/calls/{id} 403', 'delete /api/calls/{id} 200', 'post /api/calls/{id}/hold 409']) {
      assert.ok(seen.has(s), s);
    }
    // The event stream answers with the documented content type.
    const sse = await openSse(`${h.service.url}/api/events`, { authorization: `Bearer ${token}` });
    try {
      assert.is(sse.status, 200);
      assert.ok(doc.paths['/api/events'].get.responses['200'].content['text/event-stream']);
      assert.match(String(sse.headers['content-type']), /^text\/event-stream/);
    } finally {
      sse.close();
    }
  });

  test('documented parameters are the ones the routes validate', async ({ h, doc, token }) => {
    const params = doc.paths['/api/calls'].get.parameters.map((p: { name: string }) => p.name).sort();
    assert.equal(params, ['assistant_id', 'call_type', 'cursor', 'ended_reason', 'from', 'has_recording', 'limit', 'q', 'recording_status', 'status', 'to'].sort());
    // Enumerations in the document are enforced by the route, and vice versa.
    const hr = doc.paths['/api/calls'].get.parameters.find((p: { name: string }) => p.name === 'has_recording');
    assert.equal(hr.schema.enum, ['true', 'false']);
    assert.is((await h.get('/api/calls?has_recording=yes', token)).status, 400);
    const limit = doc.paths['/api/calls'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.is(limit.schema.maximum, 200);
    assert.is((await h.get('/api/calls?limit=200', token)).status, 200);
    assert.is((await h.get('/api/calls?limit=201', token)).status, 400);
    const idParam = doc.paths['/api/calls/{id}'].get.parameters.find((p: { in: string }) => p.in === 'path');
    assert.ok(idParam.required);
    assert.ok(new RegExp(idParam.schema.pattern).test('abc-123'));
    assert.not.ok(new RegExp(idParam.schema.pattern).test("a'b"));
    // A JSON body is documented with its schema, and the route enforces it.
    for (const [p, m] of [['/api/calls/{id}', 'delete'], ['/api/calls/{id}/hold', 'post'], ['/api/calls/{id}/hold', 'delete']]) {
      const body = doc.paths[p!][m!].requestBody.content['application/json'].schema;
      assert.equal(body.required, ['reason'], `${m} ${p}`);
      assert.is(body.properties.reason.minLength, 1);
      assert.equal(doc.paths[p!][m!]['x-roles'], ['admin']);
    }
  });

  test.run();
}
