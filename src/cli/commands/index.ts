import type { CliCommand } from '../command.ts';
import { doctorCommand } from './doctor.ts';
import { eraseCommand } from './erase.ts';
import { historyCommand } from './history.ts';
import { migrateCommand } from './migrate.ts';
import { migrateEventsCommand } from './migrateEvents.ts';
import { orgsCommand } from './orgs.ts';
import { replayCommand } from './replay.ts';
import { retentionCommand } from './retention.ts';
import { sweepCommand } from './sweep.ts';
import { tokenCommand } from './token.ts';
import { vapiCommand } from './vapi.ts';

/** Every `callrec` command, in the order `callrec --help` lists them. */
export const commands: CliCommand[] = [
  migrateCommand,
  historyCommand,
  replayCommand,
  orgsCommand,
  tokenCommand,
  sweepCommand,
  eraseCommand,
  retentionCommand,
  vapiCommand,
  migrateEventsCommand,
  doctorCommand,
];
