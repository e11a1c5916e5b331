import { parseArgs as parseFlags } from 'node:util';
import { createOrgResolver } from '../commands/orgs.ts';
import { SETTLE_MS } from '../commands/reconcile.ts';
import { loadConfig } from '../config.ts';
import { runReconcile, type ReconcileResult } from '../processes/reconcile.ts';
import { MAX_SERVER_RETRIES } from '../vapi/serverBackoff.ts';
import { createVapiClient } from '../vapi/restClient.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { withRuntime } from './runtime.ts';

export const VAPI_BACKFILL_USAGE =
  'vapi backfill --since ISO [--until ISO] [--dry-run] [--json]   bring Vapi calls updated in [since, until) into callrec (until: 2 min ago by default; progress on stderr)';

/** The command line after `vapi <sub>` again, for node:util parseArgs (strict) to judge. */
function argvOf(args: ParsedArgs): string[] {
  const out = args.positionals.slice(2);
  for (const [name, v] of Object.entries(args.flags)) out.push(v === true ? `--${name}` : `--${name}=${v}`);
  return out;
}

type Values = Record<string, string | boolean | undefined>;

function strict(args: ParsedArgs, options: Record<string, { type: 'string' | 'boolean' }>): Values {
  try {
    return parseFlags({ args: argvOf(args), options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `--server-retries N` of ensure-recording: undefined when not given, else an integer 0..10. */
export function readServerRetries(args: ParsedArgs): number | undefined {
  const v = strict(args, { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'server-retries': { type: 'string' } })['server-retries'];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > MAX_SERVER_RETRIES) {
    throw new UsageError(`--server-retries must be a whole number from 0 to ${MAX_SERVER_RETRIES} (got ${JSON.stringify(v)})`);
  }
  return Number(v);
}

function isoFlag(name: string, v: string | boolean | undefined): Date | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) || Number.isNaN(Date.parse(v))) {
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
export async function runVapiBackfill(args: ParsedArgs, env: Record<string, string | undefined> = process.env): Promise<number> {
  const values = strict(args, { since: { type: 'string' }, until: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } });
  const since = isoFlag('since', values.since);
  if (!since) throw new UsageError('--since is required: vapi backfill --since 2026-01-01 [--until ISO] [--dry-run]');
  const until = isoFlag('until', values.until) ?? new Date(Date.now() - SETTLE_MS);
  if (since.getTime() >= until.getTime()) throw new UsageError(`--since (${since.toISOString()}) must be before --until (${until.toISOString()})`);
  const config = loadConfig(env);
  if (!config.VAPI_API_KEY) throw new UsageError('VAPI_API_KEY is not set: set it to a Vapi private API key to list calls');
  const apiKey = config.VAPI_API_KEY;
  const result = await withRuntime(
    ({ database, store, logger }) =>
      runReconcile(
        {
          db: database.db,
          store,
          vapi: createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey, logger }),
          orgs: createOrgResolver(database.db, config.DEFAULT_ORG_ID),
          fallbackOrgId: config.DEFAULT_ORG_ID,
          stuckMinutes: config.RECONCILE_STUCK_MINUTES,
          logger,
          actor: 'cli:backfill',
          onProgress: (p) => process.stderr.write(`listed ${p.listed}, ${values['dry-run'] ? 'would recover' : 'recovered'} ${p.recovered}, failed ${p.failed}\n`),
        },
        { window: { from: since, to: until }, dryRun: values['dry-run'] === true, moveWatermark: false },
      ),
    {},
    env as NodeJS.ProcessEnv,
  );
  process.stdout.write(`${values.json ? JSON.stringify(result, null, 2) : summary(result)}\n`);
  return result.failed > 0 || !result.complete ? 1 : 0;
}
