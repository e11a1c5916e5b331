import { z } from 'zod';
import { CallrecError } from '../../errors.ts';
import { listDownloads } from '../../projections/recordingDownloads/queries.ts';
import { defineRoute } from '../openapi/route.ts';
import { CallId } from './callsSchemas.ts';

/** The audit trail of recording handouts (recording_downloads read model), for auditors and admins. */

export const ListDownloadsQuery = z.object({
  call_id: CallId.optional(),
  user_id: z.string().min(1).max(256).optional(),
  action: z.enum(['download', 'refresh']).optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('accessed at or after'),
  to: z.iso.datetime({ offset: true }).optional().describe('accessed before'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().regex(/^\d{1,15}$/, 'a cursor is the nextCursor of the previous page').optional(),
});

export const DownloadList = z.object({
  data: z.array(
    z.object({
      position: z.number().describe('position of the RecordingAccessed event in the log'),
      event_id: z.string(),
      call_id: z.string(),
      user_id: z.string(),
      action: z.enum(['download', 'refresh']),
      ip: z.string().nullable(),
      user_agent: z.string().nullable(),
      accessed_at: z.string(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const auditDownloadsRoute = defineRoute({
  method: 'get',
  path: '/api/audit/downloads',
  operationId: 'listRecordingDownloads',
  summary: 'Who fetched which recording URL, when, from where (auditors and admins), newest first',
  tags: ['audit'],
  roles: ['auditor', 'admin'],
  query: ListDownloadsQuery,
  responses: { 200: { description: 'one page of recording handouts', schema: DownloadList } },
  async handle(ctx, { query, caller }, deps) {
    if (query.from && query.to && Date.parse(query.from) >= Date.parse(query.to)) throw new CallrecError('invalid_query', 'query.from must be before query.to');
    const rows = await listDownloads(deps.database.db, deps.keyring, {
      orgId: caller.orgId,
      callId: query.call_id,
      userId: query.user_id,
      action: query.action,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      beforePosition: query.cursor ? Number(query.cursor) : undefined,
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    ctx.body = { data: page, nextCursor: rows.length > query.limit ? String(page[page.length - 1]!.position) : null };
  },
});

export const auditRoutes = [auditDownloadsRoute];
