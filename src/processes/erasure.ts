import { callPrivacyOf, NO_COUNTS, type CallPrivacyState, type ErasureCounts } from '../commands/callPrivacy.ts';
import { decideErasureOutcome, decideVapiOutcome, nextErasureWork, type ErasureStepOutcome, type VapiDeleteOutcome } from '../commands/erasure.ts';
import type { RetryPolicy } from '../commands/recording.ts';
import type { Database } from '../db/connect.ts';
import { leaseKeeper } from '../db/leases.ts';
import { callStream } from '../events/catalog.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import { tombstonePlaintextFields } from '../events/postgres/tombstoneFields.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Keyring } from '../privacy/keyring.ts';
import { erasureCandidates } from '../projections/erasures/queries.ts';
import { isStorageListError, recordingObjectPath, type RecordingStorage } from '../storage/port.ts';
import type { VapiClient } from '../vapi/restClient.ts';

/**
 * The erasure process: carries out what `CallErased` asks for, after it is in the log (so nothing is lost):
 *   1. destroy the call's data keys (its sealed personal fields become unreadable: crypto-shredding);
 *   2. rewrite the plaintext personal fields of its events written before encryption to `[erased]`;
 *   3. delete its recording object(s) in storage — every path a RecordingUploaded named, and any object of the
 *      call in its day's folder (a derived file, an upload that was never recorded) — so its signed URLs answer 404;
 * then records `ErasureCompleted` with what was done. A failing step (storage down) records `ErasureStepFailed`
 * with the time of the next try, and the process tries again then: never given up, never swallowed.
 * With a Vapi client (VAPI_API_KEY), it also asks Vapi to delete its copy (`DELETE /call/{id}/data`) and records
 * `VapiCallDataDeleted` or `VapiCallDataDeleteFailed` (retried with the uploads' backoff).
 *
 * The request that erased runs the local steps at once (`run`); the background loop (one instance, lease) finds
 * the rest in the call_erasures projection. Every step is idempotent, and outcomes are appended at the revision
 * that was read with ids derived from (call, type, attempt), so two runs meet in one event.
 */

export interface ErasureProcessOptions {
  database: Database;
  store: EventStore;
  storage: RecordingStorage;
  keyring: Keyring;
  /** Present when VAPI_API_KEY is set. */
  vapi?: Pick<VapiClient, 'deleteCallData'>;
  retry: RetryPolicy;
  /** How often due retries are looked for (UPLOAD_RETRY_POLL_SECONDS). */
  pollSeconds: number;
  instanceId: string;
  clock?: () => Date;
  logger?: Logger;
  leaseMs?: number;
}

export interface ErasureProcess {
  start(): void;
  stop(): Promise<void>;
  /**
   * Runs the erasure work of one call that is due now (the local steps; Vapi's too unless `vapi: false`) and
   * resolves to the call's state after it. Concurrent runs of the same call in this process share one run.
   */
  run(callId: string, opts?: { vapi?: boolean }): Promise<CallPrivacyState>;
  /** One pass over the due erasures (under the lease); resolves to how many calls were handled. */
  tick(): Promise<number>;
  /** Look for work now. */
  nudge(): void;
}

export const ERASURE_LEASE = 'process:erasure';
const KEY_REASON = 'erased';

export function createErasureProcess(opts: ErasureProcessOptions): ErasureProcess {
  const { database, store, storage, keyring } = opts;
  const clock = opts.clock ?? (() => new Date());
  const logger = (opts.logger ?? silentLogger).child({ process: 'erasure' });
  const leaseMs = opts.leaseMs ?? 10_000;
  const lease = leaseKeeper(database.db, ERASURE_LEASE, opts.instanceId, leaseMs);
  const inFlight = new Map<string, Promise<CallPrivacyState>>();
  /** call id → call_erasures.last_position when last handled: not picked again until the projection moves */
  const handledAt = new Map<string, number>();
  /** call id → Date.now() before which a call whose run threw is not picked again */
  const backoffUntil = new Map<string, number>();
  let running = false;
  let loopDone: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let kicked = false;

  const readState = async (callId: string) => callPrivacyOf(callId, await store.readStream(callStream(callId)));

  /** The local steps, in order; stops at the first failure and says what was done before it. */
  async function localSteps(state: CallPrivacyState): Promise<ErasureStepOutcome> {
    const counts: ErasureCounts = { ...NO_COUNTS };
    const failed = (step: 'keys' | 'tombstone' | 'storage', code: string, err: unknown): ErasureStepOutcome => ({
      ok: false,
      step,
      code,
      message: err instanceof Error ? err.message : String(err),
      counts,
    });
    try {
      counts.keysDestroyed = await keyring.destroy(state.callId, state.orgId!, ['call', 'transcript'], KEY_REASON);
    } catch (err) {
      return failed('keys', 'database_unavailable', err);
    }
    if (store.kind !== 'eventstoredb') {
      try {
        counts.eventsRewritten = await tombstonePlaintextFields(database, callStream(state.callId), ['call', 'transcript']);
      } catch (err) {
        return failed('tombstone', 'database_unavailable', err);
      }
    }
    const paths = new Set(state.storagePaths);
    try {
      for (const p of await objectsInDayFolder(state)) paths.add(p);
    } catch (err) {
      const e = isStorageListError(err) ? err.storageError : undefined;
      return failed('storage', e && !e.retryable ? 'storage_error' : 'storage_unavailable', e ? new Error(`listing the call's folder: ${e.code}: ${e.message}`) : err);
    }
    if (paths.size > 0) {
      const removed = await storage.remove([...paths]);
      if (!removed.ok) return failed('storage', removed.error.retryable ? 'storage_unavailable' : 'storage_error', new Error(`${removed.error.code}: ${removed.error.message}`));
      counts.objectsDeleted = removed.value.removed;
    }
    return { ok: true, counts };
  }

  /** Objects of the call in the folder its recording path is in (`<org>/<yyyy>/<mm>/<dd>/<callId>.<ext>`). */
  async function objectsInDayFolder(state: CallPrivacyState): Promise<string[]> {
    if (!state.endedAt || !state.orgId) return [];
    const path = recordingObjectPath({ orgId: state.orgId, endedAt: new Date(state.endedAt), callId: state.callId, ext: 'wav' });
    if (!path.ok) return [];
    const folder = path.value.slice(0, path.value.lastIndexOf('/'));
    const out: string[] = [];
    for await (const o of storage.list(folder)) {
      const name = o.path.slice(o.path.lastIndexOf('/') + 1);
      if (name.startsWith(`${state.callId}.`)) out.push(o.path);
    }
    return out;
  }

  /** Appends what a step decided, at the revision read; on a conflict re-reads and re-decides while the same attempt is still due. */
  async function record(callId: string, state: CallPrivacyState, decide: (s: CallPrivacyState) => NewEvent[] | null): Promise<CallPrivacyState> {
    let s = state;
    for (let round = 0; round < 5; round++) {
      const events = decide(s);
      if (!events) return s;
      const r = await store.append(callStream(callId), events, s.revision);
      if (r.ok) return readState(callId);
      if (r.error.code !== 'wrong_expected_revision' && r.error.code !== 'event_id_conflict') throw new Error(`append to call-${callId} refused: ${r.error.code}: ${r.error.message}`);
      s = await readState(callId);
    }
    throw new Error(`call-${callId} kept moving; the erasure step's outcome will be recorded on the next run`);
  }

  async function runOnce(callId: string, withVapi: boolean): Promise<CallPrivacyState> {
    let state = await readState(callId);
    const retry = opts.retry;
    const work = nextErasureWork(state, clock(), { vapi: withVapi && opts.vapi !== undefined });
    if (work.local) {
      const attempt = work.local.attempt;
      const outcome = await localSteps(state);
      state = await record(callId, state, (s) => (nextErasureWork(s, clock(), { vapi: false }).local?.attempt === attempt ? decideErasureOutcome(s, attempt, outcome, { now: clock(), retry }) : null));
      if (outcome.ok) logger.info({ callId, ...outcome.counts }, 'call erased: keys destroyed, plaintext rewritten, recording deleted');
      else logger.warn({ callId, step: outcome.step, errorCode: outcome.code, attempt, retryAt: state.retryAt }, `erasure step failed; retried later: ${outcome.message}`);
    }
    if (work.vapi && opts.vapi) {
      const attempt = work.vapi.attempt;
      const res = await opts.vapi.deleteCallData(callId);
      const outcome: VapiDeleteOutcome = res.ok
        ? { ok: true, alreadyGone: res.value.alreadyGone }
        : { ok: false, code: res.error.code, status: res.error.status ?? null, message: res.error.message, retryable: res.error.retryable };
      state = await record(callId, state, (s) => (nextErasureWork(s, clock(), { vapi: true }).vapi?.attempt === attempt ? decideVapiOutcome(s, attempt, outcome, { now: clock(), retry }) : null));
      if (res.ok) logger.info({ callId, alreadyGone: res.value.alreadyGone }, "Vapi deleted its copy of the erased call's data");
      else logger.warn({ callId, errorCode: res.error.code, status: res.error.status, attempt, retryable: res.error.retryable }, `asking Vapi to delete the call's data failed: ${res.error.message}`);
    }
    return state;
  }

  function run(callId: string, runOpts: { vapi?: boolean } = {}): Promise<CallPrivacyState> {
    const current = inFlight.get(callId);
    if (current) return current;
    const p = runOnce(callId, runOpts.vapi !== false).finally(() => inFlight.delete(callId));
    inFlight.set(callId, p);
    return p;
  }

  async function tick(): Promise<number> {
    if (!(await lease.hold())) return 0;
    const found = await erasureCandidates(database.db, clock(), { vapi: opts.vapi !== undefined, limit: 100 });
    let handled = 0;
    for (const c of found) {
      if (!running && loopDone) break;
      if (handledAt.get(c.call_id) === c.last_position) continue;
      const pause = backoffUntil.get(c.call_id);
      if (pause !== undefined && pause > Date.now()) continue;
      backoffUntil.delete(c.call_id);
      try {
        await run(c.call_id);
        handledAt.set(c.call_id, c.last_position);
      } catch (err) {
        logger.error({ callId: c.call_id, err, errorCode: 'internal' }, 'erasure run failed; will try again');
        backoffUntil.set(c.call_id, Date.now() + 5_000);
      }
      handled++;
    }
    if (found.length < 100) for (const id of handledAt.keys()) if (!found.some((c) => c.call_id === id)) handledAt.delete(id);
    return handled;
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        await tick();
        failures = 0;
      } catch (err) {
        failures++;
        logger.error({ err, errorCode: 'database_unavailable' }, 'erasure tick failed; retrying');
      }
      if (!running) break;
      if (kicked) {
        kicked = false;
        continue;
      }
      const waitMs = failures > 0 ? Math.min(30_000, 200 * 2 ** Math.min(failures, 8)) : Math.min(opts.pollSeconds * 1000, Math.max(50, leaseMs / 3));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loopDone = loop();
    },
    async stop() {
      running = false;
      const w = wake;
      wake = null;
      w?.();
      await loopDone;
      loopDone = null;
      await Promise.allSettled([...inFlight.values()]);
      await lease.release();
    },
    run,
    tick,
    nudge() {
      const w = wake;
      wake = null;
      if (w) w();
      else kicked = true;
    },
  };
}
