import type { CliCommand } from '../command.ts';
import { callHistory, formatHistory } from '../history.ts';
import { withRuntime } from '../runtime.ts';

export const historyCommand: CliCommand = {
  name: 'history',
  summary: 'every event of a call in order (auditors); signed URLs redacted, source recording URLs withheld; exit 1 when the call has none',
  usage: '<callId> [--json]',
  positionals: [{ name: 'a call id', required: true }],
  options: { json: { type: 'boolean', description: 'print the events as JSON' } },
  async run(args, ctx) {
    const callId = args.positionals[0]!;
    return withRuntime(
      async ({ store }) => {
        const events = await callHistory(store, callId);
        ctx.out(args.values.json ? JSON.stringify(events, null, 2) : formatHistory(callId, events));
        return events.length === 0 ? 1 : 0;
      },
      {},
      ctx.env,
    );
  },
};
