import { randomUUID } from 'node:crypto';
import { callPrivacyOf, checkReason, type CallPrivacyState } from '../../commands/callPrivacy.ts';
import { decideErase, erasureOutcome } from '../../commands/erasure.ts';
import { executePrivacyCommand } from '../../commands/privacyCommands.ts';
import { callStream } from '../../events/catalog.ts';
import { createKeyring } from '../../privacy/keyring.ts';
import { loadMasterKey } from '../../privacy/masterKey.ts';
import { createErasureProcess } from '../../processes/erasure.ts';
import { createStorageFromConfig } from '../../storage/factory.ts';
import { CALL_ID_RE } from '../../vapi/messages.ts';
import { createVapiClient } from '../../vapi/restClient.ts';
import { flag, stringOption, UsageError, type CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';

/** Plain text of an erasure's outcome. */
export function formatErasure(state: CallPrivacyState, already: boolean, vapiConfigured: boolean): string {
  const o = erasureOutcome(state);
  const lines = [
    `call ${o.callId} ${already ? 'was already erased' : 'erased'}: ${o.erasedAt} by ${o.erasedBy} (reason: ${o.reason})`,
    o.completed
      ? `  done: ${o.keysDestroyed} key(s) destroyed, ${o.eventsRewritten} event(s) rewritten, ${o.objectsDeleted} recording object(s) deleted`
      : `  NOT DONE: a step failed; the service's erasure process tries again${o.retryAt ? ` at ${o.retryAt}` : ''} (see callrec history ${o.callId})`,
    vapiConfigured ? `  Vapi's copy: ${o.vapi.replace('_', ' ')}` : "  Vapi's copy: not asked (VAPI_API_KEY is not set)",
  ];
  return lines.join('\n');
}

/**
 * `callrec erase <callId> --reason TEXT [--yes]`: appends CallErased (actor `cli:<user>`) and runs the erasure
 * steps at once (keys, plaintext, recording objects; Vapi's copy when VAPI_API_KEY is set). Asks on a terminal;
 * without one it needs --yes. Exit 0 when the erasure is complete (also when it was complete before), 1 when
 * the call is unknown, held, the user said no, or a step failed (the service's erasure process retries it).
 */
export const eraseCommand: CliCommand = {
  name: 'erase',
  summary: "erase a call's personal data: transcript, summary, caller number, recording (asks first; the audit stays)",
  usage: '<callId> --reason TEXT [--yes] [--json]',
  details:
    "Appends CallErased with the reason and you (cli:$USER) as actor, destroys the call's data keys, rewrites the\n" +
    'plaintext personal fields of its older events to [erased] and deletes its recording object(s); with VAPI_API_KEY\n' +
    "Vapi is asked to delete its copy too. A call under a legal hold is refused until it is released. Running it again\n" +
    'on an erased call writes nothing. On a terminal it asks first; without one (cron, CI) it erases only with --yes.',
  positionals: [{ name: 'a call id', required: true }],
  options: {
    reason: { type: 'string', value: 'TEXT', description: 'why the call is erased (required; kept in the audit trail)' },
    yes: { type: 'boolean', short: 'y', description: 'erase without asking (needed when there is no terminal)' },
    json: { type: 'boolean', description: 'print the outcome as JSON' },
  },
  async run(args, ctx) {
    const callId = args.positionals[0]!;
    if (!CALL_ID_RE.test(callId)) throw new UsageError(`call id ${JSON.stringify(callId)} is not valid (letters, digits, - and _)`);
    const reason = checkReason(stringOption(args, 'reason', true));
    if (!reason.ok) throw new UsageError(`--${reason.error.message}`);
    const ask = !flag(args, 'yes');
    if (ask && !ctx.interactive) {
      throw new UsageError('erase deletes personal data for good and there is no terminal to confirm on: pass --yes to erase');
    }
    return withRuntime(
      async ({ config, database, store, logger }) => {
        const before = callPrivacyOf(callId, await store.readStream(callStream(callId)));
        if (before.orgId === null) {
          ctx.err(`no call ${callId}`);
          return 1;
        }
        if (ask && !before.erased && !before.held) {
          const question = `Erase call ${callId} of org ${before.orgId}: its transcript, summary, caller number and recording, for good?`;
          if (!(await ctx.confirm(question))) {
            ctx.out('cancelled: nothing was erased or written');
            return 1;
          }
        }
        const cmd = { callId, orgId: null, actor: `cli:${ctx.env.USER ?? 'unknown'}`, correlationId: randomUUID(), now: new Date(), reason: reason.reason };
        const { decision } = await executePrivacyCommand(store, callId, (s) => decideErase(cmd, s));
        if (!decision.ok) {
          ctx.err(decision.error.message);
          return 1;
        }
        const keyring = createKeyring(database, await loadMasterKey(config));
        const { storage } = await createStorageFromConfig(config, { publicBaseUrl: config.publicBaseUrl });
        const erasure = createErasureProcess({
          database,
          store,
          storage,
          keyring,
          vapi: config.VAPI_API_KEY ? createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, logger, maxRetries: 2 }) : undefined,
          retry: { delaysMinutes: config.UPLOAD_RETRY_DELAYS_MIN, maxRetries: config.UPLOAD_RETRY_MAX },
          pollSeconds: config.UPLOAD_RETRY_POLL_SECONDS,
          instanceId: config.instanceId,
          logger,
        });
        const after = await erasure.run(callId);
        ctx.out(flag(args, 'json') ? JSON.stringify({ ...erasureOutcome(after), alreadyErased: decision.already }, null, 2) : formatErasure(after, decision.already, Boolean(config.VAPI_API_KEY)));
        return after.completed ? 0 : 1;
      },
      {},
      ctx.env,
    );
  },
};
