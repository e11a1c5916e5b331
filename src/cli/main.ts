#!/usr/bin/env node
import { ConfigError } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { listOrgMappings, removeOrgMapping, setOrgMapping, type MappingKind } from '../commands/orgs.ts';
import { allProjectors } from '../projections/all.ts';
import { rebuildProjection, tableChecksum } from '../projections/rebuild.ts';
import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.ts';
import { callHistory, formatHistory } from './history.ts';
import { withRuntime } from './runtime.ts';
import { extraCommands } from './extraCommands.ts';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

const usage = `callrec — the call-recording backbone for Vapi voice agents

Usage: callrec <command> [options]

  migrate                                   apply database migrations
  history <callId> [--json]                 every event of a call, in order (auditors)
  replay [--projection NAME]                rebuild read models from the log; prints a checksum per table
  orgs map (--assistant ID | --phone-number ID | --vapi-org ID) --org ORG
  orgs unmap (--assistant ID | --phone-number ID | --vapi-org ID)
  orgs list
${extraCommands.map((c) => `  ${c.usage}`).join('\n')}

Configuration comes from the environment (see README); with no DATABASE_URL the embedded database under
DATA_DIR (default ./data) is used, which only one process may open at a time.`;

type Command = (args: ParsedArgs) => Promise<number>;

const commands: Record<string, Command> = {
  async migrate() {
    return withRuntime(async ({ database }) => {
      const applied = await migrate(database);
      out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return 0;
    }, { migrate: false });
  },

  async history(args) {
    const callId = args.positionals[1];
    if (!callId) throw new UsageError('history needs a call id: callrec history <callId> [--json]');
    return withRuntime(async ({ store }) => {
      const events = await callHistory(store, callId);
      if (args.flags.json) out(JSON.stringify(events, null, 2));
      else out(formatHistory(callId, events));
      return events.length === 0 ? 1 : 0;
    });
  },

  async replay(args) {
    const name = stringFlag(args, 'projection');
    const projectors = allProjectors().filter((p) => !name || p.name === name);
    if (projectors.length === 0) {
      throw new UsageError(`unknown projection ${JSON.stringify(name)}; known: ${allProjectors().map((p) => p.name).join(', ')}`);
    }
    return withRuntime(async ({ database, store }) => {
      for (const p of projectors) {
        const r = await rebuildProjection(database.db, store, p);
        const rate = r.ms > 0 ? Math.round((r.events / r.ms) * 1000) : r.events;
        out(`${p.name}: replayed ${r.events} events up to position ${r.position} in ${r.ms} ms (${rate} events/s)`);
        for (const t of p.tables) {
          const c = await tableChecksum(database.db, t);
          out(`  checksum ${t}: ${c.md5} (${c.rows} rows)`);
        }
      }
      return 0;
    });
  },

  async orgs(args) {
    const sub = args.positionals[1];
    const target = (): [MappingKind, string] => {
      const options: Array<[string, MappingKind]> = [['assistant', 'assistant'], ['phone-number', 'phone_number'], ['vapi-org', 'vapi_org']];
      const given = options.filter(([flag]) => args.flags[flag] !== undefined);
      if (given.length !== 1) throw new UsageError('give exactly one of --assistant ID, --phone-number ID, --vapi-org ID');
      const [flag, kind] = given[0]!;
      return [kind, stringFlag(args, flag, true)!];
    };
    return withRuntime(async ({ database }) => {
      if (sub === 'map') {
        const [kind, value] = target();
        const org = stringFlag(args, 'org', true)!;
        await setOrgMapping(database.db, kind, value, org);
        out(`${kind} ${value} → org ${org}`);
        return 0;
      }
      if (sub === 'unmap') {
        const [kind, value] = target();
        out((await removeOrgMapping(database.db, kind, value)) ? `removed ${kind} ${value}` : `no mapping for ${kind} ${value}`);
        return 0;
      }
      if (sub === 'list') {
        const rows = await listOrgMappings(database.db);
        out(rows.length ? rows.map((r) => `${r.kind.padEnd(13)} ${r.value.padEnd(40)} ${r.org_id}`).join('\n') : 'no org mappings (every call goes to DEFAULT_ORG_ID)');
        return 0;
      }
      throw new UsageError('orgs needs a subcommand: map, unmap or list');
    });
  },
};

for (const c of extraCommands) commands[c.name] = c.run;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'dry-run', 'help']);
  const name = args.positionals[0];
  if (!name || args.flags.help || name === 'help') {
    out(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; run callrec --help`);
  return command(args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`callrec: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`callrec: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
