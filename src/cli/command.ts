import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { createProgress, type Progress, type ProgressOptions } from './progress.ts';

/**
 * One type for every `callrec` command: its name, a one-line summary, its usage, the options it accepts and
 * what it runs. Arguments are parsed strictly (`node:util` parseArgs): an unknown option, a typo or a value
 * given to a flag is a usage error (exit 2) before anything is opened. A command with subcommands
 * (`orgs`, `vapi`) dispatches to them; `--help`/`-h` prints the usage of whatever it follows and exits 0.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the usage (`--org ORG`). */
  value?: string;
  description: string;
}

export interface ParsedCommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface CliContext {
  env: Record<string, string | undefined>;
  /** Writes a line to stdout (the command's result). */
  out(text: string): void;
  /** Writes a line to stderr (notes, warnings, prompts). */
  err(text: string): void;
  /** Both stdin and stderr are a terminal: the user can be asked. */
  interactive: boolean;
  /** Asks a yes/no question on the terminal; false unless the answer is y or yes. */
  confirm(question: string): Promise<boolean>;
  /** A progress display on stderr: a bar on a terminal, a line every few seconds otherwise. */
  progress(opts: ProgressOptions): Progress;
}

export interface CliCommand {
  name: string;
  /** One line for `callrec --help`. */
  summary: string;
  /** The synopsis after the command's name, e.g. `[--dry-run] [--yes] [--json]` for sweep. */
  usage: string;
  /** More lines for `callrec <command> --help`. */
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments, in order (none when absent). */
  positionals?: Array<{ name: string; required: boolean }>;
  subcommands?: CliCommand[];
  run?(args: ParsedCommandArgs, ctx: CliContext): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The value of a string option; a required one that is missing or empty is a usage error. */
export function stringOption(args: ParsedCommandArgs, name: string, required: true): string;
export function stringOption(args: ParsedCommandArgs, name: string, required?: false): string | undefined;
export function stringOption(args: ParsedCommandArgs, name: string, required = false): string | undefined {
  const v = args.values[name];
  if (typeof v === 'string' && v !== '') return v;
  if (v === '') throw new UsageError(`--${name} needs a value`);
  if (required) throw new UsageError(`--${name} is required`);
  return undefined;
}

export const flag = (args: ParsedCommandArgs, name: string): boolean => args.values[name] === true;

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'print this help and exit' };

/** The help text of `command` (its path is e.g. `callrec vapi`). */
export function formatUsage(command: CliCommand, path: string): string {
  const lines = [`Usage: ${path} ${command.usage}`.trimEnd(), '', command.summary];
  if (command.details) lines.push('', command.details);
  if (command.subcommands?.length) {
    lines.push('', 'Commands:');
    lines.push(...listCommands(command.subcommands));
    lines.push('', `Run ${path} <command> --help for the options of each.`);
  }
  const options = Object.entries({ ...(command.options ?? {}), help: HELP });
  const label = ([name, o]: [string, OptionSpec]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...options.map((o) => label(o).length));
  lines.push('', 'Options:', ...options.map((o) => `  ${label(o).padEnd(width)}   ${o[1].description}`));
  return lines.join('\n');
}

/** `name usage   summary` lines, aligned. */
export function listCommands(commands: CliCommand[]): string[] {
  const synopsis = (c: CliCommand) => `${c.name} ${c.usage}`.trimEnd();
  const width = Math.min(60, Math.max(...commands.map((c) => synopsis(c).length)));
  return commands.map((c) => (synopsis(c).length > width ? `  ${synopsis(c)}
  ${''.padEnd(width)}   ${c.summary}` : `  ${synopsis(c).padEnd(width)}   ${c.summary}`));
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

function closest(given: string, known: string[]): string | undefined {
  const scored = known.map((k) => [k, editDistance(given, k)] as const).sort((x, y) => x[1] - y[1]);
  return scored[0] && scored[0][1] <= 2 ? scored[0][0] : undefined;
}

/** parseArgs' errors, reworded: which argument is wrong, and what was probably meant. */
function usageErrorFrom(err: unknown, command: CliCommand, path: string): UsageError {
  const e = err as NodeJS.ErrnoException;
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  const hint = `(see ${path} --help)`;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const names = Object.keys(command.options ?? {});
      const guess = closest(quoted.replace(/^-+/, '').split('=')[0]!, names);
      return new UsageError(`unknown option ${quoted} for ${path}${guess ? `; did you mean --${guess}?` : ''} ${hint}`);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = quoted.split(' ')[0]!;
      const spec = command.options?.[name.replace(/^-+/, '')];
      if (spec?.type === 'boolean') return new UsageError(`${name} is a flag and takes no value (write ${name}, not ${name}=…) ${hint}`);
      return new UsageError(`${name} needs a value${spec?.value ? ` (${name} ${spec.value})` : ''} ${hint}`);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument ${JSON.stringify(quoted)} for ${path} ${hint}`);
    default:
      return new UsageError(`${e.message} ${hint}`);
  }
}

/** Parses `argv` for `command` (strictly) and runs it, or its subcommand; returns the exit code. */
export async function runCommand(command: CliCommand, argv: string[], ctx: CliContext, path = `callrec ${command.name}`): Promise<number> {
  if (command.subcommands) {
    const [first, ...rest] = argv;
    if (first === '--help' || first === '-h' || first === 'help') {
      ctx.out(formatUsage(command, path));
      return 0;
    }
    const sub = command.subcommands.find((s) => s.name === first);
    if (!sub) {
      const names = command.subcommands.map((s) => s.name);
      if (first === undefined || first.startsWith('-')) throw new UsageError(`${path} needs a command: ${names.join(', ')} (see ${path} --help)`);
      const guess = closest(first, names);
      throw new UsageError(`unknown command ${JSON.stringify(first)} for ${path}${guess ? `; did you mean ${guess}?` : ''} (known: ${names.join(', ')})`);
    }
    return runCommand(sub, rest, ctx, `${path} ${sub.name}`);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries({ ...(command.options ?? {}), help: HELP }).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }])),
      strict: true,
      allowPositionals: (command.positionals?.length ?? 0) > 0,
    });
  } catch (err) {
    throw usageErrorFrom(err, command, path);
  }
  if (parsed.values.help === true) {
    ctx.out(formatUsage(command, path));
    return 0;
  }
  const specs = command.positionals ?? [];
  if (parsed.positionals.length > specs.length) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[specs.length])} for ${path} (see ${path} --help)`);
  const missing = specs.slice(parsed.positionals.length).find((p) => p.required);
  if (missing) throw new UsageError(`${path} needs ${missing.name}: ${path} ${command.usage}`);
  return command.run!({ values: parsed.values as ParsedCommandArgs['values'], positionals: parsed.positionals }, ctx);
}

/** The context of a real run: process streams, a prompt on the terminal, progress on stderr. */
export function processContext(env: Record<string, string | undefined> = process.env): CliContext {
  const line = (s: string) => (s.endsWith('\n') ? s : `${s}\n`);
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const intervalMs = env.CALLREC_PROGRESS_INTERVAL_MS !== undefined ? Number(env.CALLREC_PROGRESS_INTERVAL_MS) : undefined;
  return {
    env,
    out: (s) => process.stdout.write(line(s)),
    err: (s) => process.stderr.write(line(s)),
    interactive,
    async confirm(question) {
      if (!interactive) return false;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
    progress: (opts) => createProgress({ stream: process.stderr, tty: Boolean(process.stderr.isTTY), ...(Number.isFinite(intervalMs) ? { intervalMs } : {}), ...opts }),
  };
}
