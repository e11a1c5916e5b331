import { createStorageFromConfig } from '../storage/factory.ts';
import { callLogsProjector } from '../projections/callLogs/projector.ts';
import { createProjectionRunner } from '../projections/runner.ts';
import { runOrphanSweep, type SweepResult } from '../processes/orphanSweep.ts';
import type { ParsedArgs } from './args.ts';
import type { ExtraCommand } from './extraCommands.ts';
import { withRuntime } from './runtime.ts';

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

/** `callrec sweep [--dry-run] [--json]`: one orphan sweep now. Exit 1 when anything failed or the listing stopped early. */
export const sweepCommand: ExtraCommand = {
  name: 'sweep',
  usage: 'sweep [--dry-run] [--json]                 delete orphaned recordings, flag vanished ones (dry run: list only)',
  async run(args: ParsedArgs) {
    return withRuntime(async ({ config, database, store, logger }) => {
      const { storage } = await createStorageFromConfig(config, { publicBaseUrl: config.publicBaseUrl });
      // Decide on an up-to-date call_logs: an upload recorded in the log counts as a reference.
      const runner = createProjectionRunner({ database, store, projectors: [callLogsProjector], instanceId: config.instanceId, logger });
      const result = await runOrphanSweep(
        {
          db: database.db,
          store,
          storage,
          minAgeDays: config.ORPHAN_MIN_AGE_DAYS,
          fallbackOrgId: config.DEFAULT_ORG_ID,
          logger,
          beforeSweep: () => runner.catchUp(),
          actor: `cli:${process.env.USER ?? 'unknown'}`,
        },
        { dryRun: args.flags['dry-run'] === true },
      );
      process.stdout.write(`${args.flags.json ? JSON.stringify(result, null, 2) : formatSweepResult(result, config.ORPHAN_MIN_AGE_DAYS)}\n`);
      return result.failed.length > 0 || !result.complete || result.missingCheckErrors > 0 ? 1 : 0;
    });
  },
};
