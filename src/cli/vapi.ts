import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { ensureRecordingEnabled, formatEnsureRecordingTable } from '../vapi/ensureRecording.ts';
import { createVapiClient } from '../vapi/restClient.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import type { ExtraCommand } from './extraCommands.ts';
import { readServerRetries, runVapiBackfill, VAPI_BACKFILL_USAGE } from './vapiBackfill.ts';

/**
 * `callrec vapi ensure-recording [--dry-run] [--json]`: turns `artifactPlan.recordingEnabled` on for every
 * Vapi assistant (VAPI_API_URL, VAPI_API_KEY). Exit 0 when every assistant records, 1 when any update
 * failed or the listing stopped early, 2 on a usage or configuration problem.
 */
export async function runVapiCommand(args: ParsedArgs, env: Record<string, string | undefined> = process.env): Promise<number> {
  const sub = args.positionals[1];
  if (sub === 'backfill') return runVapiBackfill(args, env);
  if (sub !== 'ensure-recording') throw new UsageError('vapi needs a subcommand: callrec vapi ensure-recording [--dry-run] [--server-retries N] | vapi backfill --since ISO');
  const serverRetries = readServerRetries(args);
  const config = loadConfig(env);
  if (!config.VAPI_API_KEY) {
    throw new UsageError('VAPI_API_KEY is not set: set it to a Vapi private API key (dashboard → API Keys) to list and update assistants');
  }
  const logger = createLogger(env.LOG_LEVEL ?? 'warn');
  const client = createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, logger });
  const result = await ensureRecordingEnabled({ client, dryRun: args.flags['dry-run'] === true, logger, serverRetries });
  process.stdout.write(`${args.flags.json ? JSON.stringify(result, null, 2) : formatEnsureRecordingTable(result)}\n`);
  return result.summary.failed > 0 || !result.complete ? 1 : 0;
}

export const vapiCommand: ExtraCommand = {
  name: 'vapi',
  usage:
    'vapi ensure-recording [--dry-run] [--json] [--server-retries N]   turn recording on for every Vapi assistant (VAPI_API_KEY); N: also set server.backoffPlan\n' +
    `  ${VAPI_BACKFILL_USAGE}`,
  run: (args) => runVapiCommand(args),
};
