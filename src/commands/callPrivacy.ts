import type { EventData } from '../events/catalog.ts';
import type { EventMetadata, RecordedEvent } from '../events/port.ts';

/**
 * What a call's stream says about its personal data: which org it belongs to, whether it is erased or held,
 * where its recording was stored, and how far the erasure steps (local and at Vapi) have come. A pure fold
 * (`evolveCallPrivacy`) that the erasure and hold deciders (erasure.ts, hold.ts) and the erasure process read.
 */

export interface ErasureCounts {
  objectsDeleted: number;
  keysDestroyed: number;
  eventsRewritten: number;
}

export const NO_COUNTS: ErasureCounts = { objectsDeleted: 0, keysDestroyed: 0, eventsRewritten: 0 };

export type VapiDeletion =
  /** not asked yet (or not erased) */
  | { status: 'pending'; attempts: number }
  | { status: 'retry_scheduled'; attempts: number; retryAt: string }
  | { status: 'deleted'; attempts: number }
  | { status: 'given_up'; attempts: number };

export interface CallPrivacyState {
  callId: string;
  /** revision of the last event read (-1: no stream): the expected revision of the next append */
  revision: number;
  /** the call's org, decided as call_logs decides it; null while the stream has no call event */
  orgId: string | null;
  /** when the call ended (Vapi's endedAt, else when the report was recorded): the date of its object path */
  endedAt: string | null;
  /** correlation id of the call (its CallEnded), for the events the erasure process writes */
  correlationId: string | null;
  erased: { eventId: string; reason: string; by: string; at: string } | null;
  held: { reason: string; by: string; at: string } | null;
  /** every storage path a RecordingUploaded of the call named */
  storagePaths: string[];
  completed: EventData<'ErasureCompleted'> | null;
  /** highest attempt of the local erasure steps that failed */
  failedAttempts: number;
  /** when the local steps are due again after a failure */
  retryAt: string | null;
  /** what failed attempts did before they failed (added to the completion's counts) */
  partial: ErasureCounts;
  vapi: VapiDeletion;
}

export function initialCallPrivacy(callId: string): CallPrivacyState {
  return {
    callId,
    revision: -1,
    orgId: null,
    endedAt: null,
    correlationId: null,
    erased: null,
    held: null,
    storagePaths: [],
    completed: null,
    failedAttempts: 0,
    retryAt: null,
    partial: NO_COUNTS,
    vapi: { status: 'pending', attempts: 0 },
  };
}

const add = (a: ErasureCounts, b: ErasureCounts): ErasureCounts => ({
  objectsDeleted: a.objectsDeleted + b.objectsDeleted,
  keysDestroyed: a.keysDestroyed + b.keysDestroyed,
  eventsRewritten: a.eventsRewritten + b.eventsRewritten,
});

const at = (m: EventMetadata) => m.recordedAt;

/** Pure: the state after one event of the call's stream. */
export function evolveCallPrivacy(state: CallPrivacyState, event: RecordedEvent): CallPrivacyState {
  const s: CallPrivacyState = { ...state, revision: event.revision };
  switch (event.type) {
    case 'CallEnded': {
      const d = event.data as EventData<'CallEnded'>;
      s.orgId = d.orgId;
      s.endedAt = d.endedAt ?? event.metadata.recordedAt;
      s.correlationId = event.metadata.correlationId;
      return s;
    }
    case 'CallStatusChanged':
      s.orgId ??= event.metadata.orgId;
      s.correlationId ??= event.metadata.correlationId;
      return s;
    case 'RecordingUploaded': {
      const path = (event.data as EventData<'RecordingUploaded'>).storagePath;
      if (!s.storagePaths.includes(path)) s.storagePaths = [...s.storagePaths, path];
      return s;
    }
    case 'CallErased': {
      // The first erasure is the one that counts; a later one (there should be none) changes nothing.
      if (s.erased) return s;
      const d = event.data as EventData<'CallErased'>;
      s.erased = { eventId: event.eventId, reason: d.reason, by: event.metadata.actor, at: at(event.metadata) };
      return s;
    }
    case 'CallHeld': {
      const d = event.data as EventData<'CallHeld'>;
      s.held = { reason: d.reason, by: event.metadata.actor, at: at(event.metadata) };
      return s;
    }
    case 'CallReleased':
      s.held = null;
      return s;
    case 'ErasureStepFailed': {
      const d = event.data as EventData<'ErasureStepFailed'>;
      s.failedAttempts = Math.max(s.failedAttempts, d.attempt);
      s.retryAt = d.retryAt;
      s.partial = add(s.partial, d);
      return s;
    }
    case 'ErasureCompleted':
      s.completed = event.data as EventData<'ErasureCompleted'>;
      s.retryAt = null;
      return s;
    case 'VapiCallDataDeleted': {
      const d = event.data as EventData<'VapiCallDataDeleted'>;
      s.vapi = { status: 'deleted', attempts: Math.max(s.vapi.attempts, d.attempt) };
      return s;
    }
    case 'VapiCallDataDeleteFailed': {
      const d = event.data as EventData<'VapiCallDataDeleteFailed'>;
      if (s.vapi.status === 'deleted') return s;
      const attempts = Math.max(s.vapi.attempts, d.attempt);
      s.vapi = d.retryAt ? { status: 'retry_scheduled', attempts, retryAt: d.retryAt } : { status: 'given_up', attempts };
      return s;
    }
    default:
      return s;
  }
}

export function callPrivacyOf(callId: string, events: RecordedEvent[]): CallPrivacyState {
  return events.reduce(evolveCallPrivacy, initialCallPrivacy(callId));
}

/** Who did something, and when: what the API and the CLI answer about an erasure or a hold. */
export interface PrivacyCommandContext {
  callId: string;
  /** The caller's org; null when the caller may reach every org (the CLI, run by the operator). */
  orgId: string | null;
  /** `user:<id>` or `cli:<user>` */
  actor: string;
  correlationId: string;
  now: Date;
}

/** Why a privacy command was refused. */
export type PrivacyRefusal = {
  code: 'not_found' | 'call_held' | 'call_erased' | 'call_not_held' | 'invalid_reason';
  message: string;
  details?: Record<string, unknown>;
};

/** The longest reason kept in the log. */
export const MAX_REASON_LENGTH = 1000;

/** Pure: the reason as it is recorded, or a refusal naming the problem. */
export function checkReason(reason: unknown): { ok: true; reason: string } | { ok: false; error: PrivacyRefusal } {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text === '') return { ok: false, error: { code: 'invalid_reason', message: 'reason: give a non-empty reason' } };
  if (text.length > MAX_REASON_LENGTH) return { ok: false, error: { code: 'invalid_reason', message: `reason: at most ${MAX_REASON_LENGTH} characters` } };
  return { ok: true, reason: text };
}

/** Pure: the call as the caller may see it, or not_found (no call, or another org's call: they look the same). */
export function visibleCall(cmd: PrivacyCommandContext, state: CallPrivacyState): PrivacyRefusal | undefined {
  if (state.orgId === null || (cmd.orgId !== null && cmd.orgId !== state.orgId)) return { code: 'not_found', message: `no call ${cmd.callId}` };
  return undefined;
}
