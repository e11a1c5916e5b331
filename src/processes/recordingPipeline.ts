import { setMaxListeners } from 'node:events';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decideAttemptOutcome,
  decideNextStep,
  recordingStateOf,
  type RetryPolicy,
} from '../commands/recording.ts';
import type { Database } from '../db/connect.ts';
import { pipelineCandidates, type Candidate } from '../projections/callLogs/queries.ts';
import { callStream } from '../events/catalog.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import { silentLogger, type Logger } from '../log.ts';
import { readCheckpoint } from '../projections/checkpoints.ts';
import { leaseKeeper } from '../db/leases.ts';
import type { RecordingStorage } from '../storage/port.ts';
import { runRecordingAttempt, type AttemptConfig } from './recordingAttempt.ts';

/**
 * The recording pipeline process manager. The call_logs projection is its to-do list:
 *   - `pending` with a source URL          → first attempt
 *   - `none` without a recorded reason      → append TranscriptOnlyFallback (no recording URL)
 *   - `retry_scheduled`, due by the clock   → the scheduled attempt
 *   - `failed`                              → a failure a crash left without its follow-up
 * Before acting it re-reads the call stream and decides from it (the stream is the truth), then appends at the
 * revision it read: a concurrent worker or a replay gets a conflict and re-reads instead of writing twice.
 * One active instance (lease); woken by appends, polling every UPLOAD_RETRY_POLL_SECONDS for due retries.
 */

export type PipelineConfig = AttemptConfig & {
  RECORDING_CONCURRENCY: number;
  UPLOAD_RETRY_DELAYS_MIN: number[];
  UPLOAD_RETRY_MAX: number;
  UPLOAD_RETRY_POLL_SECONDS: number;
};

export interface RecordingPipelineOptions {
  database: Database;
  store: EventStore;
  storage: RecordingStorage;
  config: PipelineConfig;
  /** DATA_DIR/tmp: the pipeline keeps its temp files under `<tmpDir>/pipeline` */
  tmpDir: string;
  instanceId: string;
  clock?: () => Date;
  logger?: Logger;
  leaseMs?: number;
  /** how many candidates one tick reads (default 500) */
  batchSize?: number;
}

export interface RecordingPipeline {
  start(): void;
  /** Stops the loop, aborts attempts in flight (they record nothing) and releases the lease. */
  stop(): Promise<void>;
  /** One pass: find due work and start it (up to RECORDING_CONCURRENCY at once). Resolves to how many calls it started. */
  tick(): Promise<number>;
  /** Ticks until no due work is left and every attempt has finished; resolves to how many calls were handled. */
  runDue(): Promise<number>;
  /** Calls being worked on right now. */
  inFlight(): number;
  /** Look for work now (call_logs just moved in this process); no-op when the loop is busy or stopped. */
  nudge(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PROCESS_NAME = 'process:recording-pipeline';
/** temp dirs older than this at start-up were left by a crash */
const STALE_TEMP_MS = 60 * 60_000;

export function createRecordingPipeline(opts: RecordingPipelineOptions): RecordingPipeline {
  const { database, store, storage, config, instanceId } = opts;
  const { db } = database;
  const clock = opts.clock ?? (() => new Date());
  const logger = (opts.logger ?? silentLogger).child({ process: 'recording-pipeline' });
  const leaseMs = opts.leaseMs ?? 10_000;
  const batchSize = opts.batchSize ?? 500;
  const concurrency = Math.max(1, config.RECORDING_CONCURRENCY);
  const pollMs = config.UPLOAD_RETRY_POLL_SECONDS * 1000;
  const retry: RetryPolicy = { delaysMinutes: config.UPLOAD_RETRY_DELAYS_MIN, maxRetries: config.UPLOAD_RETRY_MAX };
  const tmpDir = join(opts.tmpDir, 'pipeline');
  const lease = leaseKeeper(db, PROCESS_NAME, instanceId, leaseMs);

  const jobs = new Map<string, Promise<void>>();
  /** call id → call_logs.last_position when we last handled it: not picked again until the projection moves */
  const handledAt = new Map<string, number>();
  /** call id → Date.now() before which a call whose handling threw is not picked again */
  const backoffUntil = new Map<string, number>();
  const newAbort = () => {
    const c = new AbortController();
    setMaxListeners(0, c.signal); // every attempt in flight listens to it
    return c;
  };
  let abort = newAbort();
  let running = false;
  let loopDone: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let tempReady: Promise<void> | null = null;

  // A kick that arrives while the loop is not waiting (mid-tick) is remembered, so it is never lost.
  let kicked = false;
  const kick = () => {
    const w = wake;
    wake = null;
    if (w) w();
    else kicked = true;
  };

  async function prepareTemp(): Promise<void> {
    await mkdir(tmpDir, { recursive: true });
    const now = Date.now();
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      const p = join(tmpDir, name);
      const st = await stat(p).catch(() => null);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async function candidates(limit: number): Promise<Candidate[]> {
    return pipelineCandidates(db, clock(), limit);
  }

  async function append(callId: string, events: NewEvent[], expected: number): Promise<'ok' | 'conflict'> {
    const res = await store.append(callStream(callId), events, expected);
    if (res.ok) return 'ok';
    if (res.error.code === 'wrong_expected_revision' || res.error.code === 'event_id_conflict') return 'conflict';
    throw new Error(`append to call-${callId} refused: ${res.error.code}: ${res.error.message}`);
  }

  /** Decide from the stream and act; on a conflict re-read and decide again. */
  async function handle(callId: string): Promise<void> {
    const signal = abort.signal;
    /** an object this run uploaded but could not record (the stream moved): removed if the call was erased meanwhile */
    let unrecorded: string | null = null;
    for (let round = 0; round < 5; round++) {
      if (signal.aborted) return;
      const state = recordingStateOf(callId, await store.readStream(callStream(callId)));
      const ctx = { now: clock(), retry };
      const next = decideNextStep(state, ctx);
      const correlationId = state.ended?.correlationId;
      if (unrecorded && state.status === 'erased') {
        const removed = await storage.remove([unrecorded]);
        if (!removed.ok) throw new Error(`the call was erased during an upload and its object ${unrecorded} could not be removed: ${removed.error.message}`);
        logger.info({ callId, correlationId, storagePath: unrecorded }, 'the call was erased during the upload: its object was removed');
        return;
      }
      if (next.kind === 'skip') return;
      if (next.kind === 'append') {
        const result = await append(callId, next.events, state.revision);
        if (result === 'conflict') continue;
        logger.info({ callId, correlationId, events: next.events.map((e) => e.type) }, 'recording pipeline: recorded');
        return;
      }
      await tempReady;
      const started = Date.now();
      const outcome = await runRecordingAttempt(
        { config, storage, tmpDir, logger },
        { callId, attempt: next.attempt, ended: state.ended!, signal },
      );
      if ('aborted' in outcome) {
        logger.info({ callId, correlationId, attempt: next.attempt }, 'recording attempt aborted (stopping); nothing recorded');
        return;
      }
      const events = decideAttemptOutcome(state, next.attempt, next.causationId, outcome, { now: clock(), retry });
      const result = await append(callId, events, state.revision);
      if (result === 'conflict') {
        logger.warn({ callId, correlationId, attempt: next.attempt, errorCode: 'wrong_expected_revision' }, 'the call stream moved during the attempt; re-reading');
        if (outcome.ok) unrecorded = outcome.uploaded.storagePath;
        continue;
      }
      const ms = Date.now() - started;
      if (outcome.ok) {
        logger.info({ callId, correlationId, attempt: next.attempt, storagePath: outcome.uploaded.storagePath, bytes: outcome.uploaded.bytes, ms }, 'recording uploaded and signed');
      } else {
        const f = outcome.failure;
        logger.warn(
          { callId, correlationId, attempt: next.attempt, step: f.step, errorCode: f.code, status: f.status, retryable: f.retryable, events: events.map((e) => e.type), ms },
          `recording attempt failed: ${f.message}`,
        );
      }
      return;
    }
    logger.warn({ callId, errorCode: 'wrong_expected_revision' }, 'recording pipeline: too many conflicts; will try again later');
  }

  function startJob(c: Candidate): void {
    const job = handle(c.id)
      .catch((err) => {
        logger.error({ callId: c.id, err, errorCode: 'internal' }, 'recording pipeline step failed; will try again');
        handledAt.delete(c.id); // let a later tick pick it up again, after a pause
        backoffUntil.set(c.id, Date.now() + 5000);
      })
      .finally(() => {
        jobs.delete(c.id);
        kick();
      });
    jobs.set(c.id, job);
    handledAt.set(c.id, c.last_position);
  }

  async function tick(): Promise<number> {
    if (!(await lease.hold())) return 0;
    const free = concurrency - jobs.size;
    if (free <= 0) return 0;
    // enough rows to see past the ones in flight or waiting for the projection, but no more
    const limit = Math.min(batchSize, handledAt.size + free + 16);
    const found = await candidates(limit);
    const seen = new Set<string>();
    let started = 0;
    for (const c of found) {
      seen.add(c.id);
      if (started >= free) continue;
      if (jobs.has(c.id)) continue;
      if (handledAt.get(c.id) === c.last_position) continue; // projection has not caught up with what we did
      const pause = backoffUntil.get(c.id);
      if (pause !== undefined) {
        if (pause > Date.now()) continue;
        backoffUntil.delete(c.id);
      }
      startJob(c);
      started++;
    }
    if (found.length < limit) for (const id of handledAt.keys()) if (!seen.has(id) && !jobs.has(id)) handledAt.delete(id);
    return started;
  }

  async function projectionBehind(): Promise<boolean> {
    const [head, at] = await Promise.all([store.headPosition(), readCheckpoint(db, 'call_logs')]);
    return at < head;
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        const started = await tick();
        failures = 0;
        if (!running) break;
        // Freshly appended calls appear in call_logs a moment after the append: look again soon while it lags.
        const soon = started > 0 || (jobs.size < concurrency && (await projectionBehind()));
        const waitMs = soon ? 25 : Math.min(pollMs, Math.max(50, leaseMs / 3));
        if (kicked) {
          kicked = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (!soon) void store.waitForAppend(waitMs).then(() => wake?.(), () => undefined);
        });
        wake = null;
      } catch (err) {
        failures++;
        logger.error({ err, errorCode: 'database_unavailable' }, 'recording pipeline tick failed; retrying');
        await sleep(Math.min(30_000, 200 * 2 ** Math.min(failures, 8)));
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      abort = newAbort();
      tempReady = prepareTemp().catch((err) => logger.error({ err, errorCode: 'temp_io_error' }, 'cannot prepare the pipeline temp dir'));
      loopDone = loop();
    },
    async stop() {
      running = false;
      abort.abort();
      kick();
      await loopDone;
      loopDone = null;
      await Promise.allSettled([...jobs.values()]);
      await lease.release();
    },
    tick: async () => {
      tempReady ??= prepareTemp();
      return tick();
    },
    async runDue() {
      tempReady ??= prepareTemp();
      await tempReady;
      let handled = 0;
      for (;;) {
        const started = await tick();
        handled += started;
        if (jobs.size === 0 && started === 0) return handled;
        await Promise.race([...jobs.values()]);
      }
    },
    inFlight: () => jobs.size,
    nudge: kick,
  };
}
