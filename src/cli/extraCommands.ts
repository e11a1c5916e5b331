import type { ParsedArgs } from './args.ts';
import { sweepCommand } from './sweep.ts';
import { tokenCommand } from './token.ts';
import { vapiCommand } from './vapi.ts';
import { migrateEventsCommand } from './migrateEvents.ts';

/** Commands contributed by other modules (token, sweep, vapi, migrate-events). */
export interface ExtraCommand {
  name: string;
  usage: string;
  run(args: ParsedArgs): Promise<number>;
}

export const extraCommands: ExtraCommand[] = [tokenCommand, sweepCommand, vapiCommand, migrateEventsCommand];
