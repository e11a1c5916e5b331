import type { CliCommand } from '../command.ts';
import { vapiBackfillCommand } from './vapiBackfill.ts';
import { ensureRecordingCommand } from './vapiEnsureRecording.ts';

/** `callrec vapi <command>`: works with Vapi's REST API (VAPI_API_URL, VAPI_API_KEY). One file per subcommand. */
export const vapiCommand: CliCommand = {
  name: 'vapi',
  summary: "work with Vapi's API (VAPI_API_KEY)",
  usage: '<command> [options]',
  subcommands: [ensureRecordingCommand, vapiBackfillCommand],
};
