import type { EventData } from '../events/catalog.ts';
import { callStream } from '../events/catalog.ts';
import { newEventId } from '../events/ids.ts';
import type { EventMetadata, NewEvent } from '../events/port.ts';
import { checkReason, visibleCall, type CallPrivacyState, type PrivacyCommandContext, type PrivacyRefusal } from './callPrivacy.ts';

/**
 * Legal holds, as pure deciders: a held call is exempt from retention and erasure until it is released.
 * Holding needs a reason and a call that is not erased; holding a held call again decides nothing (the hold
 * stands as it was); releasing needs a reason and a held call.
 */

export type HoldCommand = PrivacyCommandContext & { reason: string };

export type HoldDecision =
  | { ok: true; events: NewEvent[]; streamId: string; orgId: string; /** nothing changed (already held) */ already: boolean }
  | { ok: false; error: PrivacyRefusal };

function event(type: 'CallHeld' | 'CallReleased', cmd: HoldCommand, orgId: string, reason: string): NewEvent {
  const data: EventData<'CallHeld'> | EventData<'CallReleased'> = { callId: cmd.callId, orgId, reason };
  const metadata: EventMetadata = { correlationId: cmd.correlationId, causationId: null, orgId, recordedAt: cmd.now.toISOString(), actor: cmd.actor };
  return { eventId: newEventId(), type, data, metadata };
}

/** Pure: put a call under a legal hold. */
export function decideHold(cmd: HoldCommand, state: CallPrivacyState): HoldDecision {
  const hidden = visibleCall(cmd, state);
  if (hidden) return { ok: false, error: hidden };
  const reason = checkReason(cmd.reason);
  if (!reason.ok) return reason;
  if (state.erased) {
    return {
      ok: false,
      error: { code: 'call_erased', message: `call ${cmd.callId} was erased (${state.erased.at} by ${state.erased.by}): there is nothing left to hold`, details: { erasedAt: state.erased.at } },
    };
  }
  const streamId = callStream(cmd.callId);
  if (state.held) return { ok: true, events: [], streamId, orgId: state.orgId!, already: true };
  return { ok: true, events: [event('CallHeld', cmd, state.orgId!, reason.reason)], streamId, orgId: state.orgId!, already: false };
}

/** Pure: lift a call's legal hold. */
export function decideRelease(cmd: HoldCommand, state: CallPrivacyState): HoldDecision {
  const hidden = visibleCall(cmd, state);
  if (hidden) return { ok: false, error: hidden };
  const reason = checkReason(cmd.reason);
  if (!reason.ok) return reason;
  if (!state.held) return { ok: false, error: { code: 'call_not_held', message: `call ${cmd.callId} is not under a legal hold` } };
  return { ok: true, events: [event('CallReleased', cmd, state.orgId!, reason.reason)], streamId: callStream(cmd.callId), orgId: state.orgId!, already: false };
}

/** What the API answers about a call's hold. */
export function holdOutcome(state: CallPrivacyState) {
  return { callId: state.callId, held: state.held !== null, heldAt: state.held?.at ?? null, heldBy: state.held?.by ?? null, reason: state.held?.reason ?? null };
}
