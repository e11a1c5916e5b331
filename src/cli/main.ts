#!/usr/bin/env node
import { ConfigError } from '../config.ts';
import { listCommands, processContext, runCommand, UsageError, type CliContext } from './command.ts';
import { commands } from './commands/index.ts';

/** `callrec <command> …`: finds the command and hands it the rest of the arguments. Exit 2 on a usage or configuration error. */

const usage = `callrec — the call-recording backbone for Vapi voice agents

Usage: callrec <command> [options]

${listCommands(commands).join('\n')}

Run callrec <command> --help for the options of a command. Configuration comes from the environment (see README);
with no DATABASE_URL the embedded database under DATA_DIR (default ./data) is used, which only one process may
open at a time.`;

async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    ctx.out(usage);
    return 0;
  }
  if (name === undefined) {
    ctx.err(usage);
    return 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; run callrec --help`);
  return runCommand(command, rest, ctx);
}

main(process.argv.slice(2), processContext()).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`callrec: ${(err as Error).message}\n`);
    process.exit(err instanceof UsageError || err instanceof ConfigError ? 2 : 1);
  },
);
