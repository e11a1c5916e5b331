import { reconcileStream, type EventData } from '../events/catalog.ts';
import { newEventId } from '../events/ids.ts';
import type { NewEvent } from '../events/port.ts';
import type { NormalisedReport } from '../vapi/messages.ts';
import { decideCallEnded } from './callIngest.ts';

/**
 * Pure decisions of the reconciler (src/processes/reconcile.ts): which span of Vapi's call list a run
 * reads, the CallEnded it appends for a call the log lacks, and its summary event.
 */

export const RECONCILER_ACTOR = 'system:reconciler';

export interface Window {
  from: Date;
  to: Date;
}

/**
 * How long a call must have been quiet (updatedAt) before the reconciler takes it: Vapi attaches the
 * recording and analysis to the Call shortly after it ends (the end-of-call-report waits for them), and a
 * CallEnded written before that would have no recording URL — the pipeline would settle for the transcript.
 */
export const SETTLE_MS = 120_000;

/**
 * The scheduled run's window: from the watermark minus the overlap (when there is none yet: from the
 * window's end minus the overlap) to now minus SETTLE_MS.
 */
export function reconcileWindow(watermark: Date | null, now: Date, overlapMinutes: number, settleMs = SETTLE_MS): Window {
  const to = new Date(now.getTime() - settleMs);
  const base = watermark && watermark.getTime() < to.getTime() ? watermark : to;
  return { from: new Date(base.getTime() - overlapMinutes * 60_000), to };
}

/**
 * The CallEnded a recovered call gets: the webhook's decider over the Call object normalised like a
 * report, so the event id is the webhook's (call id, 'end-of-call-report') and webhook, reconciler and
 * reruns meet in one event. Only the metadata says who wrote it.
 */
export function recoveredCallEnded(report: NormalisedReport, ctx: { orgId: string; runId: string; now: Date }): { streamId: string; event: NewEvent } {
  return decideCallEnded(report, { orgId: ctx.orgId, correlationId: ctx.runId, now: ctx.now, actor: RECONCILER_ACTOR });
}

/**
 * The watermark after a run: the window's end when the listing was complete and nothing failed, else the
 * old one — it never passes a call that was not seen (or not stored).
 */
export function nextWatermark(previous: Date | null, run: { window: Window; complete: boolean; failed: number }): Date | null {
  if (!run.complete || run.failed > 0) return previous;
  if (previous && previous.getTime() >= run.window.to.getTime()) return previous;
  return run.window.to;
}

export function reconciliationCompletedEvent(
  summary: EventData<'ReconciliationCompleted'>,
  ctx: { runId: string; orgId: string; now: Date; actor: string; dryRun?: boolean },
): { streamId: string; event: NewEvent } {
  return {
    streamId: reconcileStream(ctx.now.toISOString().slice(0, 10)),
    event: {
      eventId: newEventId(),
      type: 'ReconciliationCompleted',
      data: summary,
      metadata: { correlationId: ctx.runId, causationId: null, orgId: ctx.orgId, recordedAt: ctx.now.toISOString(), actor: ctx.actor },
    },
  };
}
