import { validateEventData } from './catalog.ts';
import { UUID_RE } from './ids.ts';
import type { AppendResult, NewEvent } from './port.ts';

/**
 * What every adapter checks before it writes: a UUID event id (normalised to lower case), data that passes
 * its type's schema (and is replaced by the parsed value), metadata naming a correlation id and an actor.
 * The first event that fails refuses the whole append, naming the problem.
 */
export function prepareEvents(events: NewEvent[]): { ok: true; events: NewEvent[] } | { ok: false; result: AppendResult } {
  const prepared: NewEvent[] = [];
  for (const e of events) {
    const issues: string[] = [];
    if (typeof e.eventId !== 'string' || !UUID_RE.test(e.eventId)) issues.push(`eventId: not a UUID (${String(e.eventId)})`);
    const checked = validateEventData(e.type, e.data);
    if (!checked.ok) issues.push(...checked.issues);
    if (!e.metadata || typeof e.metadata.correlationId !== 'string' || typeof e.metadata.actor !== 'string') {
      issues.push('metadata: correlationId and actor are required');
    }
    if (issues.length > 0 || !checked.ok) {
      return {
        ok: false,
        result: { ok: false, error: { code: 'invalid_event', eventId: String(e.eventId), type: e.type, issues, message: `event ${e.type} refused: ${issues.join('; ')}` } },
      };
    }
    prepared.push({ ...e, eventId: e.eventId.toLowerCase(), data: checked.data });
  }
  return { ok: true, events: prepared };
}
