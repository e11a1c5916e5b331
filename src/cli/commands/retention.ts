import { ORG_ID_RE } from '../../commands/orgs.ts';
import { leaseKeeper } from '../../db/leases.ts';
import { createCallLogsProjector } from '../../projections/callLogs/projector.ts';
import { orgRetentionProjector } from '../../projections/orgRetention/projector.ts';
import { createProjectionRunner } from '../../projections/runner.ts';
import { RETENTION_LEASE, runRetention, type RetentionResult } from '../../processes/retention.ts';
import { createStorageFromConfig } from '../../storage/factory.ts';
import { flag, stringOption, UsageError, type CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';

/** Plain text of a retention run: one line per recording and transcript expired (or that would be), each failure, then the summary. */
export function formatRetentionResult(r: RetentionResult): string {
  const out: string[] = [];
  out.push(`retention run ${r.runId}${r.dryRun ? ' (dry run: nothing was deleted or written)' : ''}`);
  for (const x of r.recordings) out.push(`${r.dryRun ? 'would delete recording' : 'deleted recording'}  call ${x.callId}  org ${x.orgId}  ${x.storagePath}  (ended ${x.endedAt}, policy ${x.policyDays} days)`);
  for (const x of r.transcripts) out.push(`${r.dryRun ? 'would shred transcript' : 'shredded transcript'}  call ${x.callId}  org ${x.orgId}  (ended ${x.endedAt}, policy ${x.policyDays} days)`);
  for (const f of r.failed) out.push(`FAILED  ${f.kind} of call ${f.callId}  ${f.code}: ${f.message}`);
  if (!r.complete) out.push('the run stopped early; the rest is left for the next run');
  const verb = r.dryRun ? 'would expire' : 'expired';
  out.push(`${verb} ${r.recordings.length} recording(s) and ${r.transcripts.length} transcript(s), kept ${r.skipped} held or erased, failed ${r.failed.length}, ${r.durationMs} ms`);
  return out.join('\n');
}

/**
 * `callrec retention [--dry-run] [--org ORG] [--json]`: the daily retention run, once now. A dry run lists what
 * would expire and changes nothing. Exit 1 when anything failed or another instance is running it.
 */
export const retentionCommand: CliCommand = {
  name: 'retention',
  summary: 'delete expired recordings and shred expired transcripts now (--dry-run lists only)',
  usage: '[--dry-run] [--org ORG] [--json]',
  details:
    'Applies each org\'s retention policy (callrec orgs retention; default RETENTION_RECORDING_DAYS /\n' +
    'RETENTION_TRANSCRIPT_DAYS): recordings past it are deleted from storage (RecordingExpired), transcripts and\n' +
    'summaries past it are shredded (their key destroyed; TranscriptExpired). Held calls are kept. Running it\n' +
    'again does nothing more; a failure is reported and retried by the next run.',
  options: {
    'dry-run': { type: 'boolean', description: 'list what would expire; change nothing' },
    org: { type: 'string', value: 'ORG', description: 'only this organisation' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args, ctx) {
    const dryRun = flag(args, 'dry-run');
    const orgId = stringOption(args, 'org');
    if (orgId !== undefined && !ORG_ID_RE.test(orgId)) throw new UsageError(`--org ${JSON.stringify(orgId)} must be 1-64 letters, digits, _ or -`);
    return withRuntime(
      async ({ config, database, store, keyring, logger }) => {
        const { storage } = await createStorageFromConfig(config, { publicBaseUrl: config.publicBaseUrl });
        // One run at a time across the deployment: the service's daily run holds the same lease.
        const owner = `cli:${ctx.env.USER ?? 'unknown'}:${process.pid}`;
        const lease = leaseKeeper(database.db, RETENTION_LEASE, owner, Math.max(config.LEASE_TTL_MS, 60_000));
        if (!dryRun && !(await lease.renew())) {
          ctx.err('another instance is running retention now (or ran it moments ago); try again in a minute');
          return 1;
        }
        try {
          // Decide on up-to-date read models: a hold or a policy just written counts.
          const runner = createProjectionRunner({ database, store, projectors: [createCallLogsProjector(keyring), orgRetentionProjector], instanceId: config.instanceId, logger });
          const progress = ctx.progress({ label: dryRun ? 'retention (dry run)' : 'retention', unit: 'expiries' });
          const result = await runRetention(
            {
              database,
              store,
              storage,
              keyring,
              defaults: { recordingDays: config.RETENTION_RECORDING_DAYS, transcriptDays: config.RETENTION_TRANSCRIPT_DAYS },
              fallbackOrgId: config.DEFAULT_ORG_ID,
              logger,
              beforeRun: () => runner.catchUp(),
              keepGoing: dryRun ? undefined : () => lease.renew().catch(() => false),
              onProgress: (p) => progress.update(p.recordings + p.transcripts),
              triggeredBy: `cli:${ctx.env.USER ?? 'unknown'}`,
            },
            { dryRun, ...(orgId !== undefined ? { orgId } : {}) },
          ).finally(() => progress.done());
          ctx.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : formatRetentionResult(result));
          return result.failed.length > 0 || !result.complete ? 1 : 0;
        } finally {
          await lease.release();
        }
      },
      {},
      ctx.env,
    );
  },
};
