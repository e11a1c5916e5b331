import { listOrgMappings, removeOrgMapping, setOrgMapping, type MappingKind } from '../../commands/orgs.ts';
import { stringOption, UsageError, type CliCommand, type OptionSpec, type ParsedCommandArgs } from '../command.ts';
import { withRuntime } from '../runtime.ts';

const TARGETS: Array<[string, MappingKind]> = [['assistant', 'assistant'], ['phone-number', 'phone_number'], ['vapi-org', 'vapi_org']];
const targetOptions: Record<string, OptionSpec> = {
  assistant: { type: 'string', value: 'ID', description: 'a Vapi assistant id' },
  'phone-number': { type: 'string', value: 'ID', description: 'a Vapi phone number id' },
  'vapi-org': { type: 'string', value: 'ID', description: 'a Vapi org id' },
};

function target(args: ParsedCommandArgs): [MappingKind, string] {
  const given = TARGETS.filter(([option]) => args.values[option] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --assistant ID, --phone-number ID, --vapi-org ID');
  const [option, kind] = given[0]!;
  return [kind, stringOption(args, option, true)];
}

const map: CliCommand = {
  name: 'map',
  summary: 'send the calls of a Vapi assistant, number or org to one of your orgs',
  usage: '(--assistant ID | --phone-number ID | --vapi-org ID) --org ORG',
  options: { ...targetOptions, org: { type: 'string', value: 'ORG', description: 'your organisation id' } },
  async run(args, ctx) {
    const [kind, value] = target(args);
    const org = stringOption(args, 'org', true);
    return withRuntime(
      async ({ database }) => {
        await setOrgMapping(database.db, kind, value, org);
        ctx.out(`${kind} ${value} → org ${org}`);
        return 0;
      },
      {},
      ctx.env,
    );
  },
};

const unmap: CliCommand = {
  name: 'unmap',
  summary: 'remove a mapping (its calls go to DEFAULT_ORG_ID again)',
  usage: '(--assistant ID | --phone-number ID | --vapi-org ID)',
  options: targetOptions,
  async run(args, ctx) {
    const [kind, value] = target(args);
    return withRuntime(
      async ({ database }) => {
        ctx.out((await removeOrgMapping(database.db, kind, value)) ? `removed ${kind} ${value}` : `no mapping for ${kind} ${value}`);
        return 0;
      },
      {},
      ctx.env,
    );
  },
};

const list: CliCommand = {
  name: 'list',
  summary: 'every mapping',
  usage: '',
  async run(_args, ctx) {
    return withRuntime(
      async ({ database }) => {
        const rows = await listOrgMappings(database.db);
        ctx.out(rows.length ? rows.map((r) => `${r.kind.padEnd(13)} ${r.value.padEnd(40)} ${r.org_id}`).join('\n') : 'no org mappings (every call goes to DEFAULT_ORG_ID)');
        return 0;
      },
      {},
      ctx.env,
    );
  },
};

export const orgsCommand: CliCommand = {
  name: 'orgs',
  summary: 'which of your organisations a Vapi assistant / phone number / org belongs to',
  usage: '<map|unmap|list> [options]',
  subcommands: [map, unmap, list],
};
