import { listOrgMappings, ORG_ID_RE, removeOrgMapping, setOrgMapping, type MappingKind } from '../../commands/orgs.ts';
import { readRetentionPolicy, setRetentionPolicy, type RetentionChange } from '../../commands/retention.ts';
import { effectivePolicy, type RetentionPolicy } from '../../processes/retentionDecide.ts';
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

export const MAX_RETENTION_DAYS = 100_000;

/** `--recordings 90`: a whole number of days, or `none` (null: back to the default); anything else names the flag. */
export function retentionDays(args: ParsedCommandArgs, option: 'recordings' | 'transcripts'): number | null | undefined {
  const raw = stringOption(args, option);
  if (raw === undefined) return undefined;
  if (raw === 'none') return null;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_RETENTION_DAYS) {
    throw new UsageError(`--${option} must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}, or "none" for the default (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

const days = (n: number | undefined) => (n === undefined ? 'kept forever' : `${n} days after the call ended`);

function describePolicy(orgId: string, override: { recordingDays: number | null; transcriptDays: number | null } | undefined, defaults: RetentionPolicy): string {
  const overrides = new Map(override ? [[orgId, override]] : []);
  const p = effectivePolicy(orgId, defaults, overrides);
  const source = (own: number | null | undefined, env: string) => (own !== null && own !== undefined ? 'org override' : `default, ${env}`);
  return [
    `org ${orgId}`,
    `  recordings:  ${days(p.recordingDays)} (${source(override?.recordingDays, 'RETENTION_RECORDING_DAYS')})`,
    `  transcripts: ${days(p.transcriptDays)} (${source(override?.transcriptDays, 'RETENTION_TRANSCRIPT_DAYS')})`,
  ].join('\n');
}

const retention: CliCommand = {
  name: 'retention',
  summary: "set an org's retention of recordings and transcripts (without values: print the policy in force)",
  usage: '--org ORG [--recordings DAYS|none] [--transcripts DAYS|none]',
  details:
    'Days are counted from the end of the call. "none" returns to the deployment\'s default (RETENTION_RECORDING_DAYS /\n' +
    'RETENTION_TRANSCRIPT_DAYS; unset = kept forever). A value not given keeps its current setting. The change is the\n' +
    'event RetentionPolicySet on the stream retention-<org>; the daily retention run applies it.',
  options: {
    org: { type: 'string', value: 'ORG', description: 'your organisation id' },
    recordings: { type: 'string', value: 'DAYS', description: 'days a recording is kept, or none for the default' },
    transcripts: { type: 'string', value: 'DAYS', description: 'days a transcript and summary are kept, or none for the default' },
  },
  async run(args, ctx) {
    const org = stringOption(args, 'org', true);
    if (!ORG_ID_RE.test(org)) throw new UsageError(`--org ${JSON.stringify(org)} must be 1-64 letters, digits, _ or -`);
    const change: RetentionChange = {};
    const recordingDays = retentionDays(args, 'recordings');
    const transcriptDays = retentionDays(args, 'transcripts');
    if (recordingDays !== undefined) change.recordingDays = recordingDays;
    if (transcriptDays !== undefined) change.transcriptDays = transcriptDays;
    return withRuntime(
      async ({ config, store }) => {
        const defaults: RetentionPolicy = { recordingDays: config.RETENTION_RECORDING_DAYS, transcriptDays: config.RETENTION_TRANSCRIPT_DAYS };
        if (recordingDays === undefined && transcriptDays === undefined) {
          const current = await readRetentionPolicy(store, org);
          ctx.out(describePolicy(org, current.override, defaults));
          if (current.setBy) ctx.out(`  (set by ${current.setBy} at ${current.setAt})`);
          return 0;
        }
        const r = await setRetentionPolicy(store, org, change, `cli:${ctx.env.USER ?? 'unknown'}`, new Date());
        if (!r.ok) {
          ctx.err(r.message);
          return 1;
        }
        ctx.out(describePolicy(org, r.override, defaults));
        if (!r.changed) ctx.out('  (unchanged: this is already the policy)');
        return 0;
      },
      {},
      ctx.env,
    );
  },
};

export const orgsCommand: CliCommand = {
  name: 'orgs',
  summary: 'which of your organisations a Vapi assistant / phone number / org belongs to, and how long each keeps its data',
  usage: '<map|unmap|list|retention> [options]',
  subcommands: [map, unmap, list, retention],
};
