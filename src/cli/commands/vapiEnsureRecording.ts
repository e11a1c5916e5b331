import { ensureRecordingEnabled, formatEnsureRecordingTable } from '../../vapi/ensureRecording.ts';
import { flag, type CliCommand } from '../command.ts';
import { vapiClientFromEnv } from '../vapiClient.ts';

/**
 * `callrec vapi ensure-recording [--dry-run] [--json]`: turns `artifactPlan.recordingEnabled` on for every Vapi
 * assistant. Exit 0 when every assistant records, 1 when any update failed or the listing stopped early, 2 on a
 * usage or configuration problem.
 */
export const ensureRecordingCommand: CliCommand = {
  name: 'ensure-recording',
  summary: 'turn artifactPlan.recordingEnabled on for every Vapi assistant (VAPI_API_KEY)',
  usage: '[--dry-run] [--json]',
  options: {
    'dry-run': { type: 'boolean', description: 'list what would change, change nothing' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args, ctx) {
    const { client, logger } = vapiClientFromEnv(ctx.env, 'list and update assistants');
    const result = await ensureRecordingEnabled({ client, dryRun: flag(args, 'dry-run'), logger });
    ctx.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : formatEnsureRecordingTable(result));
    return result.summary.failed > 0 || !result.complete ? 1 : 0;
  },
};
