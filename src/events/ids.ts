import { createHash, randomUUID } from 'node:crypto';

/** Namespace for callrec's name-based event ids (a fixed random UUID). */
const NAMESPACE = Buffer.from('6f1c2a58e0d94b7c9a3e5d2b71c48f06', 'hex');

/**
 * A name-based (version 5) UUID. Vapi gives no delivery id, so an event's id is derived from what makes
 * it unique (call id, message type, status …): a redelivered webhook maps to the same id.
 */
export function deterministicEventId(...parts: Array<string | number>): string {
  const hash = createHash('sha1').update(NAMESPACE).update(parts.map(String).join('\u001f')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export const newEventId = (): string => randomUUID();

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
