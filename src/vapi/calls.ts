import { z } from 'zod';
import { EndOfCallReport, normaliseReport, readCallId, type NormalisedReport } from './messages.ts';

/**
 * Vapi's Call object (`GET /call`, `GET /call/:id`), read leniently like the webhook: unknown fields
 * pass, a field of the wrong type reads as absent. Only `id` and `createdAt` are required — paging and
 * the reconciler's watermark rest on them.
 */

const text = z.string().nullish().catch(null);

export const callSchema = z.looseObject({
  id: z.string().min(1),
  createdAt: z.string().min(1),
  updatedAt: text,
  status: text,
  endedAt: text,
});

export type VapiCall = z.infer<typeof callSchema>;

/** Vapi answers `GET /call` with a bare array; a `{ results: [...] }` wrapper is accepted too. */
export const callListSchema = z.union([
  z.array(callSchema),
  z.looseObject({ results: z.array(callSchema) }).transform((body) => body.results),
]);

/** Whether Vapi says the call is over (status `ended`, or an `endedAt` is set). */
export function isEnded(call: VapiCall): boolean {
  return call.status === 'ended' || (typeof call.endedAt === 'string' && call.endedAt !== '');
}

/**
 * The Call object as the end-of-call-report Vapi would have sent for it, normalised by the very code the
 * webhook uses — so a recovered call gets the same fields (recording from artifact.recording.mono.combinedUrl /
 * artifact.recordingUrl / recordingUrl, transcript, analysis.summary, endedReason, times, cost, customer,
 * assistant and phone number). `messageAt` is the call's end (there was no message). Null for an id the
 * webhook would refuse too.
 */
export function callToReport(call: VapiCall): NormalisedReport | null {
  const id = readCallId(call);
  if (!id.ok) return null;
  const c = call as Record<string, unknown>;
  const message = {
    type: 'end-of-call-report',
    timestamp: c.endedAt ?? c.updatedAt ?? null,
    endedReason: c.endedReason,
    startedAt: c.startedAt,
    endedAt: c.endedAt,
    cost: c.cost,
    call: {
      id: call.id,
      orgId: c.orgId,
      type: c.type,
      assistantId: c.assistantId,
      phoneNumberId: c.phoneNumberId,
      status: c.status,
      startedAt: c.startedAt,
      endedAt: c.endedAt,
      endedReason: c.endedReason,
      customer: c.customer,
    },
    customer: c.customer,
    assistant: c.assistant,
    phoneNumber: c.phoneNumber,
    artifact: c.artifact,
    analysis: c.analysis,
    recordingUrl: c.recordingUrl,
    stereoRecordingUrl: c.stereoRecordingUrl,
    transcript: c.transcript,
    summary: c.summary,
  };
  const parsed = EndOfCallReport.safeParse(message);
  if (!parsed.success) return null;
  return normaliseReport(parsed.data, id.callId);
}
