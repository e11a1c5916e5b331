import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import ipaddr from 'ipaddr.js';
import { decideDownload, decideRefresh, storedUrlUsable, type AccessContext, type AccessDecision, type FreshUrl } from '../../commands/recordingAccess.ts';
import { CallrecError } from '../../errors.ts';
import type { CallLogRow } from '../../projections/callLogs/evolve.ts';
import type { Caller } from '../auth.ts';
import { defineRoute, type ApiDeps } from '../openapi/route.ts';
import { findCall } from '../../projections/callLogs/queries.ts';
import { CallIdParams, RecordingResponse, RefreshedUrl } from './callsSchemas.ts';
import { toApiCall } from './callsQuery.ts';
import { ANY_ROLE } from '../../auth/roles.ts';

/**
 * Recording URLs. Every handout appends `RecordingAccessed` (user, time, IP, user agent) — and `UrlSigned`
 * when a new URL was signed — to the call's stream, and the URL is answered only after that append
 * committed. If it fails, the caller gets 503 `audit_failed` and no URL (fail closed).
 */

const NO_AUDIO = new Set(['none', 'abandoned', 'missing', 'erased', 'expired']);

/** The client's address: koa's `ctx.ip` (X-Forwarded-For only when TRUST_PROXY), normalised; null if unusable. */
export function clientIp(ctx: Context): string | null {
  const candidates = [ctx.ip, ctx.req.socket.remoteAddress];
  for (const c of candidates) {
    if (c && ipaddr.isValid(c)) return ipaddr.process(c).toString();
  }
  return null;
}

function correlationId(ctx: Context): string {
  const given = ctx.get('x-request-id');
  return given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
}

function accessContext(ctx: Context, row: CallLogRow, caller: Caller, deps: ApiDeps): AccessContext {
  const ua = ctx.get('user-agent');
  return { callId: row.id, orgId: row.org_id, userId: caller.userId, ip: clientIp(ctx), userAgent: ua ? ua : null, correlationId: correlationId(ctx), now: deps.clock() };
}

async function loadCall(deps: ApiDeps, caller: Caller, id: string): Promise<CallLogRow> {
  const row = await findCall(deps.database.db, deps.keyring, caller.orgId, id);
  if (!row) throw new CallrecError('not_found', `no call ${id}`);
  return row;
}

function hasAudio(row: CallLogRow): boolean {
  return row.recording_status === 'uploaded' && !row.recording_missing && row.recording_storage_path !== null;
}

function noAudioReason(row: CallLogRow): string | undefined {
  if (row.recording_missing || row.recording_status === 'missing') return 'recording_missing';
  if (row.recording_status === 'erased' || row.recording_status === 'expired') return row.recording_status;
  if (NO_AUDIO.has(row.recording_status)) return row.recording_error_code ?? (row.recording_status === 'none' ? 'no_recording_url' : row.recording_status);
  return undefined;
}

async function signFresh(deps: ApiDeps, row: CallLogRow): Promise<FreshUrl> {
  const storage = deps.storage;
  if (!storage) throw new CallrecError('storage_unavailable', 'no recording storage is configured');
  const path = row.recording_storage_path!;
  const r = await storage.createSignedUrl(path, deps.config.RECORDING_URL_EXPIRY_SECONDS);
  if (!r.ok) {
    if (r.error.code === 'not_found') throw new CallrecError('recording_missing', `the recording of call ${row.id} is no longer in storage`);
    deps.logger.error({ callId: row.id, errorCode: 'storage_unavailable', storageError: r.error.code }, 'signing a recording URL failed');
    throw new CallrecError('storage_unavailable', 'the recording URL could not be signed; try again');
  }
  return { storagePath: path, url: r.value.url, expiresAt: r.value.expiresAt };
}

/** Appends the audit events; throws 503 audit_failed when they are not stored (and nothing is handed out). */
async function appendAudit(deps: ApiDeps, decision: AccessDecision, callId: string): Promise<void> {
  const log = deps.logger.child({ callId, correlationId: decision.events[0]!.metadata.correlationId });
  try {
    const r = await deps.store.append(decision.streamId, decision.events, 'any');
    if (r.ok) return;
    log.error({ errorCode: 'audit_failed', cause: r.error.code, detail: r.error.message }, 'recording access refused: audit event not stored');
  } catch (err) {
    log.error({ err, errorCode: 'audit_failed' }, 'recording access refused: audit event not stored');
  }
  throw new CallrecError('audit_failed');
}

const expiresIn = (expiresAt: Date, now: Date) => Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));

export const getRecordingRoute = defineRoute({
  method: 'get',
  path: '/api/calls/:id/recording',
  operationId: 'getRecording',
  summary: 'A short-lived URL of the call recording (audited), or the transcript when the call has no audio',
  description:
    'Hands out the stored signed URL, or signs a new one when it is missing or expires within 5 minutes. ' +
    'A RecordingAccessed event (user, time, IP, user agent) is appended before the URL is answered; if it cannot be ' +
    'stored the answer is 503 audit_failed without a URL. A call without audio answers `{ transcriptOnly: true, transcript, reason }`; ' +
    'a recording still on its way answers 409 recording_not_ready.',
  tags: ['recordings'],
  roles: ANY_ROLE,
  params: CallIdParams,
  responses: { 200: { description: 'the URL, or the transcript-only fallback', schema: RecordingResponse } },
  errors: ['not_found', 'recording_not_ready', 'recording_missing', 'audit_failed', 'storage_unavailable'],
  async handle(ctx, { params, caller }, deps) {
    const row = await loadCall(deps, caller, params.id);
    ctx.set('Cache-Control', 'no-store');
    if (!hasAudio(row)) {
      const reason = noAudioReason(row);
      if (reason === undefined) throw new CallrecError('recording_not_ready', `the recording of call ${row.id} is ${row.recording_status.replace('_', ' ')}`);
      const shown = toApiCall(row, caller.role);
      ctx.body = { callId: row.id, transcriptOnly: true, transcript: shown.transcript, summary: shown.summary, reason };
      return;
    }
    const now = deps.clock();
    const reuse = storedUrlUsable(row.recording_signed_url, row.recording_signed_url_expires_at, now);
    const fresh = reuse ? null : await signFresh(deps, row);
    const access = accessContext(ctx, row, caller, deps);
    await appendAudit(deps, decideDownload(access, fresh), row.id);
    const url = fresh ? fresh.url : row.recording_signed_url!;
    const expiresAt = fresh ? fresh.expiresAt : new Date(row.recording_signed_url_expires_at!);
    ctx.body = {
      callId: row.id,
      url,
      expiresAt: expiresAt.toISOString(),
      expiresIn: expiresIn(expiresAt, now),
      contentType: row.recording_content_type,
      bytes: row.recording_bytes,
      durationSeconds: row.recording_duration_seconds,
      resigned: fresh !== null,
    };
  },
});

export const refreshRecordingRoute = defineRoute({
  method: 'post',
  path: '/api/calls/:id/recording/refresh',
  operationId: 'refreshRecordingUrl',
  summary: 'Sign a fresh recording URL now (UrlSigned by the user; audited like a download)',
  tags: ['recordings'],
  roles: ANY_ROLE,
  params: CallIdParams,
  responses: { 200: { description: 'the new URL', schema: RefreshedUrl } },
  errors: ['not_found', 'recording_not_ready', 'recording_missing', 'audit_failed', 'storage_unavailable'],
  async handle(ctx, { params, caller }, deps) {
    const row = await loadCall(deps, caller, params.id);
    ctx.set('Cache-Control', 'no-store');
    if (!hasAudio(row)) {
      const reason = noAudioReason(row);
      throw new CallrecError('recording_not_ready', reason ? `call ${row.id} has no recording (${reason}); GET its recording for the transcript` : `the recording of call ${row.id} is ${row.recording_status.replace('_', ' ')}`);
    }
    const fresh = await signFresh(deps, row);
    const now = deps.clock();
    await appendAudit(deps, decideRefresh(accessContext(ctx, row, caller, deps), fresh), row.id);
    ctx.body = { callId: row.id, url: fresh.url, expiresAt: fresh.expiresAt.toISOString(), expiresIn: expiresIn(fresh.expiresAt, now) };
  },
});

export const recordingRoutes = [getRecordingRoute, refreshRecordingRoute];
