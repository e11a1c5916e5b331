import { ensureRecordingEnabled, formatEnsureRecordingTable } from '../../vapi/ensureRecording.ts';
import { MAX_SERVER_RETRIES } from '../../vapi/serverBackoff.ts';
import { flag, stringOption, UsageError, type CliCommand } from '../command.ts';
import { vapiClientFromEnv } from '../vapiClient.ts';

/**
 * `callrec vapi ensure-recording [--dry-run] [--json] [--server-retries N]`: turns `artifactPlan.recordingEnabled`
 * on for every Vapi assistant; with `--server-retries N` (opt-in) also sets each assistant's `server.backoffPlan` to
 * exponential retries, keeping its other `server` fields. Exit 0 when every assistant records, 1 when any update
 * failed or the listing stopped early, 2 on a usage or configuration problem.
 */
export const ensureRecordingCommand: CliCommand = {
  name: 'ensure-recording',
  summary: 'turn artifactPlan.recordingEnabled on for every Vapi assistant (VAPI_API_KEY)',
  usage: '[--dry-run] [--json] [--server-retries N]',
  options: {
    'dry-run': { type: 'boolean', description: 'list what would change, change nothing' },
    json: { type: 'boolean', description: 'print the result as JSON' },
    'server-retries': { type: 'string', value: 'N', description: `also set server.backoffPlan to N exponential retries (0–${MAX_SERVER_RETRIES})` },
  },
  async run(args, ctx) {
    const serverRetries = readServerRetries(stringOption(args, 'server-retries'));
    const { client, logger } = vapiClientFromEnv(ctx.env, 'list and update assistants');
    const result = await ensureRecordingEnabled({ client, dryRun: flag(args, 'dry-run'), logger, serverRetries });
    ctx.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : formatEnsureRecordingTable(result));
    return result.summary.failed > 0 || !result.complete ? 1 : 0;
  },
};

/** `--server-retries N`: undefined when not given, else a whole number 0..MAX_SERVER_RETRIES. */
function readServerRetries(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > MAX_SERVER_RETRIES) {
    throw new UsageError(`--server-retries must be a whole number from 0 to ${MAX_SERVER_RETRIES} (got ${JSON.stringify(v)})`);
  }
  return Number(v);
}
