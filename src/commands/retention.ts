import { randomUUID } from 'node:crypto';
import { retentionStream, type EventData } from '../events/catalog.ts';
import { deterministicEventId } from '../events/ids.ts';
import type { EventMetadata, EventStore, NewEvent } from '../events/port.ts';
import { ORG_ID_RE } from '../auth/roles.ts';
import type { ExpiringRecording, ExpiringTranscript, RetentionOverride } from '../processes/retentionDecide.ts';

/**
 * Retention's events and the policy command.
 *
 * Event ids are name-based, so that a rerun (or a second instance) meets the first in one event:
 * - RecordingExpired: (call id, storage path) — one per stored recording;
 * - TranscriptExpired: (call id) — a transcript expires once;
 * - RetentionCompleted: (UTC day, run number of that day).
 */

export interface RetentionEventContext {
  runId: string;
  now: Date;
  /** Who triggered the run when it was not the schedule (`cli:<user>`), kept in metadata. */
  triggeredBy?: string;
}

export const RETENTION_ACTOR = 'system:retention';

function metadata(ctx: RetentionEventContext, orgId: string, extra: Record<string, unknown> = {}): EventMetadata {
  return {
    correlationId: `retention-${ctx.runId}`,
    causationId: null,
    orgId,
    recordedAt: ctx.now.toISOString(),
    actor: RETENTION_ACTOR,
    ...(ctx.triggeredBy ? { triggeredBy: ctx.triggeredBy } : {}),
    ...extra,
  };
}

export function recordingExpiredEvent(ctx: RetentionEventContext, r: ExpiringRecording, removedPaths: string[]): NewEvent {
  const data: EventData<'RecordingExpired'> = { callId: r.callId, orgId: r.orgId, storagePath: r.storagePath, policyDays: r.policyDays };
  return {
    eventId: deterministicEventId('RecordingExpired', r.callId, r.storagePath),
    type: 'RecordingExpired',
    data,
    metadata: metadata(ctx, r.orgId, { removedPaths }),
  };
}

export function transcriptExpiredEvent(ctx: RetentionEventContext, t: ExpiringTranscript, tombstoned: number): NewEvent {
  const data: EventData<'TranscriptExpired'> = { callId: t.callId, orgId: t.orgId, policyDays: t.policyDays };
  return {
    eventId: deterministicEventId('TranscriptExpired', t.callId),
    type: 'TranscriptExpired',
    data,
    // How many older events had their plaintext transcript/summary rewritten to the tombstone in place.
    metadata: metadata(ctx, t.orgId, { tombstonedEvents: tombstoned }),
  };
}

export interface RetentionFailure {
  callId: string;
  orgId: string;
  kind: 'recording' | 'transcript';
  code: string;
  message: string;
}

export function retentionCompletedEvent(
  ctx: RetentionEventContext,
  day: string,
  run: number,
  summary: EventData<'RetentionCompleted'>,
  orgId: string,
  failed: RetentionFailure[],
  complete: boolean,
): NewEvent {
  return {
    eventId: deterministicEventId('RetentionCompleted', day, run),
    type: 'RetentionCompleted',
    data: summary,
    metadata: metadata(ctx, orgId, { failed: failed.map(({ callId, orgId: o, kind, code }) => ({ callId, orgId: o, kind, code })), complete }),
  };
}

// --- the per-org policy ------------------------------------------------------------------------------

/** An org's override as its stream says (the last RetentionPolicySet), with its revision. */
export async function readRetentionPolicy(store: EventStore, orgId: string): Promise<{ override: RetentionOverride | undefined; revision: number | 'no_stream'; setBy?: string; setAt?: string }> {
  const events = await store.readStream(retentionStream(orgId));
  const last = [...events].reverse().find((e) => e.type === 'RetentionPolicySet');
  const revision = events.length === 0 ? 'no_stream' : events[events.length - 1]!.revision;
  if (!last) return { override: undefined, revision };
  const d = last.data as EventData<'RetentionPolicySet'>;
  return { override: { recordingDays: d.recordingDays, transcriptDays: d.transcriptDays }, revision, setBy: last.metadata.actor, setAt: last.metadata.recordedAt };
}

/** A change: a number of days, `null` = back to the default, undefined = leave as it is. */
export interface RetentionChange {
  recordingDays?: number | null;
  transcriptDays?: number | null;
}

export type SetPolicyResult = { ok: true; override: RetentionOverride; changed: boolean } | { ok: false; message: string };

/**
 * `callrec orgs retention`: appends RetentionPolicySet with the org's new override (fields not given keep
 * their value). Checked against the stream's revision, so two concurrent changes cannot lose one another.
 */
export async function setRetentionPolicy(store: EventStore, orgId: string, change: RetentionChange, actor: string, now: Date): Promise<SetPolicyResult> {
  if (!ORG_ID_RE.test(orgId)) return { ok: false, message: `--org ${JSON.stringify(orgId)} must be 1-64 letters, digits, _ or -` };
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readRetentionPolicy(store, orgId);
    const next: RetentionOverride = {
      recordingDays: change.recordingDays !== undefined ? change.recordingDays : (current.override?.recordingDays ?? null),
      transcriptDays: change.transcriptDays !== undefined ? change.transcriptDays : (current.override?.transcriptDays ?? null),
    };
    if (current.override && current.override.recordingDays === next.recordingDays && current.override.transcriptDays === next.transcriptDays) {
      return { ok: true, override: next, changed: false };
    }
    const event: NewEvent = {
      eventId: randomUUID(),
      type: 'RetentionPolicySet',
      data: { orgId, recordingDays: next.recordingDays, transcriptDays: next.transcriptDays } satisfies EventData<'RetentionPolicySet'>,
      metadata: { correlationId: randomUUID(), causationId: null, orgId, recordedAt: now.toISOString(), actor },
    };
    const r = await store.append(retentionStream(orgId), [event], current.revision);
    if (r.ok) return { ok: true, override: next, changed: true };
    if (r.error.code !== 'wrong_expected_revision') return { ok: false, message: r.error.message };
  }
  return { ok: false, message: `the retention policy of org ${orgId} kept changing under this command; try again` };
}
