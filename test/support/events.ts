import { randomUUID } from 'node:crypto';
import type { EventMetadata, NewEvent } from '../../src/events/port.ts';

export function meta(over: Partial<EventMetadata> = {}): EventMetadata {
  return { correlationId: randomUUID(), causationId: null, orgId: 'org-test', recordedAt: new Date().toISOString(), actor: 'test', ...over };
}

/** A small valid event (CallStatusChanged) for store tests. */
export function statusEvent(callId: string, status = 'in-progress', eventId = randomUUID()): NewEvent {
  return { eventId, type: 'CallStatusChanged', data: { callId, orgId: 'org-test', status, at: new Date(0).toISOString(), endedReason: null }, metadata: meta() };
}
