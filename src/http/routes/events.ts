import { z } from 'zod';
import { CallrecError } from '../../errors.ts';
import { SSE_EVENTS } from '../sse/messages.ts';
import { defineRoute } from '../openapi/route.ts';
import { findCall } from '../../projections/callLogs/queries.ts';
import { CallId } from './callsSchemas.ts';

/** GET /api/events: the org's live events as Server-Sent Events, resumable by Last-Event-ID. */

const position = z.string().regex(/^\d{1,15}$/, 'an event id is a log position (digits)');

export const EventsQuery = z.object({
  callId: CallId.optional().describe('only this call\'s events (404 when the call is not in your organisation)'),
  lastEventId: position.optional().describe('resume after this id when the Last-Event-ID header cannot be set'),
  access_token: z.string().optional().describe('the bearer token, for EventSource (which cannot set headers); a cookie `access_token` works too'),
});

export const eventsRoute = defineRoute({
  method: 'get',
  path: '/api/events',
  operationId: 'streamEvents',
  summary: 'Server-Sent Events for your organisation: call_ended, recording_ready, recording_failed, recording_abandoned, transcript_only',
  description:
    'Each SSE `id` is the event\'s global position in the log. Reconnect with `Last-Event-ID` (EventSource does this by ' +
    'itself) to get every event you missed exactly once, even across a server restart. `recording_ready` ' +
    '(`{ callId, durationSeconds, bytes, contentType, format, expiresAt, at }`) is sent when the pipeline signed the URL ' +
    'of a freshly uploaded recording; it carries no URL: GET /api/calls/{id}/recording hands it out, audited. ' +
    `Events: ${SSE_EVENTS.join(', ')}. A heartbeat comment comes every SSE_HEARTBEAT_SECONDS (15 s); \`retry: 3000\`.`,
  tags: ['events'],
  roles: ['member', 'auditor', 'admin'],
  tokenSources: { query: true, cookie: true },
  query: EventsQuery,
  headers: [{ name: 'Last-Event-ID', description: 'resume after this event id', schema: position }],
  responses: { 200: { description: 'an endless text/event-stream', contentType: 'text/event-stream' } },
  errors: ['not_found', 'not_ready'],
  async handle(ctx, { query, caller }, deps) {
    const hub = deps.sseHub;
    if (!hub) throw new CallrecError('not_ready', 'live events are not available on this instance');
    const header = ctx.get('last-event-id');
    let lastEventId: number | undefined;
    if (header) {
      const p = position.safeParse(header.trim());
      if (!p.success) throw new CallrecError('invalid_query', 'Last-Event-ID must be an event id (digits) this API sent');
      lastEventId = Number(p.data);
    } else if (query.lastEventId !== undefined) {
      lastEventId = Number(query.lastEventId);
    }
    if (query.callId !== undefined && !(await findCall(deps.database.db, caller.orgId, query.callId))) {
      throw new CallrecError('not_found', `no call ${query.callId}`);
    }
    ctx.respond = false;
    await hub.connect(ctx.req, ctx.res, { orgId: caller.orgId, callId: query.callId, lastEventId });
  },
});

export const eventRoutes = [eventsRoute];
