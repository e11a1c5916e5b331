import type { EventData } from '../events/catalog.ts';
import { deterministicEventId } from '../events/ids.ts';
import type { EventMetadata, NewEvent } from '../events/port.ts';
import { callStream } from '../events/catalog.ts';
import { retryDelayMinutes, type RetryPolicy } from './recording.ts';
import {
  checkReason,
  visibleCall,
  type CallPrivacyState,
  type ErasureCounts,
  type PrivacyCommandContext,
  type PrivacyRefusal,
} from './callPrivacy.ts';

/**
 * Erasing a call's personal data (GDPR art. 17), as pure deciders over the call's privacy state:
 * - `decideErase`: the command (`DELETE /api/calls/:id`, `callrec erase`) → `CallErased`, refused while the
 *   call is held; a second erasure decides nothing and answers the first one's outcome.
 * - `nextErasureWork`: what the erasure process (src/processes/erasure.ts) should do for an erased call now.
 * - `decideErasureOutcome` / `decideVapiOutcome`: the events recording what a run of the steps did.
 * Event ids are derived from (call id, type, attempt), and appends are made at the revision that was read:
 * two runs of the same step meet in one event.
 */

export const ERASURE_ACTOR = 'system:erasure';

export type EraseCommand = PrivacyCommandContext & { reason: string };

export type EraseDecision =
  | { ok: true; events: NewEvent[]; streamId: string; orgId: string; /** the call was erased before: nothing new */ already: boolean }
  | { ok: false; error: PrivacyRefusal };

/** Pure: erase a call. */
export function decideErase(cmd: EraseCommand, state: CallPrivacyState): EraseDecision {
  const hidden = visibleCall(cmd, state);
  if (hidden) return { ok: false, error: hidden };
  const orgId = state.orgId!;
  const streamId = callStream(cmd.callId);
  if (state.erased) return { ok: true, events: [], streamId, orgId, already: true };
  if (state.held) {
    return {
      ok: false,
      error: {
        code: 'call_held',
        message: `call ${cmd.callId} is under a legal hold (${state.held.reason}, by ${state.held.by} at ${state.held.at}); release it before erasing`,
        details: { hold: { reason: state.held.reason, by: state.held.by, at: state.held.at } },
      },
    };
  }
  const reason = checkReason(cmd.reason);
  if (!reason.ok) return reason;
  const data: EventData<'CallErased'> = { callId: cmd.callId, orgId, reason: reason.reason };
  const metadata: EventMetadata = { correlationId: cmd.correlationId, causationId: null, orgId, recordedAt: cmd.now.toISOString(), actor: cmd.actor };
  return { ok: true, events: [{ eventId: deterministicEventId(cmd.callId, 'CallErased', 0), type: 'CallErased', data, metadata }], streamId, orgId, already: false };
}

/** What the erasure process should do for a call now. */
export interface ErasureWork {
  /** run the local steps (keys, tombstone, storage) as attempt `attempt` */
  local: { attempt: number } | null;
  /** ask Vapi to delete its copy, as attempt `attempt` */
  vapi: { attempt: number } | null;
}

/** Pure: the erasure work due at `now` (`vapi`: whether VAPI_API_KEY is set). */
export function nextErasureWork(state: CallPrivacyState, now: Date, opts: { vapi: boolean }): ErasureWork {
  if (!state.erased) return { local: null, vapi: null };
  const due = (iso: string | null) => iso === null || Date.parse(iso) <= now.getTime();
  const local = !state.completed && due(state.retryAt) ? { attempt: state.failedAttempts + 1 } : null;
  let vapi: ErasureWork['vapi'] = null;
  if (opts.vapi) {
    const v = state.vapi;
    if (v.status === 'pending' || (v.status === 'retry_scheduled' && due(v.retryAt))) vapi = { attempt: v.attempts + 1 };
  }
  return { local, vapi };
}

export type ErasureStepOutcome =
  | { ok: true; counts: ErasureCounts }
  | { ok: false; step: EventData<'ErasureStepFailed'>['step']; code: string; message: string; counts: ErasureCounts };

function meta(state: CallPrivacyState, causationId: string | null, now: Date): EventMetadata {
  return { correlationId: state.correlationId ?? state.erased?.eventId ?? state.callId, causationId, orgId: state.orgId!, recordedAt: now.toISOString(), actor: ERASURE_ACTOR };
}

/** Pure: the event recording one run of the local steps. A failure is retried with backoff, never given up. */
export function decideErasureOutcome(state: CallPrivacyState, attempt: number, outcome: ErasureStepOutcome, ctx: { now: Date; retry: RetryPolicy }): NewEvent[] {
  if (!state.erased || !state.orgId) throw new Error('decideErasureOutcome: the call is not erased');
  const base = { callId: state.callId, orgId: state.orgId };
  const causation = state.erased.eventId;
  if (outcome.ok) {
    const c = outcome.counts;
    const data: EventData<'ErasureCompleted'> = {
      ...base,
      objectsDeleted: state.partial.objectsDeleted + c.objectsDeleted,
      keysDestroyed: state.partial.keysDestroyed + c.keysDestroyed,
      eventsRewritten: state.partial.eventsRewritten + c.eventsRewritten,
    };
    return [{ eventId: deterministicEventId(state.callId, 'ErasureCompleted', 0), type: 'ErasureCompleted', data, metadata: meta(state, causation, ctx.now) }];
  }
  const delay = Math.max(1, retryDelayMinutes(ctx.retry, attempt));
  const data: EventData<'ErasureStepFailed'> = {
    ...base,
    attempt,
    step: outcome.step,
    code: outcome.code,
    message: outcome.message.slice(0, 2000),
    retryAt: new Date(ctx.now.getTime() + delay * 60_000).toISOString(),
    ...outcome.counts,
  };
  return [{ eventId: deterministicEventId(state.callId, 'ErasureStepFailed', attempt), type: 'ErasureStepFailed', data, metadata: meta(state, causation, ctx.now) }];
}

export type VapiDeleteOutcome =
  | { ok: true; alreadyGone: boolean }
  | { ok: false; code: string; status: number | null; message: string; retryable: boolean };

/** Pure: the event recording one request to Vapi; retried with the uploads' backoff while retryable and retries remain. */
export function decideVapiOutcome(state: CallPrivacyState, attempt: number, outcome: VapiDeleteOutcome, ctx: { now: Date; retry: RetryPolicy }): NewEvent[] {
  if (!state.erased || !state.orgId) throw new Error('decideVapiOutcome: the call is not erased');
  const base = { callId: state.callId, orgId: state.orgId, attempt };
  const causation = state.erased.eventId;
  if (outcome.ok) {
    const data: EventData<'VapiCallDataDeleted'> = { ...base, alreadyGone: outcome.alreadyGone };
    return [{ eventId: deterministicEventId(state.callId, 'VapiCallDataDeleted', attempt), type: 'VapiCallDataDeleted', data, metadata: meta(state, causation, ctx.now) }];
  }
  const again = outcome.retryable && attempt <= ctx.retry.maxRetries;
  const data: EventData<'VapiCallDataDeleteFailed'> = {
    ...base,
    code: outcome.code,
    status: outcome.status,
    message: outcome.message.slice(0, 2000),
    retryable: outcome.retryable,
    retryAt: again ? new Date(ctx.now.getTime() + retryDelayMinutes(ctx.retry, attempt) * 60_000).toISOString() : null,
  };
  return [{ eventId: deterministicEventId(state.callId, 'VapiCallDataDeleteFailed', attempt), type: 'VapiCallDataDeleteFailed', data, metadata: meta(state, causation, ctx.now) }];
}

/** What the API and the CLI answer about an erasure (the same for the first and every later request). */
export function erasureOutcome(state: CallPrivacyState) {
  return {
    callId: state.callId,
    erased: state.erased !== null,
    erasedAt: state.erased?.at ?? null,
    erasedBy: state.erased?.by ?? null,
    reason: state.erased?.reason ?? null,
    completed: state.completed !== null,
    objectsDeleted: state.completed?.objectsDeleted ?? null,
    keysDestroyed: state.completed?.keysDestroyed ?? null,
    eventsRewritten: state.completed?.eventsRewritten ?? null,
    retryAt: state.completed ? null : state.retryAt,
    vapi: state.vapi.status,
  };
}
export type ErasureOutcome = ReturnType<typeof erasureOutcome>;
