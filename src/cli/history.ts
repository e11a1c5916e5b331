import { callStream } from '../events/catalog.ts';
import type { EventStore, RecordedEvent } from '../events/port.ts';
import { CALL_ID_RE } from '../vapi/messages.ts';
import { redactEvent } from '../events/redact.ts';
import { UsageError } from './command.ts';

export async function callHistory(store: EventStore, callId: string): Promise<RecordedEvent[]> {
  if (!CALL_ID_RE.test(callId)) throw new UsageError(`call id ${JSON.stringify(callId)} is not valid (letters, digits, - and _)`);
  return (await store.readStream(callStream(callId))).map(redactEvent);
}

export function formatHistory(callId: string, events: RecordedEvent[]): string {
  if (events.length === 0) return `no events for call ${callId}\n`;
  const lines = [`history of call ${callId}: ${events.length} event(s)`, ''];
  for (const e of events) {
    lines.push(
      `#${e.position}  rev ${e.revision}  ${e.metadata.recordedAt}  ${e.type}`,
      `    actor ${e.metadata.actor}  correlation ${e.metadata.correlationId}${e.metadata.causationId ? `  caused by ${e.metadata.causationId}` : ''}  org ${e.metadata.orgId}  stored ${e.storedAt.toISOString()}`,
      `    ${JSON.stringify(e.data)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
