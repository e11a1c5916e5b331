import { createOrgResolver } from '../../commands/orgs.ts';
import { SETTLE_MS } from '../../commands/reconcile.ts';
import { runReconcile, type ReconcileResult } from '../../processes/reconcile.ts';
import { flag, stringOption, UsageError, type CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';
import { vapiClientFromEnv } from '../vapiClient.ts';

function isoOption(name: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new UsageError(`--${name} must be an ISO date or date-time, e.g. 2026-01-31 or 2026-01-31T08:00:00Z (got ${JSON.stringify(v)})`);
  }
  return new Date(v);
}

function summary(r: ReconcileResult): string {
  const lines = [
    `window ${r.window.from} → ${r.window.to}${r.dryRun ? ' (dry run: nothing was written)' : ''}`,
    `listed ${r.listed}, ${r.dryRun ? 'would recover' : 'recovered'} ${r.recovered.length}, already in callrec ${r.alreadyPresent}, not ended ${r.notEnded}, failed ${r.failed}`,
  ];
  if (!r.complete) lines.push(`listing stopped early (${r.error?.code}: ${r.error?.message}); run it again for the rest`);
  return lines.join('\n');
}

/**
 * `callrec vapi backfill --since ISO [--until ISO] [--dry-run] [--json]`: the reconciler's run over any
 * window (calls updated in [since, until)), without moving its watermark. Exit 0 when every call is in,
 * 1 when some failed or the listing stopped early, 2 on a usage or configuration problem.
 */
export const vapiBackfillCommand: CliCommand = {
  name: 'backfill',
  summary: 'bring the Vapi calls updated in [since, until) into callrec (the reconciler over any window; progress on stderr)',
  usage: '--since ISO [--until ISO] [--dry-run] [--json]',
  options: {
    since: { type: 'string', value: 'ISO', description: 'start of the window (required), e.g. 2026-01-01' },
    until: { type: 'string', value: 'ISO', description: 'end of the window (default: 2 minutes ago)' },
    'dry-run': { type: 'boolean', description: 'list what would be recovered, write nothing' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args, ctx) {
    const since = isoOption('since', stringOption(args, 'since', true));
    const until = isoOption('until', stringOption(args, 'until')) ?? new Date(Date.now() - SETTLE_MS);
    if (!since || since.getTime() >= until.getTime()) throw new UsageError(`--since (${since?.toISOString()}) must be before --until (${until.toISOString()})`);
    const dryRun = flag(args, 'dry-run');
    const { client } = vapiClientFromEnv(ctx.env, 'list calls');
    const progress = ctx.progress({ label: dryRun ? 'vapi backfill (dry run)' : 'vapi backfill', unit: 'calls listed' });
    const result = await withRuntime(
      ({ config, database, store, logger }) =>
        runReconcile(
          {
            db: database.db,
            store,
            vapi: client,
            orgs: createOrgResolver(database.db, config.DEFAULT_ORG_ID),
            fallbackOrgId: config.DEFAULT_ORG_ID,
            stuckMinutes: config.RECONCILE_STUCK_MINUTES,
            logger,
            actor: 'cli:backfill',
            onProgress: (p) => progress.update(p.listed),
          },
          { window: { from: since, to: until }, dryRun, moveWatermark: false },
        ),
      {},
      ctx.env,
    );
    progress.done(`${result.recovered.length} ${dryRun ? 'would be recovered' : 'recovered'}, ${result.failed} failed`);
    ctx.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : summary(result));
    return result.failed > 0 || !result.complete ? 1 : 0;
  },
};
