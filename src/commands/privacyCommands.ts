import { CallrecError, type ErrorCode } from '../errors.ts';
import { callStream } from '../events/catalog.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import { callPrivacyOf, type CallPrivacyState, type PrivacyRefusal } from './callPrivacy.ts';

/**
 * Runs a privacy decider (erase, hold, release) against the call's stream: read, fold, decide, append at the
 * revision that was read. A concurrent writer makes the append conflict; the stream is then read and decided
 * again, so two requests never both write (a second erasure sees the first and decides nothing).
 */

type Decision = { ok: true; events: NewEvent[]; streamId: string } | { ok: false; error: PrivacyRefusal };

export interface ExecutedCommand<D extends Decision> {
  decision: D;
  /** The call's privacy state after the command (re-read when something was appended). */
  state: CallPrivacyState;
}

export async function executePrivacyCommand<D extends Decision>(store: EventStore, callId: string, decide: (state: CallPrivacyState) => D): Promise<ExecutedCommand<D>> {
  const stream = callStream(callId);
  for (let round = 0; round < 5; round++) {
    const state = callPrivacyOf(callId, await store.readStream(stream));
    const decision = decide(state);
    if (!decision.ok || decision.events.length === 0) return { decision, state };
    const r = await store.append(decision.streamId, decision.events, state.revision);
    if (r.ok) return { decision, state: callPrivacyOf(callId, await store.readStream(stream)) };
    if (r.error.code !== 'wrong_expected_revision' && r.error.code !== 'event_id_conflict') {
      throw new CallrecError(r.error.code === 'invalid_event' ? 'invalid_event' : 'internal', r.error.message);
    }
  }
  throw new CallrecError('wrong_expected_revision', `call ${callId} kept changing while the command was decided; try again`);
}

/** The catalogue error of a refusal (the HTTP answer; the CLI prints its message). */
export function refusalError(refusal: PrivacyRefusal): CallrecError {
  const code: ErrorCode = refusal.code === 'invalid_reason' ? 'invalid_body' : refusal.code;
  return new CallrecError(code, refusal.message, refusal.details);
}
