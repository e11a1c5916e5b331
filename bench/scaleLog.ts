import { randomUUID } from 'node:crypto';
import { decideCallEnded } from '../src/commands/callIngest.ts';
import type { EventStore, NewEvent } from '../src/events/port.ts';

// A realistic log for the scale benchmark: calls of 6–8 events, each with one ~1 KB end-of-call report
// (transcript and summary), spread over five orgs and over time (one call a minute backwards from T0).

export const ORGS = ['org-0', 'org-1', 'org-2', 'org-3', 'org-4'];
export const T0 = new Date('2026-11-20T10:00:00Z');
const LINE = 'AI: Thank you for calling Harbor Dental, how can I help?\nUser: I would like to move my appointment.\n';

/** The events of one call: statuses, the report, the upload, the signed URL and 0–2 downloads. */
export function callEvents(i: number): { streamId: string; events: NewEvent[] } {
  const id = `scale-${i}`;
  const orgId = ORGS[i % ORGS.length]!;
  const ended = new Date(T0.getTime() - i * 60_000);
  const at = ended.toISOString();
  const meta = { correlationId: randomUUID(), causationId: null, orgId, recordedAt: at, actor: 'bench' };
  // A word shared by 1 call in 1,000 makes a selective `q`; "appointment" is in every transcript.
  const transcript = `${LINE.repeat(8)}User: my reference is word${i % 1000}.\n`;
  const d = decideCallEnded(
    {
      callId: id, vapiOrgId: null, callType: i % 3 === 0 ? 'outboundPhoneCall' : 'inboundPhoneCall', assistantId: `a${i % 7}`, phoneNumberId: 'p1',
      customerNumber: '+15550100', startedAt: new Date(ended.getTime() - 61_000).toISOString(), endedAt: at, durationSeconds: 61,
      endedReason: i % 10 === 0 ? 'silence-timed-out' : 'customer-ended-call', transcript, summary: 'Moved the appointment.', cost: 0.12,
      recordingUrl: `https://storage.vapi.ai/${id}.wav`, stereoRecordingUrl: null, messageAt: at,
    },
    { orgId, correlationId: meta.correlationId, now: ended },
  );
  const ev = (type: string, data: object): NewEvent => ({ eventId: randomUUID(), type, data, metadata: meta });
  const path = `${orgId}/2026/11/20/${id}.wav`;
  const events = [
    ev('CallStatusChanged', { callId: id, orgId, status: 'ringing', at, endedReason: null }),
    ev('CallStatusChanged', { callId: id, orgId, status: 'in-progress', at, endedReason: null }),
    d.event,
    ev('RecordingUploaded', { callId: id, attempt: 1, storagePath: path, bytes: 480_044, sha256: 'a'.repeat(64), format: 'wav', codec: 'PCM', contentType: 'audio/wav', durationSeconds: 30, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null }),
    ev('UrlSigned', { callId: id, storagePath: path, url: `http://localhost:3000/recordings/${id}.wav?expires=1&sig=x`, expiresAt: at, by: 'system:pipeline' }),
  ];
  for (let k = 0; k < (i % 3) + 1; k++) events.push(ev('RecordingAccessed', { callId: id, userId: `u${k}`, action: 'download', ip: '127.0.0.1', userAgent: 'bench' }));
  return { streamId: d.streamId, events };
}

/**
 * Grows the log through the store (the service's own pool and group commit) until it holds `target`
 * events; `nextCall` numbers the calls. Many calls are in flight at once, so each transaction carries
 * thousands of events. Returns the next call number.
 */
export async function growLog(store: EventStore, target: number, nextCall: number, inFlight = 400): Promise<number> {
  let head = await store.headPosition();
  while (head < target) {
    const want = Math.min(inFlight, Math.ceil((target - head) / 7));
    const results = await Promise.all(
      Array.from({ length: want }, () => {
        const c = callEvents(nextCall++);
        return store.append(c.streamId, c.events, 'no_stream');
      }),
    );
    const bad = results.find((r) => !r.ok);
    if (bad && !bad.ok) throw new Error(`growth append failed: ${bad.error.message}`);
    head = await store.headPosition();
  }
  return nextCall;
}
