import { callStream } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';
import { CallrecError } from '../../errors.ts';
import { redactEvent } from '../../events/redact.ts';
import { evolveCallLog, type CallLogRow } from '../../projections/callLogs/evolve.ts';
import { defineRoute } from '../openapi/route.ts';
import { CallDetail, CallHistory, CallIdParams, CallList, GetCallQuery, ListCallsQuery } from './callsSchemas.ts';
import { decodeCursor, findCall, listCalls } from '../../projections/callLogs/queries.ts';
import { recordingState, toApiCall } from './callsQuery.ts';
import { z } from 'zod';
import { ANY_ROLE } from '../../auth/roles.ts';

/** The calls API: list and search, one call (now or as of a time), and an auditor's full history. */

const AUDITORS = ['auditor', 'admin'] as const;

export const listCallsRoute = defineRoute({
  method: 'get',
  path: '/api/calls',
  operationId: 'listCalls',
  summary: 'Calls of your organisation, newest first, paged, filtered and searchable',
  tags: ['calls'],
  roles: ANY_ROLE,
  query: ListCallsQuery,
  responses: { 200: { description: 'one page of calls', schema: CallList } },
  async handle(ctx, { query, caller }, deps) {
    let cursorValue;
    if (query.cursor !== undefined) {
      cursorValue = decodeCursor(query.cursor);
      if (!cursorValue) throw new CallrecError('invalid_query', 'query.cursor: not a cursor this API issued');
    }
    if (query.from && query.to && Date.parse(query.from) >= Date.parse(query.to)) throw new CallrecError('invalid_query', 'query.from must be before query.to');
    const page = await listCalls(deps.database.db, deps.keyring, caller.orgId, { ...query, cursorValue });
    ctx.body = { data: page.rows.map((r) => { const { transcript: _t, ...rest } = toApiCall(r, caller.role); return rest; }), nextCursor: page.nextCursor };
  },
});

/** Pure: the call_logs row as it stood after the events stored up to `asOf` (the same evolve as the projector). */
export function foldCallAsOf(events: RecordedEvent[], asOf: Date): CallLogRow | undefined {
  let row: CallLogRow | undefined;
  for (const e of events) {
    if (e.storedAt.getTime() > asOf.getTime()) break;
    row = evolveCallLog(row, e);
  }
  return row;
}

export const getCallRoute = defineRoute({
  method: 'get',
  path: '/api/calls/:id',
  operationId: 'getCall',
  summary: 'One call (the call_logs row) and its recording state; with asOf, as it stood then',
  description:
    'Without `asOf` the call comes from the call_logs read model. With `asOf` it is folded from the call\'s events that were ' +
    'stored at or before that time, with the same pure evolve the projector uses. Signed and source recording URLs are never ' +
    'part of a call: ask GET /api/calls/{id}/recording (audited).',
  tags: ['calls'],
  roles: ANY_ROLE,
  params: CallIdParams,
  query: GetCallQuery,
  responses: { 200: { description: 'the call', schema: CallDetail } },
  errors: ['not_found'],
  async handle(ctx, { params, query, caller }, deps) {
    let row: CallLogRow | undefined;
    if (query.asOf) {
      const events = await deps.store.readStream(callStream(params.id));
      row = foldCallAsOf(events, new Date(query.asOf));
      if (row && row.org_id !== caller.orgId) row = undefined;
    } else {
      row = await findCall(deps.database.db, deps.keyring, caller.orgId, params.id);
    }
    if (!row) throw new CallrecError('not_found', query.asOf ? `no call ${params.id} as of ${query.asOf}` : `no call ${params.id}`);
    ctx.body = { call: toApiCall(row, caller.role), recording: recordingState(row), asOf: query.asOf ? new Date(query.asOf).toISOString() : null };
  },
});

export const callHistoryRoute = defineRoute({
  method: 'get',
  path: '/api/calls/:id/history',
  operationId: 'getCallHistory',
  summary: 'Every event of a call, in order (auditors and admins); signed URLs redacted, source recording URLs withheld',
  tags: ['audit'],
  roles: AUDITORS,
  params: CallIdParams,
  responses: { 200: { description: 'the call\'s events', schema: CallHistory } },
  errors: ['not_found'],
  async handle(ctx, { params, caller }, deps) {
    const events = await deps.store.readStream(callStream(params.id));
    // The call's org is decided as the read model decides it (the same fold); another org's call is a 404.
    const row = events.reduce<CallLogRow | undefined>((r, e) => evolveCallLog(r, e), undefined);
    if (!row || row.org_id !== caller.orgId) throw new CallrecError('not_found', `no call ${params.id}`);
    ctx.body = {
      callId: params.id,
      events: events
        .map(redactEvent)
        .map((e) => ({ position: e.position, revision: e.revision, eventId: e.eventId, type: e.type, data: e.data as Record<string, unknown>, metadata: e.metadata, storedAt: e.storedAt.toISOString() })),
    } satisfies z.input<typeof CallHistory>;
  },
});

export const callRoutes = [listCallsRoute, getCallRoute, callHistoryRoute];
