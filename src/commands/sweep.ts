import type { EventMetadata, NewEvent } from '../events/port.ts';
import { deterministicEventId } from '../events/ids.ts';
import type { StoredObject } from '../storage/port.ts';
import { ORG_ID_RE } from '../auth/roles.ts';

/**
 * The orphan sweep's decisions, pure: which storage objects to delete, and the events that record what
 * the sweep did. No I/O here; src/processes/orphanSweep.ts does the listing, the lookups and the appends.
 *
 * Event ids are name-based so that running the sweep again on the same UTC day never adds a second copy:
 * - OrphanDeleted: (sweep day, path, lastModified) — the same object version on the same day is one event;
 * - RecordingMissing: (call id, path, sha256 of the uploaded recording) — once per upload that vanished;
 * - SweepCompleted: (sweep day, run number of that day).
 */

export const DAY_MS = 86_400_000;

export type ObjectAction = 'delete' | 'keep-referenced' | 'keep-young';

export interface ObjectDecision {
  path: string;
  bytes: number;
  lastModified: Date;
  /** Age at the sweep's clock, in days (two decimals). */
  ageDays: number;
  action: ObjectAction;
}

/**
 * Pure: what to do with one listed object. An object is an orphan when no call references its path and it
 * is strictly older than `minAgeDays` (an object whose time is in the future is young, never an orphan).
 */
export function decideObject(obj: StoredObject, referenced: boolean, now: Date, minAgeDays: number): ObjectDecision {
  const ageMs = now.getTime() - obj.lastModified.getTime();
  const ageDays = Math.max(0, Math.floor((ageMs / DAY_MS) * 100) / 100);
  const base = { path: obj.path, bytes: obj.bytes, lastModified: obj.lastModified, ageDays };
  if (referenced) return { ...base, action: 'keep-referenced' };
  if (!(ageMs > minAgeDays * DAY_MS)) return { ...base, action: 'keep-young' };
  return { ...base, action: 'delete' };
}

/** The UTC day (yyyy-mm-dd) a sweep started on: names its stream `sweep-<day>`. */
export function sweepDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** Id of a sweep run: the day for the first run of a day, `<day>.<n>` for later runs the same day. */
export function sweepIdFor(day: string, run: number): string {
  return run <= 1 ? day : `${day}.${run}`;
}

/** The org an object belongs to: the first path segment (`<orgId>/yyyy/mm/dd/<callId>.<ext>`), else the fallback. */
export function orgOfPath(path: string, fallbackOrgId: string): string {
  const first = path.split('/')[0] ?? '';
  return path.includes('/') && ORG_ID_RE.test(first) ? first : fallbackOrgId;
}

export interface SweepEventContext {
  sweepId: string;
  day: string;
  now: Date;
  actor: string;
}

function metadata(ctx: SweepEventContext, orgId: string, extra: Record<string, unknown> = {}): EventMetadata {
  return { correlationId: `sweep-${ctx.sweepId}`, causationId: null, orgId, recordedAt: ctx.now.toISOString(), actor: ctx.actor, ...extra };
}

export function orphanDeletedEvent(ctx: SweepEventContext, d: ObjectDecision, fallbackOrgId: string): NewEvent {
  const lastModified = d.lastModified.toISOString();
  return {
    eventId: deterministicEventId('OrphanDeleted', ctx.day, d.path, lastModified),
    type: 'OrphanDeleted',
    data: { storagePath: d.path, bytes: d.bytes, ageDays: d.ageDays, lastModified },
    metadata: metadata(ctx, orgOfPath(d.path, fallbackOrgId)),
  };
}

export interface MissingCall {
  callId: string;
  orgId: string;
  storagePath: string;
  sha256: string | null;
}

export function recordingMissingEvent(ctx: SweepEventContext, call: MissingCall): NewEvent {
  return {
    eventId: deterministicEventId('RecordingMissing', call.callId, call.storagePath, call.sha256 ?? ''),
    type: 'RecordingMissing',
    data: { callId: call.callId, storagePath: call.storagePath, sweepId: ctx.sweepId },
    metadata: metadata(ctx, call.orgId),
  };
}

export interface SweepSummary {
  sweepId: string;
  scanned: number;
  deleted: number;
  bytesFreed: number;
  missingFlagged: number;
  durationMs: number;
}

/**
 * The summary event. Its data is the catalogued SweepCompleted; the metadata also carries the paths whose
 * removal failed (their OrphanDeleted was written ahead of the removal), so the gap between the day's
 * OrphanDeleted events and `deleted` is explained in the log itself.
 */
export function sweepCompletedEvent(
  ctx: SweepEventContext,
  run: number,
  summary: SweepSummary,
  failed: Array<{ path: string; orgId: string; code: string }>,
  systemOrgId: string,
): NewEvent {
  return {
    eventId: deterministicEventId('SweepCompleted', ctx.day, run),
    type: 'SweepCompleted',
    data: summary,
    metadata: metadata(ctx, systemOrgId, { run, failedCount: failed.length, failed: failed.slice(0, 200) }),
  };
}
