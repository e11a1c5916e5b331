import { z } from 'zod';
import { describeZodIssue } from '../zodIssues.ts';

/**
 * The event catalog: every event type callrec writes, with the schema its data must satisfy.
 * Events are never changed once written; a new shape is a new schemaVersion plus an upcaster (upcast.ts).
 */

const isoDate = z.string().datetime({ offset: true });
const nullableText = z.string().nullable();

export const CallEnded = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  vapiOrgId: nullableText,
  callType: nullableText,
  assistantId: nullableText,
  phoneNumberId: nullableText,
  customerNumber: nullableText,
  startedAt: isoDate.nullable(),
  endedAt: isoDate.nullable(),
  durationSeconds: z.number().nonnegative().nullable(),
  endedReason: nullableText,
  transcript: nullableText,
  summary: nullableText,
  cost: z.number().nullable(),
  /** Mono/combined recording URL from the payload, if any. */
  recordingUrl: nullableText,
  stereoRecordingUrl: nullableText,
  /** When Vapi says it sent the message. */
  messageAt: isoDate.nullable(),
});

export const CallStatusChanged = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  status: z.string().min(1),
  at: isoDate.nullable(),
  endedReason: nullableText,
});

export const PipelineStep = z.enum(['fetch', 'validate', 'convert', 'upload', 'sign']);

export const RecordingUploaded = z.object({
  callId: z.string().min(1),
  attempt: z.number().int().positive(),
  storagePath: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  format: z.string(),
  codec: z.string().nullable(),
  contentType: z.string(),
  durationSeconds: z.number().nonnegative(),
  channels: z.number().int().positive().nullable(),
  sampleRate: z.number().int().positive().nullable(),
  source: z.enum(['vapi-api', 'payload-url']),
  /** Set when the recording was converted: bytes of the original and original/stored ratio. */
  originalBytes: z.number().int().nonnegative().nullable(),
  compressionRatio: z.number().positive().nullable(),
});

export const UrlSigned = z.object({
  callId: z.string().min(1),
  storagePath: z.string().min(1),
  /** The signed URL. It is a bearer credential: never logged; redacted from history output. */
  url: z.string().url(),
  expiresAt: isoDate,
  by: z.string().min(1),
});

export const UploadFailed = z.object({
  callId: z.string().min(1),
  attempt: z.number().int().positive(),
  step: PipelineStep,
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
  status: z.number().int().nullable(),
});

export const UploadRetryScheduled = z.object({
  callId: z.string().min(1),
  /** The attempt number the retry will be. */
  attempt: z.number().int().positive(),
  dueAt: isoDate,
  delayMinutes: z.number().nonnegative(),
});

export const UploadAbandoned = z.object({
  callId: z.string().min(1),
  attempts: z.number().int().nonnegative(),
  code: z.string().min(1),
  reason: z.string(),
});

export const TranscriptOnlyFallback = z.object({
  callId: z.string().min(1),
  reason: z.string().min(1),
  /** Vapi's endedReason of the call, when known (added later: optional, older events lack it). */
  endedReason: z.string().nullable().optional(),
});

export const RecordingAccessed = z.object({
  callId: z.string().min(1),
  userId: z.string().min(1),
  action: z.enum(['download', 'refresh']),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
});

export const OrphanDeleted = z.object({
  storagePath: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  ageDays: z.number().nonnegative(),
  lastModified: isoDate,
});

export const SweepCompleted = z.object({
  sweepId: z.string().min(1),
  scanned: z.number().int().nonnegative(),
  deleted: z.number().int().nonnegative(),
  bytesFreed: z.number().int().nonnegative(),
  missingFlagged: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
});

export const RecordingMissing = z.object({
  callId: z.string().min(1),
  storagePath: z.string().min(1),
  sweepId: z.string().min(1),
});

export const ReconciliationCompleted = z.object({
  /** The span of Vapi's call list this run read (by the calls' updatedAt): from ≤ updatedAt < to. */
  window: z.object({ from: isoDate, to: isoDate }),
  /** Calls Vapi listed in the window (plus stuck calls looked up one by one). */
  listed: z.number().int().nonnegative(),
  /** Ended calls the log lacked: a CallEnded was appended for each. */
  recovered: z.number().int().nonnegative(),
  /** Calls that could not be checked or recovered (the listing stopped, an append or a lookup failed). */
  failed: z.number().int().nonnegative(),
  /** False when the listing stopped early; the watermark then stays where it was. */
  complete: z.boolean(),
  /** The watermark after this run (ISO): every call updated before it has been seen; null = none yet. */
  watermark: isoDate.nullable(),
});

/** An admin erased a call's personal data (actor = the admin). Keys destroyed, recordings deleted, read models cleared. */
export const CallErased = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  reason: z.string().min(1),
});

/** Retention deleted a call's recording (its object(s) in storage) because the org's policy ran out. */
export const RecordingExpired = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  storagePath: z.string().min(1),
  /** The policy that applied: days after the call ended. */
  policyDays: z.number().int().positive(),
});

/** Retention shredded a call's transcript and summary (their data key destroyed) because the policy ran out. */
export const TranscriptExpired = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  policyDays: z.number().int().positive(),
});

/** A legal hold: the call is exempt from retention and erasure until released. */
export const CallHeld = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  reason: z.string().min(1),
});

export const CallReleased = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  reason: z.string().min(1),
});

/** The erasure steps of an erased call are done: keys destroyed, plaintext rewritten, recording objects deleted. */
export const ErasureCompleted = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  /** Storage objects of the call deleted (its recording, and any derived file), over every attempt. */
  objectsDeleted: z.number().int().nonnegative(),
  /** Live data keys destroyed, over every attempt. */
  keysDestroyed: z.number().int().nonnegative(),
  /** Events of the call whose plaintext personal fields (written before encryption) were rewritten in place. */
  eventsRewritten: z.number().int().nonnegative(),
});

export const ErasureStep = z.enum(['keys', 'tombstone', 'storage']);

/** An erasure step failed; the erasure process tries again at `retryAt`. Counts are what the attempt did before failing. */
export const ErasureStepFailed = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  attempt: z.number().int().positive(),
  step: ErasureStep,
  code: z.string().min(1),
  message: z.string(),
  retryAt: isoDate,
  objectsDeleted: z.number().int().nonnegative(),
  keysDestroyed: z.number().int().nonnegative(),
  eventsRewritten: z.number().int().nonnegative(),
});

/** Vapi deleted its copy of an erased call's data (`DELETE /call/{id}/data`). */
export const VapiCallDataDeleted = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  attempt: z.number().int().positive(),
  /** Vapi answered 404: it held nothing of the call any more. */
  alreadyGone: z.boolean(),
});

/** Asking Vapi to delete its copy failed; retried at `retryAt` while retryable and retries remain (null: given up). */
export const VapiCallDataDeleteFailed = z.object({
  callId: z.string().min(1),
  orgId: z.string().min(1),
  attempt: z.number().int().positive(),
  code: z.string().min(1),
  status: z.number().int().nullable(),
  message: z.string(),
  retryable: z.boolean(),
  retryAt: isoDate.nullable(),
});

/** An org's retention policy (`callrec orgs retention`); null = the deployment's default. */
export const RetentionPolicySet = z.object({
  orgId: z.string().min(1),
  recordingDays: z.number().int().positive().nullable(),
  transcriptDays: z.number().int().positive().nullable(),
});

/** A retention run ended (`expiry-<day>` stream): what expired and how many could not be (retried by the next run). */
export const RetentionCompleted = z.object({
  runId: z.string().min(1),
  recordingsExpired: z.number().int().nonnegative(),
  transcriptsExpired: z.number().int().nonnegative(),
  /** Expiries that failed (storage or database); the calls stay candidates for the next run. */
  failed: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
});

export const eventSchemas = {
  CallEnded,
  CallStatusChanged,
  RecordingUploaded,
  UrlSigned,
  UploadFailed,
  UploadRetryScheduled,
  UploadAbandoned,
  TranscriptOnlyFallback,
  RecordingAccessed,
  OrphanDeleted,
  SweepCompleted,
  RecordingMissing,
  ReconciliationCompleted,
  CallErased,
  RecordingExpired,
  TranscriptExpired,
  CallHeld,
  CallReleased,
  RetentionPolicySet,
  ErasureCompleted,
  ErasureStepFailed,
  VapiCallDataDeleted,
  VapiCallDataDeleteFailed,
  RetentionCompleted,
} as const;

export type EventType = keyof typeof eventSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;

export type CallrecEvent = { [K in EventType]: { type: K; data: EventData<K> } }[EventType];

/** Validates `data` against the schema of `type`. Unknown types are refused. */
export function validateEventData(type: string, data: unknown): { ok: true; data: unknown } | { ok: false; issues: string[] } {
  const schema = (eventSchemas as Record<string, z.ZodType>)[type];
  if (!schema) return { ok: false, issues: [`unknown event type ${JSON.stringify(type)}`] };
  const parsed = schema.safeParse(data);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, issues: parsed.error.issues.map((i) => describeZodIssue(i, { root: '(data)' })) };
}

export const callStream = (callId: string) => `call-${callId}`;
export const sweepStream = (date: string) => `sweep-${date}`;
export const reconcileStream = (date: string) => `reconcile-${date}`;
export const retentionStream = (orgId: string) => `retention-${orgId}`;
/** The runs of the retention process of one UTC day (RetentionCompleted). */
export const expiryStream = (date: string) => `expiry-${date}`;
