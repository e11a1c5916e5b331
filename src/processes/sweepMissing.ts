import { callStream } from '../events/catalog.ts';
import { uploadedRecordingsAfter } from '../projections/callLogs/queries.ts';
import { recordingMissingEvent, type MissingCall } from '../commands/sweep.ts';
import type { SweepRun } from './orphanSweepTypes.ts';
import { appendOnce } from './sweepOrphans.ts';

const STAT_CONCURRENCY = 8;

/** Phase 2 of a sweep, calls → storage: one RecordingMissing for every uploaded call whose object is gone. */
export async function flagMissingRecordings(run: SweepRun): Promise<void> {
  const { opts, ctx, result, log, pageSize, dryRun } = run;
  const { db, store, storage } = opts;
  let after = '';
  for (;;) {
    const rows = await uploadedRecordingsAfter(db, after, pageSize);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const calls: MissingCall[] = rows.map((r) => ({ callId: r.id, orgId: r.org_id, storagePath: r.recording_storage_path!, sha256: r.recording_sha256 }));
    let next = 0;
    const worker = async () => {
      while (next < calls.length) {
        const call = calls[next++]!;
        const found = await storage.stat(call.storagePath);
        if (!found.ok) {
          result.missingCheckErrors++;
          log.warn({ callId: call.callId, errorCode: 'storage_unavailable' }, `could not check the recording: ${found.error.message}`);
          continue;
        }
        if (found.value !== null) continue;
        if (dryRun) {
          result.missing.push(call);
          continue;
        }
        const appended = await appendOnce(store, callStream(call.callId), recordingMissingEvent(ctx, call));
        if (!appended.ok) {
          result.missingCheckErrors++;
          log.error({ callId: call.callId, errorCode: 'database_unavailable' }, `RecordingMissing could not be written: ${appended.message}`);
          continue;
        }
        if (appended.fresh) {
          result.missing.push(call);
          log.warn({ callId: call.callId, storagePath: call.storagePath, errorCode: 'recording_missing' }, 'recording object is gone');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, calls.length) }, worker));
    if (rows.length < pageSize) break;
  }
  result.missingFlagged = result.missing.length;
}
