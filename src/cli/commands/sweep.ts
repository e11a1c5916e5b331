import { createCallLogsProjector } from '../../projections/callLogs/projector.ts';
import { createProjectionRunner } from '../../projections/runner.ts';
import { runOrphanSweep, type SweepResult } from '../../processes/orphanSweep.ts';
import { createStorageFromConfig } from '../../storage/factory.ts';
import { flag, UsageError, type CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** Plain text of a sweep result: one line per deleted / would-be-deleted object, missing call and failure, then the summary. */
export function formatSweepResult(r: SweepResult, minAgeDays: number): string {
  const out: string[] = [];
  out.push(`orphan sweep ${r.sweepId}${r.dryRun ? ' (dry run: nothing was deleted or written)' : ''}`);
  const verb = r.dryRun ? 'would delete' : 'deleted';
  for (const d of r.deleted) out.push(`${verb}  ${d.path}  ${d.bytes} bytes  ${d.ageDays} days old  (modified ${d.lastModified.toISOString()})`);
  for (const m of r.missing) out.push(`${r.dryRun ? 'would flag missing' : 'flagged missing'}  call ${m.callId}  ${m.storagePath}`);
  for (const f of r.failed) out.push(`FAILED  ${f.path}  ${f.code}: ${f.message}`);
  if (r.error) out.push(`listing stopped early (${r.error.code}: ${r.error.message}); objects not listed were not checked`);
  out.push(
    `scanned ${r.scanned}, ${verb} ${r.deleted.length} (${mb(r.bytesFreed)}), kept ${r.keptReferenced} referenced and ` +
      `${r.keptYoung} younger than ${minAgeDays} days, ${r.dryRun ? 'would flag' : 'flagged'} ${r.missing.length} missing, ` +
      `failed ${r.failed.length}, ${r.durationMs} ms`,
  );
  return out.join('\n');
}

const exitCode = (r: SweepResult) => (r.failed.length > 0 || !r.complete || r.missingCheckErrors > 0 ? 1 : 0);

/**
 * `callrec sweep [--dry-run] [--yes] [--json]`: one orphan sweep now. A deleting sweep first shows what it will
 * delete and asks on a terminal; without one it needs --yes. Exit 1 when anything failed, the listing stopped
 * early or the user said no.
 */
export const sweepCommand: CliCommand = {
  name: 'sweep',
  summary: 'delete orphaned recordings and flag vanished ones now (asks first; --dry-run lists only)',
  usage: '[--dry-run] [--yes] [--json]',
  details:
    'Objects older than ORPHAN_MIN_AGE_DAYS that no call references are deleted (OrphanDeleted is written first);\n' +
    'calls whose stored recording has vanished get RecordingMissing. On a terminal the sweep lists what it would\n' +
    'delete and asks; without a terminal (cron, CI) it deletes only with --yes.',
  options: {
    'dry-run': { type: 'boolean', description: 'list what would be deleted or flagged; change nothing' },
    yes: { type: 'boolean', short: 'y', description: 'delete without asking (needed when there is no terminal)' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args, ctx) {
    const dryRun = flag(args, 'dry-run');
    const ask = !dryRun && !flag(args, 'yes');
    if (ask && !ctx.interactive) {
      throw new UsageError('sweep deletes recordings and there is no terminal to confirm on: pass --yes to delete, or --dry-run to list what would be deleted');
    }
    return withRuntime(
      async ({ config, database, store, logger, keyring }) => {
        const { storage } = await createStorageFromConfig(config, { publicBaseUrl: config.publicBaseUrl });
        // Decide on an up-to-date call_logs: an upload recorded in the log counts as a reference.
        const runner = createProjectionRunner({ database, store, projectors: [createCallLogsProjector(keyring)], instanceId: config.instanceId, logger });
        const sweep = (label: string, run: Parameters<typeof runOrphanSweep>[1], total?: number) => {
          const progress = ctx.progress({ label, unit: 'objects', total });
          const options = {
            db: database.db,
            store,
            storage,
            minAgeDays: config.ORPHAN_MIN_AGE_DAYS,
            fallbackOrgId: config.DEFAULT_ORG_ID,
            logger,
            beforeSweep: () => runner.catchUp(),
            actor: `cli:${ctx.env.USER ?? 'unknown'}`,
            onProgress: (p: { scanned: number }) => progress.update(p.scanned),
          };
          return runOrphanSweep(options, run).finally(() => progress.done());
        };
        const print = (r: SweepResult) => ctx.out(flag(args, 'json') ? JSON.stringify(r, null, 2) : formatSweepResult(r, config.ORPHAN_MIN_AGE_DAYS));

        if (!ask) {
          const result = await sweep(dryRun ? 'sweep (dry run)' : 'sweep', { dryRun });
          print(result);
          return exitCode(result);
        }
        const preview = await sweep('sweep: looking for orphans', { dryRun: true });
        ctx.err(formatSweepResult(preview, config.ORPHAN_MIN_AGE_DAYS));
        if (preview.deleted.length === 0 && preview.missing.length === 0) {
          ctx.out('nothing to delete or flag');
          return exitCode(preview);
        }
        const question = `Delete ${preview.deleted.length} object(s) (${mb(preview.bytesFreed)}) and flag ${preview.missing.length} call(s) as missing?`;
        if (!(await ctx.confirm(question))) {
          ctx.out('cancelled: nothing was deleted or written');
          return 1;
        }
        const result = await sweep('sweep', { dryRun: false, onlyPaths: new Set(preview.deleted.map((d) => d.path)) }, preview.scanned);
        print(result);
        return exitCode(result);
      },
      {},
      ctx.env,
    );
  },
};
