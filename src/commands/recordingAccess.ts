import { callStream, type EventData } from '../events/catalog.ts';
import { newEventId } from '../events/ids.ts';
import type { EventMetadata, NewEvent } from '../events/port.ts';

/**
 * Pure deciders for handing a recording URL to a dashboard user. The events go to the call's stream in
 * one append, and the route hands the URL out only after that append committed: no audit event, no URL.
 */

export interface AccessContext {
  callId: string;
  /** The call's org (the caller's org: routes only reach calls of the caller's org). */
  orgId: string;
  userId: string;
  ip: string | null;
  userAgent: string | null;
  correlationId: string;
  now: Date;
}

export interface FreshUrl {
  storagePath: string;
  url: string;
  expiresAt: Date;
}

export interface AccessDecision {
  streamId: string;
  events: NewEvent[];
}

/** The actor of events caused by a dashboard user. */
export const userActor = (userId: string) => `user:${userId}`;

/** Longest user agent kept in the audit trail. */
export const MAX_USER_AGENT = 512;

function metadata(ctx: AccessContext): EventMetadata {
  return { correlationId: ctx.correlationId, causationId: null, orgId: ctx.orgId, recordedAt: ctx.now.toISOString(), actor: userActor(ctx.userId) };
}

function accessed(ctx: AccessContext, action: 'download' | 'refresh', causationId: string | null): NewEvent {
  const data: EventData<'RecordingAccessed'> = {
    callId: ctx.callId,
    userId: ctx.userId,
    action,
    ip: ctx.ip,
    userAgent: ctx.userAgent === null ? null : ctx.userAgent.slice(0, MAX_USER_AGENT),
  };
  return { eventId: newEventId(), type: 'RecordingAccessed', data, metadata: { ...metadata(ctx), causationId } };
}

function signed(ctx: AccessContext, fresh: FreshUrl): NewEvent {
  const data: EventData<'UrlSigned'> = {
    callId: ctx.callId,
    storagePath: fresh.storagePath,
    url: fresh.url,
    expiresAt: fresh.expiresAt.toISOString(),
    by: userActor(ctx.userId),
  };
  return { eventId: newEventId(), type: 'UrlSigned', data, metadata: metadata(ctx) };
}

/**
 * GET …/recording: always a `RecordingAccessed` (download); when the route had to sign a new URL because
 * the stored one was missing or about to expire, the `UrlSigned` comes first, so the read model keeps it.
 */
export function decideDownload(ctx: AccessContext, fresh: FreshUrl | null): AccessDecision {
  const events: NewEvent[] = [];
  if (fresh) events.push(signed(ctx, fresh));
  events.push(accessed(ctx, 'download', events[0]?.eventId ?? null));
  return { streamId: callStream(ctx.callId), events };
}

/** POST …/recording/refresh: a new URL signed for the user (`UrlSigned`, by user) and its audit (`refresh`). */
export function decideRefresh(ctx: AccessContext, fresh: FreshUrl): AccessDecision {
  const s = signed(ctx, fresh);
  return { streamId: callStream(ctx.callId), events: [s, accessed(ctx, 'refresh', s.eventId)] };
}

/** Seconds before expiry at which a stored URL is no longer handed out as is. */
export const RESIGN_MARGIN_SECONDS = 300;

/** Pure: may the stored URL be handed out at `now`, or must a new one be signed? */
export function storedUrlUsable(url: string | null, expiresAt: string | null, now: Date, marginSeconds = RESIGN_MARGIN_SECONDS): boolean {
  if (!url || !expiresAt) return false;
  const t = Date.parse(expiresAt);
  return Number.isFinite(t) && t - now.getTime() > marginSeconds * 1000;
}
