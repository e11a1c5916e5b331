/**
 * Retention, decided without I/O: given the time, the deployment's default policy, the orgs' overrides and
 * candidate calls, which recordings and which transcripts expire now. src/processes/retention.ts reads the
 * candidates, acts on the decision and records it.
 *
 * - The policy of an org: its override where it sets a number of days, else the default; no days = keep forever.
 * - A recording expires when `ended_at + recordingDays <= now`, it is in storage (status `uploaded`: not already
 *   expired, erased or missing) and the call is not held.
 * - A transcript expires when `ended_at + transcriptDays <= now`, the call has one (not already expired or
 *   erased) and the call is not held.
 * A call without an end time never expires (its age is unknown).
 */

export const DAY_MS = 86_400_000;

/** Days after a call ended; undefined = keep forever. */
export interface RetentionPolicy {
  recordingDays?: number;
  transcriptDays?: number;
}

/** An org's override: null = the default for that kind. */
export interface RetentionOverride {
  recordingDays: number | null;
  transcriptDays: number | null;
}

/** What retention needs to know of a call (a call_logs row, without the text itself). */
export interface RetentionCandidate {
  id: string;
  org_id: string;
  /** ISO. */
  ended_at: string | null;
  recording_status: string;
  recording_storage_path: string | null;
  recording_missing: boolean;
  /** The row has a transcript or summary. */
  has_transcript: boolean;
  transcript_expired_at: string | null;
  erased_at: string | null;
  held_at: string | null;
}

export interface ExpiringRecording {
  callId: string;
  orgId: string;
  storagePath: string;
  policyDays: number;
  endedAt: string;
}

export interface ExpiringTranscript {
  callId: string;
  orgId: string;
  policyDays: number;
  endedAt: string;
}

export interface RetentionDecision {
  recordings: ExpiringRecording[];
  transcripts: ExpiringTranscript[];
}

export type Overrides = ReadonlyMap<string, RetentionOverride>;

/** The policy that applies to `orgId`: the override's days where set, else the default. */
export function effectivePolicy(orgId: string, defaults: RetentionPolicy, overrides: Overrides): RetentionPolicy {
  const o = overrides.get(orgId);
  const recordingDays = o?.recordingDays ?? defaults.recordingDays;
  const transcriptDays = o?.transcriptDays ?? defaults.transcriptDays;
  return { ...(recordingDays !== undefined ? { recordingDays } : {}), ...(transcriptDays !== undefined ? { transcriptDays } : {}) };
}

/** The latest end time that has expired under `days` at `now`. */
export function cutoffFor(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

const endedBy = (c: RetentionCandidate, now: Date, days: number | undefined): boolean => {
  if (days === undefined || c.ended_at === null) return false;
  const ended = Date.parse(c.ended_at);
  return Number.isFinite(ended) && ended + days * DAY_MS <= now.getTime();
};

/** Pure: what expires at `now` among `candidates`. */
export function decideRetention(now: Date, defaults: RetentionPolicy, overrides: Overrides, candidates: readonly RetentionCandidate[]): RetentionDecision {
  const out: RetentionDecision = { recordings: [], transcripts: [] };
  for (const c of candidates) {
    if (c.held_at !== null || c.erased_at !== null) continue;
    const policy = effectivePolicy(c.org_id, defaults, overrides);
    if (c.recording_status === 'uploaded' && !c.recording_missing && c.recording_storage_path !== null && endedBy(c, now, policy.recordingDays)) {
      out.recordings.push({ callId: c.id, orgId: c.org_id, storagePath: c.recording_storage_path, policyDays: policy.recordingDays!, endedAt: c.ended_at! });
    }
    if (c.has_transcript && c.transcript_expired_at === null && endedBy(c, now, policy.transcriptDays)) {
      out.transcripts.push({ callId: c.id, orgId: c.org_id, policyDays: policy.transcriptDays!, endedAt: c.ended_at! });
    }
  }
  return out;
}
