import { z } from 'zod';
import { CallrecError } from '../../errors.ts';
import { SSE_EVENTS } from '../sse/messages.ts';
import { defineRoute } from '../openapi/route.ts';
import { callExists } from '../../projections/callLogs/queries.ts';
import { CallId } from './callsSchemas.ts';
import { issueSseTicket, redeemSseTicket, SSE_TICKET_TTL_SECONDS } from '../sse/tickets.ts';

/** GET /api/events: the org's live events as Server-Sent Events, resumable by Last-Event-ID. */

const position = z.string().regex(/^\d{1,15}$/, 'an event id is a log position (digits)');

export const EventsQuery = z.object({
  callId: CallId.optional().describe('only this call\'s events (404 when the call is not in your organisation)'),
  lastEventId: position.optional().describe('resume after this id when the Last-Event-ID header cannot be set'),
  ticket: z.string().max(100).optional().describe('a single-use ticket from POST /api/events/ticket (valid 60 s): how EventSource authenticates without a JWT in the URL'),
  access_token: z
    .string()
    .optional()
    .describe('DEPRECATED (accepted for one more release, logged as a warning): the bearer token in the URL, where proxies log it; use `ticket`'),
});

export const eventsRoute = defineRoute({
  method: 'get',
  path: '/api/events',
  operationId: 'streamEvents',
  summary: 'Server-Sent Events for your organisation: calls ending, recordings ready or failing, erasures, holds and expiries',
  description:
    'Each SSE `id` is the event\'s global position in the log. Reconnect with `Last-Event-ID` (EventSource does this by ' +
    'itself) to get every event you missed exactly once, even across a server restart. `recording_ready` ' +
    '(`{ callId, durationSeconds, bytes, contentType, format, expiresAt, at }`) is sent when the pipeline signed the URL ' +
    'of a freshly uploaded recording; it carries no URL: GET /api/calls/{id}/recording hands it out, audited. ' +
    '`call_erased`, `call_held`, `call_released`, `recording_expired` and `transcript_expired` (`{ callId, at }`) say that a ' +
    "call's personal data was erased, put on or released from a legal hold, or expired; GET /api/calls/{id} has the details. " +
    `Events: ${SSE_EVENTS.join(', ')}. A heartbeat comment comes every SSE_HEARTBEAT_SECONDS (15 s); \`retry: 3000\`. ` +
    'A resume with more than SSE_MAX_REPLAY_EVENTS (10,000) missed events gets `reset` (`{ reason, maxReplayEvents, lastEventId }`, ' +
    'its id the current head) instead of a replay: refetch your lists, the stream then continues live. Authenticate with ' +
    '`?ticket=` from POST /api/events/ticket (single use, 60 s), or the Authorization header.',
  tags: ['events'],
  roles: ['member', 'auditor', 'admin'],
  tokenSources: { query: true, cookie: true },
  async altAuth(ctx, deps) {
    const ticket = ctx.query.ticket;
    if (ticket === undefined) {
      if (typeof ctx.query.access_token === 'string' && !ctx.get('authorization')) {
        deps.logger.warn({ path: ctx.path, errorCode: 'unauthorized' }, 'GET /api/events?access_token= is deprecated (the JWT ends up in proxy logs): use POST /api/events/ticket and ?ticket=');
      }
      return undefined;
    }
    if (typeof ticket !== 'string') throw new CallrecError('invalid_query', 'give one ticket');
    const r = await redeemSseTicket(deps.database.db, ticket, deps.clock());
    if (!r.ok) {
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new CallrecError('invalid_token', r.reason === 'expired' ? 'the SSE ticket has expired; ask POST /api/events/ticket for a new one' : 'the SSE ticket is unknown or was already used (tickets work once)');
    }
    return r.caller;
  },
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
    if (query.callId !== undefined && !(await callExists(deps.database.db, caller.orgId, query.callId))) {
      throw new CallrecError('not_found', `no call ${query.callId}`);
    }
    ctx.respond = false;
    await hub.connect(ctx.req, ctx.res, { orgId: caller.orgId, callId: query.callId, lastEventId });
  },
});

const Ticket = z.object({
  ticket: z.string().describe('opaque, single-use: GET /api/events?ticket=…'),
  expiresAt: z.string().describe('ISO time after which the ticket is refused'),
  expiresIn: z.number().int().describe('seconds until then'),
});

export const ticketRoute = defineRoute({
  method: 'post',
  path: '/api/events/ticket',
  operationId: 'createEventsTicket',
  summary: 'Exchange the bearer token for a short-lived, single-use ticket to open GET /api/events (no JWT in the URL)',
  description: `The ticket works once, within ${SSE_TICKET_TTL_SECONDS} s, on any instance sharing the database; it carries the caller's user, org and role. Ask for a new one for every (re)connection.`,
  tags: ['events'],
  roles: ['member', 'auditor', 'admin'],
  responses: { 201: { description: 'the ticket', schema: Ticket } },
  async handle(ctx, { caller }, deps) {
    const now = deps.clock();
    const { ticket, expiresAt } = await issueSseTicket(deps.database.db, caller, now);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = { ticket, expiresAt: expiresAt.toISOString(), expiresIn: Math.round((expiresAt.getTime() - now.getTime()) / 1000) };
  },
});

export const eventRoutes = [eventsRoute, ticketRoute];
