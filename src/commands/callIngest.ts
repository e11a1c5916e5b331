import { callStream, type EventData } from '../events/catalog.ts';
import { deterministicEventId } from '../events/ids.ts';
import type { NewEvent } from '../events/port.ts';
import type { NormalisedReport, NormalisedStatus } from '../vapi/messages.ts';

export interface IngestContext {
  orgId: string;
  correlationId: string;
  now: Date;
  /** Who says the call ended: `vapi` (the webhook, default) or `system:reconciler`. */
  actor?: string;
}

/**
 * Pure deciders for Vapi webhooks. The event id is derived from (call id, message type[, status]), so a
 * redelivered message decides the very same event and the store keeps one copy.
 */
export function decideCallEnded(report: NormalisedReport, ctx: IngestContext): { streamId: string; event: NewEvent } {
  const data: EventData<'CallEnded'> = {
    callId: report.callId,
    orgId: ctx.orgId,
    vapiOrgId: report.vapiOrgId,
    callType: report.callType,
    assistantId: report.assistantId,
    phoneNumberId: report.phoneNumberId,
    customerNumber: report.customerNumber,
    startedAt: report.startedAt,
    endedAt: report.endedAt,
    durationSeconds: report.durationSeconds,
    endedReason: report.endedReason,
    transcript: report.transcript,
    summary: report.summary,
    cost: report.cost,
    recordingUrl: report.recordingUrl,
    stereoRecordingUrl: report.stereoRecordingUrl,
    messageAt: report.messageAt,
  };
  return {
    streamId: callStream(report.callId),
    event: {
      eventId: deterministicEventId(report.callId, 'end-of-call-report'),
      type: 'CallEnded',
      data,
      metadata: { correlationId: ctx.correlationId, causationId: null, orgId: ctx.orgId, recordedAt: ctx.now.toISOString(), actor: ctx.actor ?? 'vapi' },
    },
  };
}

export function decideStatusChanged(status: NormalisedStatus, ctx: IngestContext): { streamId: string; event: NewEvent } {
  const data: EventData<'CallStatusChanged'> = {
    callId: status.callId,
    orgId: ctx.orgId,
    status: status.status,
    at: status.at,
    endedReason: status.endedReason,
  };
  return {
    streamId: callStream(status.callId),
    event: {
      eventId: deterministicEventId(status.callId, 'status-update', status.status),
      type: 'CallStatusChanged',
      data,
      metadata: { correlationId: ctx.correlationId, causationId: null, orgId: ctx.orgId, recordedAt: ctx.now.toISOString(), actor: 'vapi' },
    },
  };
}
