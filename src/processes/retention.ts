import { Cron } from 'croner';
import type { Database } from '../db/connect.ts';
import { leaseKeeper } from '../db/leases.ts';
import { callStream, expiryStream, type EventData } from '../events/catalog.ts';
import type { EventStore, RecordedEvent } from '../events/port.ts';
import { tombstonePlaintextFields } from '../events/postgres/tombstoneFields.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Keyring } from '../privacy/keyring.ts';
import { orgsWithPending, retentionCandidates, type RetentionCursor, type RetentionKind } from '../projections/callLogs/retentionQueries.ts';
import { retentionOverrides } from '../projections/orgRetention/queries.ts';
import type { RecordingStorage } from '../storage/port.ts';
import {
  recordingExpiredEvent,
  retentionCompletedEvent,
  transcriptExpiredEvent,
  type RetentionEventContext,
  type RetentionFailure,
} from '../commands/retention.ts';
import { cutoffFor, decideRetention, effectivePolicy, type ExpiringRecording, type ExpiringTranscript, type RetentionPolicy } from './retentionDecide.ts';
import { appendOnce } from './sweepOrphans.ts';

/**
 * The retention process: deletes recordings and shreds transcripts whose org's policy ran out
 * (decideRetention), once a day on RETENTION_CRON, one instance at a time (lease).
 *
 * Per expiring recording: re-check the call's stream (not held, not erased since call_logs was read), remove
 * its object(s) from storage — the stored path and any other path an upload of the call used (e.g. the MP3
 * converted from a WAV) — then append RecordingExpired. The event follows the removal: a failed removal
 * leaves the call as it was (still `uploaded`), recorded in the run's failures, and the next run tries again;
 * a failed append after a removal is finished by the next run (removing what is gone is no error). The event id
 * is derived from (call, path), so however often it runs, a recording is expired and recorded once.
 *
 * Per expiring transcript: destroy the call's 'transcript' data key, rewrite plaintext transcript/summary of
 * events written before encryption to the tombstone, append TranscriptExpired (id from the call). Each step is
 * idempotent, so a rerun after any failure completes it.
 *
 * Every run (not a dry run) ends with RetentionCompleted on `expiry-<day>` and a log line.
 */

export interface RetentionOptions {
  database: Database;
  store: EventStore;
  storage: RecordingStorage;
  keyring: Keyring;
  /** RETENTION_RECORDING_DAYS / RETENTION_TRANSCRIPT_DAYS. */
  defaults: RetentionPolicy;
  /** Org of the RetentionCompleted summary. */
  fallbackOrgId: string;
  clock?: () => Date;
  logger?: Logger;
  /** Calls per candidate page (default 200). */
  pageSize?: number;
  /** Brings call_logs and org_retention up to the head of the log before deciding. */
  beforeRun?: () => Promise<void>;
  /** Called between pages; false stops the run (the lease was lost). */
  keepGoing?: () => Promise<boolean>;
  /** After each call handled: how many recordings and transcripts expired (would, in a dry run) so far. */
  onProgress?: (progress: { recordings: number; transcripts: number }) => void;
  /** `cli:<user>` when a person started the run. */
  triggeredBy?: string;
}

export interface RetentionResult {
  runId: string;
  day: string;
  dryRun: boolean;
  /** Expired now (or, in a dry run, that would expire). */
  recordings: ExpiringRecording[];
  transcripts: ExpiringTranscript[];
  /** Skipped at the last moment: the log says the call is held or erased (call_logs had not caught up). */
  skipped: number;
  failed: RetentionFailure[];
  durationMs: number;
  /** False when the run stopped early (lost lease); what was done stands and the rest waits for the next run. */
  complete: boolean;
}

const CONCURRENCY = 4;

async function previousRuns(store: EventStore, day: string): Promise<{ runs: number; completed: boolean }> {
  const done = (await store.readStream(expiryStream(day))).filter((e) => e.type === 'RetentionCompleted');
  return { runs: done.length, completed: done.some((e) => e.metadata.complete !== false) };
}

/** Held (the last of CallHeld/CallReleased is a hold) or erased, according to the call's own stream. */
function exemptInLog(events: RecordedEvent[]): 'held' | 'erased' | undefined {
  let held = false;
  for (const e of events) {
    if (e.type === 'CallErased') return 'erased';
    if (e.type === 'CallHeld') held = true;
    if (e.type === 'CallReleased') held = false;
  }
  return held ? 'held' : undefined;
}

/** Every object path the call's uploads used, the current one first. */
function storedPaths(current: string, events: RecordedEvent[]): string[] {
  const paths = new Set([current]);
  for (const e of events) if (e.type === 'RecordingUploaded') paths.add((e.data as EventData<'RecordingUploaded'>).storagePath);
  return [...paths];
}

/** One retention pass now. `run.orgId` limits it to one org; a dry run decides the same way and changes nothing. */
export async function runRetention(opts: RetentionOptions, run: { dryRun: boolean; orgId?: string }): Promise<RetentionResult> {
  const { store, storage, keyring, database } = opts;
  const db = database.db;
  const clock = opts.clock ?? (() => new Date());
  const logger = opts.logger ?? silentLogger;
  const pageSize = Math.max(1, opts.pageSize ?? 200);
  const startedAt = Date.now();
  const now = clock();
  const day = now.toISOString().slice(0, 10);
  const { runs } = await previousRuns(store, day);
  const runNumber = runs + 1;
  const runId = runNumber <= 1 ? day : `${day}.${runNumber}`;
  const ctx: RetentionEventContext = { runId, now, ...(opts.triggeredBy ? { triggeredBy: opts.triggeredBy } : {}) };
  const { dryRun } = run;
  const result: RetentionResult = { runId, day, dryRun, recordings: [], transcripts: [], skipped: 0, failed: [], durationMs: 0, complete: true };
  const log = logger.child({ retentionRun: runId, dryRun });
  const progress = () => opts.onProgress?.({ recordings: result.recordings.length, transcripts: result.transcripts.length });
  const fail = (f: RetentionFailure) => {
    result.failed.push(f);
    log.error({ callId: f.callId, orgId: f.orgId, errorCode: f.code }, `${f.kind} of call ${f.callId} not expired: ${f.message}`);
  };

  await opts.beforeRun?.();
  const overrides = await retentionOverrides(db);

  async function expireRecording(r: ExpiringRecording) {
    if (dryRun) {
      result.recordings.push(r);
      return;
    }
    const events = await store.readStream(callStream(r.callId));
    const exempt = exemptInLog(events);
    if (exempt) {
      result.skipped++;
      log.info({ callId: r.callId }, `recording kept: the call is ${exempt}`);
      return;
    }
    const paths = storedPaths(r.storagePath, events);
    const removed = await storage.remove(paths);
    if (!removed.ok) return fail({ callId: r.callId, orgId: r.orgId, kind: 'recording', code: 'storage_unavailable', message: `the recording could not be deleted (retried next run): ${removed.error.message}` });
    const appended = await appendOnce(store, callStream(r.callId), recordingExpiredEvent(ctx, r, paths));
    if (!appended.ok) return fail({ callId: r.callId, orgId: r.orgId, kind: 'recording', code: 'database_unavailable', message: `deleted, but RecordingExpired could not be written (written next run): ${appended.message}` });
    if (appended.fresh) {
      result.recordings.push(r);
      log.info({ callId: r.callId, orgId: r.orgId, storagePath: r.storagePath, policyDays: r.policyDays }, 'recording expired');
    }
  }

  async function expireTranscript(t: ExpiringTranscript) {
    if (dryRun) {
      result.transcripts.push(t);
      return;
    }
    const exempt = exemptInLog(await store.readStream(callStream(t.callId)));
    if (exempt) {
      result.skipped++;
      log.info({ callId: t.callId }, `transcript kept: the call is ${exempt}`);
      return;
    }
    try {
      await keyring.destroy(t.callId, t.orgId, ['transcript'], 'retention');
    } catch (err) {
      return fail({ callId: t.callId, orgId: t.orgId, kind: 'transcript', code: 'database_unavailable', message: `the transcript key could not be destroyed: ${(err as Error).message}` });
    }
    let tombstoned = 0;
    if (store.kind !== 'eventstoredb') {
      try {
        tombstoned = await tombstonePlaintextFields(database, callStream(t.callId), ['transcript']);
      } catch (err) {
        return fail({ callId: t.callId, orgId: t.orgId, kind: 'transcript', code: 'database_unavailable', message: `plaintext transcript could not be tombstoned: ${(err as Error).message}` });
      }
    }
    const appended = await appendOnce(store, callStream(t.callId), transcriptExpiredEvent(ctx, t, tombstoned));
    if (!appended.ok) return fail({ callId: t.callId, orgId: t.orgId, kind: 'transcript', code: 'database_unavailable', message: `shredded, but TranscriptExpired could not be written (written next run): ${appended.message}` });
    if (appended.fresh) {
      result.transcripts.push(t);
      log.info({ callId: t.callId, orgId: t.orgId, policyDays: t.policyDays }, 'transcript expired');
    }
  }

  async function pass(kind: RetentionKind, orgId: string, days: number) {
    const cutoff = cutoffFor(now, days);
    let cursor: RetentionCursor | undefined;
    for (;;) {
      if (opts.keepGoing && !(await opts.keepGoing())) {
        result.complete = false;
        return;
      }
      const rows = await retentionCandidates(db, kind, orgId, cutoff, cursor, pageSize);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      cursor = { endedAt: last.ended_at!, id: last.id };
      const decided = decideRetention(now, opts.defaults, overrides, rows);
      const work: Array<() => Promise<void>> =
        kind === 'recording' ? decided.recordings.map((r) => () => expireRecording(r)) : decided.transcripts.map((t) => () => expireTranscript(t));
      let next = 0;
      const worker = async () => {
        while (next < work.length) {
          await work[next++]!();
          progress();
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, work.length) }, worker));
      if (rows.length < pageSize) return;
    }
  }

  for (const kind of ['recording', 'transcript'] as const) {
    const orgs = run.orgId !== undefined ? [run.orgId] : await orgsWithPending(db, kind);
    for (const orgId of orgs) {
      const policy = effectivePolicy(orgId, opts.defaults, overrides);
      const days = kind === 'recording' ? policy.recordingDays : policy.transcriptDays;
      if (days === undefined) continue; // kept forever
      await pass(kind, orgId, days);
      if (!result.complete) break;
    }
    if (!result.complete) break;
  }

  result.durationMs = Date.now() - startedAt;
  if (!dryRun) {
    const summary: EventData<'RetentionCompleted'> = {
      runId, recordingsExpired: result.recordings.length, transcriptsExpired: result.transcripts.length, failed: result.failed.length, durationMs: result.durationMs,
    };
    const event = retentionCompletedEvent(ctx, day, runNumber, summary, run.orgId ?? opts.fallbackOrgId, result.failed, result.complete);
    const r = await store.append(expiryStream(day), [event], 'any');
    if (!r.ok) log.error({ errorCode: 'database_unavailable' }, `RetentionCompleted could not be written: ${r.error.message}`);
  }
  log.info(
    { recordingsExpired: result.recordings.length, transcriptsExpired: result.transcripts.length, skipped: result.skipped, failed: result.failed.length, complete: result.complete, durationMs: result.durationMs },
    dryRun ? 'retention dry run finished' : 'retention run finished',
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------

export interface RetentionProcessOptions extends Omit<RetentionOptions, 'keepGoing'> {
  /** Cron pattern, evaluated in UTC (RETENTION_CRON). */
  cron: string;
  instanceId: string;
  /** Lease time-to-live; renewed between pages (default 10 min). */
  leaseMs?: number;
  onResult?: (result: RetentionResult) => void;
}

export interface RetentionProcess {
  start(): void;
  stop(): Promise<void>;
  /** One scheduled-style run now: only under the lease, skipped when today already has a complete run. */
  tick(): Promise<RetentionResult | 'skipped'>;
  nextRun(): Date | null;
}

export const RETENTION_LEASE = 'process:retention';

/** The daily retention run: croner in UTC, one active instance at a time (lease row). */
export function createRetentionProcess(opts: RetentionProcessOptions): RetentionProcess {
  const logger = opts.logger ?? silentLogger;
  const leaseMs = opts.leaseMs ?? 600_000;
  const clock = opts.clock ?? (() => new Date());
  let job: Cron | undefined;
  let running: Promise<unknown> | undefined;
  const lease = leaseKeeper(opts.database.db, RETENTION_LEASE, opts.instanceId, leaseMs);

  async function tick(): Promise<RetentionResult | 'skipped'> {
    // Like the orphan sweep, the lease is kept after a run until it expires: an instance whose cron fires a
    // little later finds it taken, then today's RetentionCompleted.
    if (!(await lease.renew())) return 'skipped';
    if ((await previousRuns(opts.store, clock().toISOString().slice(0, 10))).completed) return 'skipped';
    const result = await runRetention({ ...opts, keepGoing: () => lease.renew().catch(() => false) }, { dryRun: false });
    opts.onResult?.(result);
    return result;
  }

  return {
    start() {
      if (job) return;
      job = new Cron(opts.cron, { timezone: 'UTC', protect: true, unref: true }, async () => {
        const p = tick().catch((err) => logger.error({ err, errorCode: 'internal' }, 'retention run failed'));
        running = p;
        await p;
      });
    },
    async stop() {
      job?.stop();
      job = undefined;
      await running;
      await lease.release();
    },
    tick,
    nextRun: () => job?.nextRun() ?? null,
  };
}
