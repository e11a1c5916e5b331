import { z } from 'zod';
import { CALL_ID_RE } from '../../vapi/messages.ts';

/**
 * Request and response schemas of the calls API. Requests are validated with them; the OpenAPI document is
 * generated from them (src/http/openapi/document.ts).
 */

export const RECORDING_STATUSES = ['pending', 'uploaded', 'failed', 'retry_scheduled', 'abandoned', 'none', 'missing', 'erased', 'expired'] as const;

export const CallId = z.string().regex(CALL_ID_RE, 'a call id is 1-128 letters, digits, "-" or "_"').describe('Vapi call id');
export const CallIdParams = z.object({ id: CallId });

const isoInput = z.iso.datetime({ offset: true });
const iso = z.string().describe('ISO 8601 timestamp');
const csv = (values?: readonly string[]) =>
  z
    .string()
    .max(1000)
    .transform((s, ctx) => {
      const list = s.split(',').map((x) => x.trim()).filter(Boolean);
      if (list.length === 0 || list.length > 20) ctx.addIssue({ code: 'custom', message: 'give 1-20 comma-separated values' });
      for (const v of list) {
        if (v.length > 128) ctx.addIssue({ code: 'custom', message: 'a value is longer than 128 characters' });
        if (values && !values.includes(v)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not one of ${values.join(', ')}` });
      }
      return list;
    });
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const text = (max = 256) => z.string().min(1).max(max);

export const ListCallsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('page size (1-200, default 50)'),
  cursor: z.string().max(512).optional().describe('`nextCursor` of the previous page'),
  from: isoInput.optional().describe('calls that ended at or after this time'),
  to: isoInput.optional().describe('calls that ended before this time'),
  status: csv().optional().describe('call status(es), comma-separated (e.g. `ended`)'),
  recording_status: csv(RECORDING_STATUSES).optional().describe(`recording status(es), comma-separated: ${RECORDING_STATUSES.join(', ')}`),
  has_recording: bool.optional().describe('true: the recording is in storage (recording_status = uploaded)'),
  ended_reason: text().optional(),
  call_type: text().optional(),
  assistant_id: text().optional(),
  q: z.string().min(1).max(500).optional().describe('full-text search over transcript and summary (web-search syntax: words, "phrases", OR, -exclusions)'),
});
export type ListCallsInput = z.output<typeof ListCallsQuery>;

export const GetCallQuery = z.object({
  asOf: isoInput.optional().describe('the call as it stood at this time, folded from the event log'),
});

/** The call_logs columns a call shows (snake_case, as the table). Signed and source URLs are never shown. */
export const ApiCallColumns = z.object({
  id: z.string(),
  org_id: z.string(),
  call_type: z.string().nullable(),
  assistant_id: z.string().nullable(),
  phone_number_id: z.string().nullable(),
  customer_number: z.string().nullable().describe('deprecated: the same value as `customerNumber` (masked for members)'),
  status: z.string(),
  status_at: iso.nullable(),
  started_at: iso.nullable(),
  ended_at: iso.nullable(),
  duration_seconds: z.number().nullable(),
  ended_reason: z.string().nullable(),
  transcript: z.string().nullable(),
  summary: z.string().nullable(),
  cost: z.number().nullable(),
  recording_status: z.string(),
  recording_storage_path: z.string().nullable(),
  recording_signed_url_expires_at: iso.nullable(),
  recording_uploaded_at: iso.nullable(),
  transcript_only_fallback: z.boolean(),
  recording_bytes: z.number().nullable(),
  recording_duration_seconds: z.number().nullable(),
  recording_sha256: z.string().nullable(),
  recording_format: z.string().nullable(),
  recording_content_type: z.string().nullable(),
  recording_channels: z.number().nullable(),
  recording_attempts: z.number(),
  recording_next_retry_at: iso.nullable(),
  recording_error_code: z.string().nullable(),
  recording_error: z.string().nullable(),
  recording_missing: z.boolean(),
  first_position: z.number(),
  last_position: z.number(),
});

/** Texts that stand in for personal data that is gone (see README, "Erasure and retention in the API"). */
export const ERASED_TEXT = '[erased]';
export const EXPIRED_TEXT = '[expired]';

const PrivacyFact = z.object({
  at: iso,
  by: z.string().describe('the actor: `user:<id>` (API) or `cli:<user>`'),
  reason: z.string(),
});

/**
 * A call as the API shows it: the columns above, plus the caller's number as the caller's role may see it, the
 * assistant, and what happened to the call's personal data. Of an erased call, `transcript`, `summary` and
 * `customerNumber` read `[erased]`; of a call whose transcript expired, `transcript` and `summary` read `[expired]`.
 */
export const ApiCall = ApiCallColumns.extend({
  customerNumber: z
    .string()
    .nullable()
    .describe("the caller's number: in full for admins and auditors, masked for members (`+1 ••• ••• 4567`: country code and last 4 digits); `[erased]` once erased"),
  assistantId: z.string().nullable().describe('the Vapi assistant that took the call'),
  erased: PrivacyFact.nullable().describe("who erased the call's personal data (DELETE /api/calls/{id}), when and why; null if not erased"),
  held: PrivacyFact.nullable().describe('the legal hold on the call (POST /api/calls/{id}/hold): who, since when, why; null if not held'),
  recordingExpiredAt: iso.nullable().describe('when retention deleted the recording (recording status `expired`)'),
  transcriptExpiredAt: iso.nullable().describe('when retention shredded the transcript and summary (they read `[expired]`)'),
});
export type ApiCallRow = z.output<typeof ApiCall>;
export type ApiCallColumnsRow = z.output<typeof ApiCallColumns>;

export const ApiCallSummary = ApiCall.omit({ transcript: true }).describe('a call without its transcript (GET /api/calls/{id} has it)');

export const CallList = z.object({
  data: z.array(ApiCallSummary),
  nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
});

export const RecordingState = z.object({
  status: z.string().describe(RECORDING_STATUSES.join(' | ')),
  available: z.boolean().describe('the recording is in storage and a URL can be had from GET …/recording'),
  transcriptOnly: z.boolean(),
  urlExpiresAt: iso.nullable().describe('expiry of the last URL signed (the URL itself comes only from GET …/recording)'),
  bytes: z.number().nullable(),
  durationSeconds: z.number().nullable(),
  contentType: z.string().nullable(),
  attempts: z.number(),
  nextRetryAt: iso.nullable(),
  errorCode: z.string().nullable(),
  error: z.string().nullable(),
});

export const CallDetail = z.object({
  call: ApiCall,
  recording: RecordingState,
  asOf: iso.nullable().describe('set when the call was folded from the log as of this time'),
});

export const RecordingUrl = z.object({
  callId: z.string(),
  url: z.string().describe('short-lived signed URL of the recording'),
  expiresAt: iso,
  expiresIn: z.number().int().describe('seconds until expiresAt'),
  contentType: z.string().nullable(),
  bytes: z.number().nullable(),
  durationSeconds: z.number().nullable(),
  resigned: z.boolean().describe('true when a new URL was signed for this request'),
});

export const TranscriptOnly = z.object({
  callId: z.string(),
  transcriptOnly: z.literal(true),
  transcript: z.string().nullable(),
  summary: z.string().nullable(),
  reason: z.string(),
});

export const RecordingResponse = z.union([RecordingUrl, TranscriptOnly]);

export const RefreshedUrl = z.object({
  callId: z.string(),
  url: z.string(),
  expiresAt: iso,
  expiresIn: z.number().int(),
});

export const HistoryEvent = z.object({
  position: z.number(),
  revision: z.number(),
  eventId: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  storedAt: iso,
});

export const CallHistory = z.object({
  callId: z.string(),
  events: z.array(HistoryEvent).describe('every event of the call in order; signed URLs redacted, source recording URLs withheld'),
});
