import { z } from 'zod';

/**
 * Vapi server messages as they really arrive: `{ "message": { type, ... } }`. Fields moved between API
 * versions, may be missing, null or empty strings, and the embedded `call` is a stale snapshot. Parsing is
 * lenient field by field (a field of the wrong type reads as absent) but strict about the envelope.
 */

const text = z.string().nullish().catch(null);
const num = z.number().finite().nullish().catch(null);
const when = z.union([z.number().finite(), z.string()]).nullish().catch(null);
const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape).nullish().catch(null);

export const CALL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const Envelope = z.object({
  message: z.object({ type: z.string().min(1, 'message.type is empty') }).passthrough(),
});

const CallSnapshot = obj({
  id: z.unknown(),
  orgId: text,
  type: text,
  assistantId: text,
  phoneNumberId: text,
  status: text,
  startedAt: when,
  endedAt: when,
  endedReason: text,
  customer: obj({ number: text }),
});

export const EndOfCallReport = z.object({
  type: z.literal('end-of-call-report'),
  timestamp: when,
  endedReason: text,
  startedAt: when,
  endedAt: when,
  durationSeconds: num,
  durationMs: num,
  cost: num,
  call: CallSnapshot,
  customer: obj({ number: text }),
  assistant: obj({ id: text }),
  phoneNumber: obj({ id: text }),
  artifact: obj({
    recording: obj({
      mono: obj({ combinedUrl: text }),
      stereoUrl: text,
    }),
    recordingUrl: text,
    stereoRecordingUrl: text,
    transcript: text,
  }),
  analysis: obj({ summary: text }),
  recordingUrl: text,
  stereoRecordingUrl: text,
  transcript: text,
  summary: text,
});

export const StatusUpdate = z.object({
  type: z.literal('status-update'),
  status: z.string().min(1, 'status-update without status'),
  timestamp: when,
  endedReason: text,
  call: CallSnapshot,
});

export interface NormalisedReport {
  callId: string;
  vapiOrgId: string | null;
  callType: string | null;
  assistantId: string | null;
  phoneNumberId: string | null;
  customerNumber: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  endedReason: string | null;
  transcript: string | null;
  summary: string | null;
  cost: number | null;
  recordingUrl: string | null;
  stereoRecordingUrl: string | null;
  messageAt: string | null;
}

export interface NormalisedStatus {
  callId: string;
  vapiOrgId: string | null;
  assistantId: string | null;
  phoneNumberId: string | null;
  status: string;
  at: string | null;
  endedReason: string | null;
}

/** First value that is not blank, kept as sent (a transcript's whitespace is part of it). */
function first(...values: Array<string | null | undefined>): string | null {
  for (const v of values) if (typeof v === 'string' && v.trim() !== '') return v;
  return null;
}

const firstUrl = (...values: Array<string | null | undefined>) => first(...values)?.trim() ?? null;

/** Epoch milliseconds (number or numeric string) or an ISO string → ISO string; anything else → null. */
export function toIso(value: number | string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  let ms: number;
  if (typeof value === 'number') ms = value < 1e11 ? value * 1000 : value; // seconds or milliseconds
  else if (/^\d+(\.\d+)?$/.test(value.trim())) {
    const n = Number(value);
    ms = n < 1e11 ? n * 1000 : n;
  } else ms = Date.parse(value);
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export type CallIdResult = { ok: true; callId: string } | { ok: false; code: 'missing_call_id' | 'invalid_id'; message: string };

export function readCallId(call: { id?: unknown } | null | undefined): CallIdResult {
  const id = call?.id;
  if (id === undefined || id === null || id === '') return { ok: false, code: 'missing_call_id', message: 'message.call.id is missing' };
  if (typeof id !== 'string' || !CALL_ID_RE.test(id)) {
    return { ok: false, code: 'invalid_id', message: 'message.call.id must be 1-128 letters, digits, "-" or "_"' };
  }
  return { ok: true, callId: id };
}

export function normaliseReport(m: z.infer<typeof EndOfCallReport>, callId: string): NormalisedReport {
  const call = m.call ?? null;
  const startedAt = toIso(m.startedAt ?? call?.startedAt);
  const endedAt = toIso(m.endedAt ?? call?.endedAt);
  let durationSeconds = m.durationSeconds ?? (m.durationMs != null ? m.durationMs / 1000 : null);
  if (durationSeconds == null && startedAt && endedAt) durationSeconds = Math.max(0, (Date.parse(endedAt) - Date.parse(startedAt)) / 1000);
  if (durationSeconds != null && durationSeconds < 0) durationSeconds = null;
  return {
    callId,
    vapiOrgId: first(call?.orgId),
    callType: first(call?.type),
    assistantId: first(call?.assistantId, m.assistant?.id),
    phoneNumberId: first(call?.phoneNumberId, m.phoneNumber?.id),
    customerNumber: first(m.customer?.number, call?.customer?.number),
    startedAt,
    endedAt,
    durationSeconds,
    endedReason: first(m.endedReason, call?.endedReason),
    transcript: first(m.artifact?.transcript, m.transcript),
    summary: first(m.analysis?.summary, m.summary),
    cost: m.cost ?? null,
    recordingUrl: firstUrl(m.artifact?.recording?.mono?.combinedUrl, m.artifact?.recordingUrl, m.recordingUrl),
    stereoRecordingUrl: firstUrl(m.artifact?.recording?.stereoUrl, m.artifact?.stereoRecordingUrl, m.stereoRecordingUrl),
    messageAt: toIso(m.timestamp),
  };
}

export function normaliseStatus(m: z.infer<typeof StatusUpdate>, callId: string): NormalisedStatus {
  return {
    callId,
    vapiOrgId: first(m.call?.orgId),
    assistantId: first(m.call?.assistantId),
    phoneNumberId: first(m.call?.phoneNumberId),
    status: m.status.trim(),
    at: toIso(m.timestamp),
    endedReason: first(m.endedReason, m.call?.endedReason),
  };
}
