import { sweepStream } from '../events/catalog.ts';
import type { EventStore, NewEvent } from '../events/port.ts';
import { referencedPaths } from '../projections/callLogs/queries.ts';
import { isStorageListError, type StoredObject } from '../storage/port.ts';
import { decideObject, orgOfPath, orphanDeletedEvent, type ObjectDecision } from '../commands/sweep.ts';
import type { SweepRun } from './orphanSweepTypes.ts';

/** Appends one event; an already present event with the same id counts as written (same object, same day). */
export async function appendOnce(store: EventStore, stream: string, event: NewEvent): Promise<{ ok: true; fresh: boolean } | { ok: false; message: string }> {
  const r = await store.append(stream, [event], 'any');
  if (r.ok) return { ok: true, fresh: !r.duplicate };
  if (r.error.code === 'event_id_conflict') return { ok: true, fresh: false };
  return { ok: false, message: r.error.message };
}

export class SweepAborted extends Error {}

/**
 * Phase 1 of a sweep, storage → calls: lists storage page by page and deletes every object no call references
 * and older than `minAgeDays` (re-stat, OrphanDeleted, then removal). A listing that stops early or a lost
 * lease leaves `result.complete` false with `result.error`; what was done up to then stands.
 */
export async function deleteOrphans(run: SweepRun): Promise<void> {
  const { opts, ctx, result, log, clock, pageSize, dryRun } = run;
  const { db, store, storage, minAgeDays, fallbackOrgId } = opts;
  const { day, now } = ctx;
  const fail = (path: string, code: string, message: string) => {
    result.failed.push({ path, orgId: orgOfPath(path, fallbackOrgId), code, message });
    log.error({ storagePath: path, errorCode: code }, `orphan not deleted: ${message}`);
  };

  async function handleOrphan(d: ObjectDecision) {
    if (dryRun) {
      result.deleted.push(d);
      result.bytesFreed += d.bytes;
      return;
    }
    if (run.onlyPaths && !run.onlyPaths.has(d.path)) return;
    // The listing may be minutes old: look again right before deciding for good.
    const fresh = await storage.stat(d.path);
    if (!fresh.ok) return fail(d.path, 'storage_unavailable', fresh.error.message);
    if (fresh.value === null) return; // gone meanwhile: nothing to do
    const again = decideObject(fresh.value, (await referencedPaths(db, [d.path])).has(d.path), clock(), minAgeDays);
    if (again.action !== 'delete') {
      if (again.action === 'keep-young') result.keptYoung++;
      else result.keptReferenced++;
      return;
    }
    const appended = await appendOnce(store, sweepStream(day), orphanDeletedEvent(ctx, again, fallbackOrgId));
    if (!appended.ok) return fail(d.path, 'database_unavailable', `OrphanDeleted could not be written, so the object was kept: ${appended.message}`);
    const removed = await storage.remove([d.path]);
    if (!removed.ok) return fail(d.path, 'storage_unavailable', `OrphanDeleted was written but the removal failed: ${removed.error.message}`);
    result.deleted.push(again);
    result.bytesFreed += again.bytes;
    log.info({ storagePath: d.path, bytes: again.bytes, ageDays: again.ageDays }, 'orphan deleted');
  }

  async function handlePage(page: StoredObject[]) {
    const referenced = await referencedPaths(db, page.map((o) => o.path));
    for (const obj of page) {
      const d = decideObject(obj, referenced.has(obj.path), now, minAgeDays);
      if (d.action === 'keep-referenced') result.keptReferenced++;
      else if (d.action === 'keep-young') result.keptYoung++;
      else await handleOrphan(d);
    }
    opts.onProgress?.({ scanned: result.scanned, deleted: result.deleted.length });
  }

  try {
    let page: StoredObject[] = [];
    for await (const obj of storage.list('', { pageSize })) {
      result.scanned++;
      page.push(obj);
      if (page.length >= pageSize) {
        await handlePage(page);
        page = [];
        if (opts.keepGoing && !(await opts.keepGoing())) throw new SweepAborted();
      }
    }
    await handlePage(page);
  } catch (err) {
    result.complete = false;
    if (err instanceof SweepAborted) result.error = { code: 'conflict', message: 'the sweep lease was lost; another instance carries on' };
    else if (isStorageListError(err)) result.error = { code: 'storage_unavailable', message: err.message };
    else throw err;
    log.error({ errorCode: result.error.code }, `listing storage stopped early: ${result.error.message}`);
  }

}
